"""The notification object, built in one place for the live event and REST.

``{"id", "kind", "room", "room_name", "message", "actor", "read_at", "created_at"}``:
``room`` is the room id like everywhere else in the contract; ``room_name``
lets a notification centre render an entry without another request (empty
for direct rooms, whose name is the other person: ``actor``). ``message`` is
the message summary of ``core.publishing.message_summary`` (id, seq, sender,
kind, body cut to 200 characters, deleted, created_at), so building it never
costs a query for reactions or attachments.
"""

from __future__ import annotations

from typing import Any

from chat.payloads import message_summary
from core.payloads import iso, user_payload

from .models import Notification


def notification_payload(
    notification: Notification,
    *,
    message: dict[str, Any] | None = None,
    actor: dict[str, Any] | None = None,
    room_name: str | None = None,
) -> dict[str, Any]:
    """The payload of one notification.

    ``message``, ``actor`` and ``room_name`` may be passed already built when
    many notifications share them (every recipient of one message), so they
    are built once; otherwise they come from the (select_related) relations.
    """
    if message is None and notification.message_id is not None:
        message = message_summary(notification.message)
    if actor is None and notification.actor_id is not None:
        actor = user_payload(notification.actor)
    if room_name is None:
        room_name = notification.room.name if notification.room_id is not None else ""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "room": notification.room_id,
        "room_name": room_name,
        "message": message,
        "actor": actor,
        "read_at": iso(notification.read_at),
        "created_at": iso(notification.created_at),
    }
