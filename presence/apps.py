from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"

    def ready(self) -> None:
        from . import events  # noqa: F401  (registers this app's wire events: core.events)
