"""What can make a message notify anyone, and what kind of notification a member gets.

The one place of the trigger rules. ``message_may_notify`` answers without a
query whether a message could notify anybody: ``notify_for_message`` asks it
before reading any membership, and chat's send path asks it to decide whether
a message may skip its transaction (an ordinary group message is one
statement on PostgreSQL). A new trigger written here is therefore always
written inside the message's transaction. Nothing here imports chat's actions.
"""

from __future__ import annotations

from chat.models import Message, Room, RoomMember

from .models import Notification


def message_may_notify(
    message: Message, *, mentioned_user_ids: set[int], mentions_room: bool, edited: bool = False
) -> bool:
    """Whether ``message`` triggers any notification before members' preferences are read.

    Triggers: a ``@username`` mention of someone other than the sender;
    ``@room``/``@here`` (already limited by chat to who may use it); a reply;
    a thread reply (its followers); any message in a direct room. An edit triggers only by mentions it adds.
    Timeline lines (kind ``system``: joined, left, renamed...) never notify.
    """
    if message.kind == Message.Kind.SYSTEM:
        return False
    if mentioned_user_ids - {message.sender_id} or mentions_room:
        return True
    if edited:
        return False
    return (
        message.reply_to_id is not None
        or message.thread_root_id is not None  # the thread's followers
        or message.room.kind == Room.Kind.DIRECT
    )


def notification_kind(
    *,
    notify_level: str,
    muted: bool,
    mentioned: bool,
    mentions_room: bool = False,
    replied_to: bool = False,
    thread_follower: bool = False,
    direct: bool = False,
) -> str | None:
    """The kind of notification one member gets for one message, or None for nothing."""
    if notify_level == RoomMember.NotifyLevel.NONE:
        return None
    if mentioned:
        return Notification.Kind.MENTION
    if muted or notify_level == RoomMember.NotifyLevel.MENTIONS:
        return None
    if mentions_room:
        return Notification.Kind.MENTION
    if replied_to:
        return Notification.Kind.REPLY
    if thread_follower:
        return Notification.Kind.THREAD_REPLY
    if direct:
        return Notification.Kind.DM
    return None
