"""Read marks: a member says how far they have read a room."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chat import queries
from chat.models import RoomMember
from core.errors import invalid
from core.publishing import publish, room_group
from core.ratelimit import take_slots
from notifications.actions import mark_room_notifications_read

from .access import get_membership


def check_mark_as_read(user, room_id: Any, seq: Any) -> tuple[RoomMember, int]:
    """A member's room and a whole ``seq``, capped at the room's last one."""
    membership = get_membership(user, room_id)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise invalid("`seq` must be a whole number.")
    take_slots(user.id, read=1)
    return membership, min(seq, membership.room.last_seq)


def do_mark_as_read(user, membership: RoomMember, seq: int) -> dict[str, Any]:
    """Move the read mark forward (never back) and read the room's notifications up to it;
    broadcasts ``messages_read`` when the mark moved."""
    with transaction.atomic():
        moved = RoomMember.objects.filter(pk=membership.pk, last_read_seq__lt=seq).update(last_read_seq=seq)
        # Even when the mark did not move: a mention added to a read message is read here too.
        mark_room_notifications_read(user, membership.room_id, seq)
        if moved:
            publish(
                room_group(membership.room_id),
                "messages_read",
                {"room": membership.room_id, "user": user.id, "last_read_seq": seq},
            )
    last_read = max(seq, membership.last_read_seq)
    return {
        "room": membership.room_id,
        "last_read_seq": last_read,
        "unread": queries.unread_count(membership.room_id, user.id, last_read),
    }


def mark_as_read(user, room_id: Any, seq: Any) -> dict[str, Any]:
    """Move the caller's read mark forward (never back); broadcasts ``messages_read``."""
    membership, seq = check_mark_as_read(user, room_id, seq)
    return do_mark_as_read(user, membership, seq)
