"""Who may reach a room or a message, and the record of moderator power.

The ``check_*`` functions of every topic start here: a room the caller is in,
a message the caller may see. Neither says whether a hidden thing exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from chat import queries
from chat.models import Message, RoomMember
from chat.permissions import is_moderator
from core.errors import not_found
from core.validation import parse_id

__all__ = ["Audit", "audit_moderator_power", "get_membership", "get_visible_message", "is_moderator"]

# Writes the record of an action inside the action's own transaction; a do_*
# calls it only when it changed something.
Audit = Callable[[], object]

# Sent inside an action's transaction when moderator power, not the caller's
# place in the room, is what allowed it (through REST, the socket or a direct
# call). Arguments: ``actor``, ``action`` (an audit action name) and either
# ``message`` or ``member``. The moderation app writes the audit row; chat
# does not know it exists (apps depend one way: moderation -> chat).
moderator_power_used = Signal()


def audit_moderator_power(actor, action: str, **target: Any) -> Audit:
    """The ``audit`` a chat entry point passes its do_* when moderator power allowed the action."""

    sender = Message if "message" in target else RoomMember

    def send() -> None:
        moderator_power_used.send(sender=sender, actor=actor, action=action, **target)

    return send


def get_membership(user, room_id: Any) -> RoomMember:
    """The caller's membership of a live room (its ``room`` loaded), or ``not_found`` (never say a room exists)."""
    room_id = parse_id(room_id, "room")
    rows = queries.LIVE_MEMBERSHIP_ROWS.rows(room_id, user.pk) if user.pk is not None else []
    if not rows:
        raise not_found("Room")
    return queries.membership_from_row(rows[0], queries.LIVE_MEMBERSHIP_ROWS.database())


def get_visible_message(user, message_id: Any) -> tuple[Message, RoomMember | None]:
    """A message the caller may see (a member of its live room, or a moderator), with the caller's membership."""
    message_id = parse_id(message_id, "message")
    message = Message.objects.select_related("room", "sender").filter(pk=message_id).first()
    if message is None:
        raise not_found("Message")
    membership = RoomMember.objects.filter(room_id=message.room_id, user=user).first()
    if (membership is None or message.room.archived) and not is_moderator(user):
        raise not_found("Message")
    return message, membership
