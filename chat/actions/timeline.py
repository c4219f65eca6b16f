"""Timeline events: "Ann joined", "Cat added Dan", "the room was renamed", as messages of kind ``system``.

They take the room's next seq through the send path's insert, in the same
transaction as the change they record, so history, ``sync`` and unread counts
treat them like any other message and a client never sees the change without
its line (nor the line without the change). The body is plain text in English;
``system`` carries the event and the ids for clients that word it themselves.
They never notify (``notifications.triggers.message_may_notify`` says no to
kind ``system``) and cannot be edited, reacted to or pinned.
"""

from __future__ import annotations

import html
from typing import Any

from django.utils import timezone

from chat.models import Message, Room, RoomMember
from chat.payloads import message_payloads
from core.errors import forbidden
from core.publishing import publish, room_group
from notifications.actions import notify_for_message

from .send import _insert_message

JOINED, LEFT, ADDED, REMOVED, RENAMED = "joined", "left", "added", "removed", "renamed"
PROMOTED, DEMOTED = "promoted", "demoted"  # a member made an admin, an admin made a member


def system_text(event: str, actor: Any = None, target: Any = None, name: str = "") -> str:
    """The English line of a timeline event (clients may word ``system`` their own way)."""
    actor_name = _name(actor) if actor is not None else "Someone"
    target_name = _name(target) if target is not None else "someone"
    if event == JOINED:
        return f"{actor_name} joined"
    if event == LEFT:
        return f"{actor_name} left"
    if event == ADDED:
        return f"{actor_name} added {target_name}"
    if event == REMOVED:
        # A moderator outside the room removes too: the room is told who did it.
        return f"{actor_name} removed {target_name}"
    if event == RENAMED:
        return f"{actor_name} renamed the room to {name}"
    if event == PROMOTED:
        return f"{actor_name} made {target_name} an admin"
    if event == DEMOTED:
        if actor is not None and target is not None and actor.id == target.id:
            return f"{actor_name} stepped down as admin"
        return f"{actor_name} removed {target_name} as admin"
    raise ValueError(f"unknown timeline event {event!r}")


def do_record_timeline_event(
    room: Room, event: str, *, actor: Any = None, target: Any = None, name: str | None = None
) -> Message:
    """Insert the system message of ``event`` with the room's next seq and publish ``new_message`` after commit.

    Call INSIDE the transaction of the change it records. The actor's read mark
    moves to it (they know what they did); nobody is notified.
    """
    body = system_text(event, actor, target, name or "")
    now = timezone.now()
    message = Message(
        room=room,
        sender=None,
        kind=Message.Kind.SYSTEM,
        body=body,
        body_html=f"<p>{html.escape(body)}</p>",
        system={
            "event": event,
            "actor": actor.id if actor is not None else None,
            "target": target.id if target is not None else None,
            "name": name if event == RENAMED else None,
        },
        created_at=now,
        updated_at=now,
    )
    actor_membership = (
        RoomMember.objects.filter(room=room, user=actor).values_list("pk", flat=True).first() if actor else None
    )
    _insert_message(message, actor_membership)
    room.last_seq = message.seq  # what the caller answers or publishes next shows the room as it now is
    payload = message_payloads([message], fresh=True)[0]
    publish(room_group(room.id), "new_message", {"message": payload}, seq=message.seq)
    # The trigger rules decide, as for every message: kind system never notifies.
    notify_for_message(message, mentioned_user_ids=set(), mentions_room=False)
    return message


def refuse_system_message(message: Message, what: str) -> None:
    """Timeline lines are the server's record: nobody edits, reacts to or pins them."""
    if message.kind == Message.Kind.SYSTEM:
        raise forbidden(f"System messages cannot be {what}.")


def _name(user: Any) -> str:
    return getattr(user, "display_name", "") or user.username
