"""Notifications' wire events: a new notification, and notifications read elsewhere.

Schema written from ``notifications.payloads.notification_payload``;
registered from ``NotificationsConfig.ready()`` (rules in ``core.events``).
"""

from __future__ import annotations

from chat.events import MESSAGE_SUMMARY
from core.events import (
    COUNT,
    ID,
    SERVER,
    STRING,
    TIMESTAMP,
    TO_EACH_MEMBER,
    TO_USER,
    USER,
    array,
    enum,
    nullable,
    obj,
    register,
)

from .models import Notification

NOTIFICATION = obj(
    {
        "id": ID,
        "kind": enum(*Notification.Kind.values),
        "room": nullable(ID),
        "room_name": STRING,
        "message": nullable(MESSAGE_SUMMARY),
        "actor": nullable(USER),
        "read_at": nullable(TIMESTAMP),
        "created_at": TIMESTAMP,
    }
)

register(
    "notification",
    direction=SERVER,
    data=NOTIFICATION,
    description=(
        "You were mentioned, replied to, sent a direct message, or a thread you follow got a reply "
        "(`thread_reply`): the notification object. The notifications "
        "of one message travel in one room broadcast carrying each recipient's own frame."
    ),
    audience=TO_EACH_MEMBER,
)
register(
    "notifications_read",
    direction=SERVER,
    data=obj({"ids": nullable(array(ID)), "read_at": TIMESTAMP, "unread_count": COUNT}),
    description="Notifications were read (`ids`, or null for all), on any connection: clear the badges.",
    audience=TO_USER,
)
