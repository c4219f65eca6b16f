from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"

    def ready(self) -> None:
        # Connects record_moderator_power to chat's moderator_power_used: moderator
        # power used through REST or the socket is audited without chat importing us.
        from . import actions  # noqa: F401
