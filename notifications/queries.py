"""Reads of notifications: the unread count and the notification centre's pages.

Each does a fixed number of queries (two for a page, one for the count).

Only notifications of rooms the user is still a member of are shown or
counted: a payload carries the room's current name and the message's current
text, so a removed member must not read on through them. They are hidden, not
deleted: a member added back sees them again, as they see the room's history.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from chat.models import RoomMember
from core.compiled import CompiledQuery, Read
from core.errors import invalid
from core.validation import optional_id

from .models import Notification
from .payloads import notification_payload

DEFAULT_PAGE_SIZE = 50


def visible_notifications(user) -> QuerySet[Notification]:
    """The user's notifications of rooms they are a member of (and any without a room)."""
    return _visible_to(user.pk)


def _visible_to(user_id: int) -> QuerySet[Notification]:
    member = RoomMember.objects.filter(room_id=OuterRef("room_id"), user_id=user_id)
    return Notification.objects.filter(Q(room__isnull=True) | Q(Exists(member)), recipient_id=user_id)


def _unread_count_rows(user_id: int) -> QuerySet:
    """One row with the count of the user's unread visible notifications (none when there are none)."""
    unread = _visible_to(user_id).filter(read_at__isnull=True)
    return unread.order_by().values("recipient_id").annotate(count=Count("id")).values_list("count")


# Every connect asks (``ready``): compiled once per process (``core.compiled``).
_UNREAD_COUNT = CompiledQuery(_unread_count_rows)


def unread_count_read(user_id: int) -> Read:
    """The read ``unread_notification_count`` makes, for ``core.compiled.read_together``."""
    return _UNREAD_COUNT, (user_id,)


def unread_notification_count(user) -> int:
    rows = _UNREAD_COUNT.rows(user.pk)
    return rows[0][0] if rows else 0


def notification_page(user, *, unread: Any = None, before: Any = None, limit: Any = None) -> dict[str, Any]:
    """A page of the user's notifications, newest first, with the unread count.

    ``unread`` (``1``/``true``) keeps only unread ones; ``before`` (an id)
    pages back from the last id of the previous page, so new notifications
    arriving meanwhile never shift a page; ``has_more`` says an older page exists.
    """
    only_unread = _parse_flag(unread, "unread")
    before_id = optional_id(before, "before")
    page_size = optional_id(limit, "limit") or DEFAULT_PAGE_SIZE
    if page_size > settings.HISTORY_PAGE_MAX:
        raise invalid(f"`limit` must be between 1 and {settings.HISTORY_PAGE_MAX}.")
    notifications = visible_notifications(user).select_related("actor", "room", "message__sender")
    if only_unread:
        notifications = notifications.filter(read_at__isnull=True)
    if before_id is not None:
        notifications = notifications.filter(id__lt=before_id)
    rows = list(notifications.order_by("-id")[: page_size + 1])
    return {
        "notifications": [notification_payload(n) for n in rows[:page_size]],
        "has_more": len(rows) > page_size,
        "unread_count": unread_notification_count(user),
    }


def _parse_flag(value: Any, name: str) -> bool:
    if value in (None, "", "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise invalid(f"`{name}` must be 1 or 0.")
