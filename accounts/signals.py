"""Sessions end whatever path changed the account: admin forms, the shell, commands, the pages.

A password set (``set_password`` then ``save``; Django's hash upgrades at
sign-in are not changes), ``is_active`` going False, and a deleted user each
end the user's sessions through ``accounts.actions``. Sign-out (the page's,
the admin's) closes the sockets opened with that browser session.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from . import actions, profile
from .models import User

# Set on an instance before ``save`` to say why its password changed (a reset, not a change).
PASSWORD_CHANGE_REASON = "session_end_reason"


@receiver(pre_save, sender=User, dispatch_uid="accounts.notice_session_ending_change")
def notice_session_ending_change(sender, instance: User, raw: bool = False, update_fields=None, **kwargs: Any) -> None:
    """Note on the instance why its save must end its sessions, before the save overwrites the old row."""
    instance.__dict__.pop("_ending_sessions", None)
    if raw or instance._state.adding or instance.pk is None:
        return
    saved = update_fields is None or {"password", "is_active"} & set(update_fields)
    if not saved:
        return
    # AbstractBaseUser keeps the raw password set by set_password until saved; a hash upgrade clears it.
    if instance._password is not None and (update_fields is None or "password" in update_fields):
        instance._ending_sessions = getattr(instance, PASSWORD_CHANGE_REASON, actions.PASSWORD_CHANGED)
    elif not instance.is_active and (update_fields is None or "is_active" in update_fields):
        if User.objects.filter(pk=instance.pk, is_active=True).exists():
            instance._ending_sessions = actions.DEACTIVATED


@receiver(post_save, sender=User, dispatch_uid="accounts.end_sessions_after_change")
def end_sessions_after_change(sender, instance: User, created: bool = False, **kwargs: Any) -> None:
    reason = instance.__dict__.pop("_ending_sessions", None)
    if reason is not None:
        actions.do_end_sessions(instance, reason)


@receiver(post_delete, sender=User, dispatch_uid="accounts.close_sockets_of_deleted_user")
def close_sockets_of_deleted_user(sender, instance: User, **kwargs: Any) -> None:
    """A deleted user's tokens and sessions name nobody any more; their open sockets close."""
    actions.close_user_sockets(instance.pk, actions.DELETED)


@receiver(post_delete, sender=User, dispatch_uid="accounts.delete_avatar_of_deleted_user")
def delete_avatar_of_deleted_user(sender, instance: User, **kwargs: Any) -> None:
    """A deleted user's avatar files go with the row, after its commit (the admin, the shell, a command)."""
    profile.delete_avatar_after_commit(instance.avatar_key)


@receiver(user_logged_out, dispatch_uid="accounts.close_sockets_of_signed_out_session")
def close_sockets_of_signed_out_session(sender, request: HttpRequest, user, **kwargs: Any) -> None:
    """Signing out of a page closes the sockets that browser session opened, and only those."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key and user is not None:
        actions.close_session_sockets(user.pk, session_key, actions.SIGNED_OUT)
