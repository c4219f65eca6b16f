"""Reads of notifications: the unread count and the notification centre's pages.

Each does a fixed number of queries (two for a page, one for the count).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.errors import invalid
from core.validation import optional_id

from .models import Notification
from .payloads import notification_payload

DEFAULT_PAGE_SIZE = 50


def unread_notification_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


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
    notifications = Notification.objects.filter(recipient=user).select_related("actor", "room", "message__sender")
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
