from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_delete


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from . import events  # noqa: F401  (registers this app's wire events: core.events)
        from .history_cache import retire_pages_of_user

        # Deleting a user cascades to their reactions and uploads: the rooms' cached pages must retire.
        pre_delete.connect(retire_pages_of_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat.history.user")
