"""Threads: replies to a root message, the root's summary, following and per-thread read marks.

A reply is an ordinary message of the room (it takes the room's next seq, so
``sync`` and ordering need nothing new) that names its root in ``thread_root``;
it stays out of the room's main history unless sent ``also_to_room``. The
root's summary (reply count, last reply time, participants) is denormalised
on the root row and written in the reply's transaction, under the root's row
lock, which the send takes BEFORE the room row (the order an edit or reaction
of the root takes them too: message row, then room row), so concurrent
replies are counted exactly and never deadlock with a change of the root.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from chat.history_cache import note_history_changed
from chat.models import Message, Room, ThreadFollow
from chat.payloads import thread_summary
from chat.thread_queries import thread_unread_count
from core.errors import invalid, not_found
from core.publishing import publish, room_group
from core.ratelimit import take_slots
from core.validation import parse_id

from .access import get_membership

__all__ = [
    "check_thread",
    "follow_thread",
    "lock_thread_root",
    "mark_thread_read",
    "record_thread_reply",
    "thread_root_for",
]


def check_thread(room: Room, thread: Any, also_to_room: Any) -> tuple[int | None, bool]:
    """The root id a send names in ``thread`` (a live, non-system, top-level message of ``room``),
    and its ``also_to_room`` flag. No ``thread``: (None, False)."""
    if also_to_room not in (None, False, True):
        raise invalid("`also_to_room` must be true or false.")
    if thread is None:
        if also_to_room:
            raise invalid("`also_to_room` needs `thread`: only a thread reply can also go to the room.")
        return None, False
    root_id = parse_id(thread, "thread")
    root = Message.objects.filter(pk=root_id, room=room).values("thread_root_id", "deleted_at", "kind").first()
    _refuse_bad_root(root)
    return root_id, bool(also_to_room)


def _refuse_bad_root(root: dict[str, Any] | None) -> None:
    if root is None:
        raise invalid("`thread` is not a message of this room.")
    if root["thread_root_id"] is not None:
        raise invalid("`thread` is a reply: reply in its thread's root instead.")
    if root["deleted_at"] is not None:
        raise invalid("`thread` is a deleted message.")
    if root["kind"] == Message.Kind.SYSTEM:
        raise invalid("`thread` is a system message: it cannot have a thread.")


def lock_thread_root(message: Message) -> Message | None:
    """Inside the send's transaction, before the room row is locked: the reply's root, locked,
    checked again (it may have been deleted since the check). None for a message outside threads."""
    if message.thread_root_id is None:
        return None
    root = (
        Message.objects.select_for_update()
        .only(
            "id",
            "room_id",
            "sender_id",
            "kind",
            "thread_root_id",
            "deleted_at",
            "thread_reply_count",
            "thread_last_reply_at",
            "thread_participants",
        )
        .filter(pk=message.thread_root_id)
        .first()
    )
    _refuse_bad_root(
        None
        if root is None
        else {"thread_root_id": root.thread_root_id, "deleted_at": root.deleted_at, "kind": root.kind}
    )
    return root


def record_thread_reply(root: Message, reply: Message, mentioned_user_ids: set[int]) -> dict[str, Any]:
    """In the reply's transaction, after its row exists: update the root's summary, make the root's
    author, the replier and the mentioned follow the thread, move the replier's thread read mark,
    retire the room's cached history page (it may hold the root) and publish ``thread_updated``.
    Returns the new summary."""
    participants = list(root.thread_participants)
    if reply.sender_id is not None and reply.sender_id not in participants:
        participants.append(reply.sender_id)
    last_reply_at = max(filter(None, [root.thread_last_reply_at, reply.created_at]))
    # F(): exact even if a future path updated the count without this lock.
    Message.objects.filter(pk=root.pk).update(
        thread_reply_count=F("thread_reply_count") + 1,
        thread_last_reply_at=last_reply_at,
        thread_participants=participants,
        updated_at=reply.created_at,  # sync's `changed` carries the root's new summary
    )
    root.thread_reply_count += 1
    root.thread_last_reply_at = last_reply_at
    root.thread_participants = participants

    # The root's author follows from the first reply on, unless they unfollowed (kept).
    if root.sender_id is not None:
        ThreadFollow.objects.bulk_create([ThreadFollow(user_id=root.sender_id, root=root)], ignore_conflicts=True)
    # Replying or being mentioned (re)follows: taking part again is asking to hear about it.
    joined = set(mentioned_user_ids) - {reply.sender_id}
    if joined:
        ThreadFollow.objects.bulk_create(
            [ThreadFollow(user_id=user_id, root=root) for user_id in sorted(joined)],
            update_conflicts=True,
            unique_fields=["user", "root"],
            update_fields=["following"],
        )
    if reply.sender_id is not None:
        # The replier has read the thread up to their own reply (the newest: the root is locked).
        ThreadFollow.objects.bulk_create(
            [ThreadFollow(user_id=reply.sender_id, root=root, last_read_seq=reply.seq)],
            update_conflicts=True,
            unique_fields=["user", "root"],
            update_fields=["following", "last_read_seq"],
        )
    note_history_changed([root.room_id])
    summary = thread_summary(root)
    publish(
        room_group(root.room_id),
        "thread_updated",
        {"room": root.room_id, "message": root.pk, "thread_summary": summary},
    )
    return summary


def thread_root_for(user, message_id: Any) -> Message:
    """A root message of a live room the caller is a member of (``not_found`` otherwise; never say it
    exists), with its room and sender. A reply is ``invalid``: threads are one level deep."""
    message_id = parse_id(message_id, "message")
    root = (
        Message.objects.select_related("room", "sender")
        .filter(pk=message_id, room__archived=False, room__memberships__user=user)
        .first()
    )
    if root is None:
        raise not_found("Message")
    if root.thread_root_id is not None:
        raise invalid(f"Message {root.pk} is a reply: its thread is that of message {root.thread_root_id}.")
    return root


def follow_thread(user, message_id: Any, following: bool) -> None:
    """Follow (``thread_reply`` notifications for each reply) or unfollow a thread."""
    root = thread_root_for(user, message_id)
    take_slots(user.id, follow=1)
    ThreadFollow.objects.bulk_create(
        [ThreadFollow(user=user, root=root, following=following)],
        update_conflicts=True,
        unique_fields=["user", "root"],
        update_fields=["following"],
    )


def mark_thread_read(user, message_id: Any, seq: Any) -> dict[str, Any]:
    """Move the caller's read mark of a thread forward (never back; capped at the room's last seq).
    Reading a thread one does not follow keeps the mark without following it.
    Returns ``{"message": root id, "last_read_seq", "unread"}``."""
    root = thread_root_for(user, message_id)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise invalid("`seq` must be a whole number.")
    seq = min(seq, get_membership(user, root.room_id).room.last_seq)
    take_slots(user.id, read=1)
    with transaction.atomic():
        ThreadFollow.objects.bulk_create([ThreadFollow(user=user, root=root, following=False)], ignore_conflicts=True)
        ThreadFollow.objects.filter(user=user, root=root, last_read_seq__lt=seq).update(last_read_seq=seq)
        last_read = ThreadFollow.objects.filter(user=user, root=root).values_list("last_read_seq", flat=True).get()
    return {"message": root.pk, "last_read_seq": last_read, "unread": thread_unread_count(root.pk, user.id, last_read)}
