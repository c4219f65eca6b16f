"""Payloads and their publication.

One builder per object (user, message, room): REST responses and WebSocket
events both come from these, so the two transports cannot disagree.

Events are encoded to JSON once, when the action publishes them, and handed
to the channel layer after the transaction commits: every consumer in the
group forwards the same text to its socket without decoding it.
"""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .models import Message, Reaction, Room, RoomMember

FRAME_MESSAGE_TYPE = "chat.frame"
PER_MEMBER_MESSAGE_TYPE = "chat.per_member"
MEMBERSHIP_MESSAGE_TYPE = "chat.membership"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


# --- Payload builders -------------------------------------------------------


def user_payload(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name or user.username,
        "avatar_url": None,
    }


def message_payloads(messages: Iterable[Message], *, fresh: bool = False) -> list[dict[str, Any]]:
    """Payloads for messages, with reactions and attachments in two queries in all.

    ``fresh`` says the messages were just created, so they have neither
    reactions nor attachments beyond what the caller attached itself
    (``_prefetched_attachments``), and no query is needed.
    """
    from uploads.payloads import upload_payload  # uploads depends on chat, not the reverse

    messages = list(messages)
    live_ids = [m.id for m in messages if m.deleted_at is None]
    reactions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    attachments: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if live_ids and not fresh:
        grouped: dict[int, dict[str, list[int]]] = defaultdict(dict)
        for message_id, emoji, user_id in (
            Reaction.objects.filter(message_id__in=live_ids)
            .order_by("id")
            .values_list("message_id", "emoji", "user_id")
        ):
            grouped[message_id].setdefault(emoji, []).append(user_id)
        for message_id, by_emoji in grouped.items():
            reactions[message_id] = [
                {"emoji": emoji, "count": len(users), "users": users} for emoji, users in by_emoji.items()
            ]
        from uploads.models import Upload

        for upload in Upload.objects.filter(message_id__in=live_ids, removed_at__isnull=True).order_by("id"):
            attachments[upload.message_id].append(upload_payload(upload))
    for message in messages:
        prefetched = getattr(message, "_prefetched_attachments", None)
        if prefetched is not None:
            attachments[message.id] = [upload_payload(upload) for upload in prefetched]
    return [message_payload(m, reactions.get(m.id, []), attachments.get(m.id, [])) for m in messages]


def message_payload(
    message: Message,
    reactions: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "room": message.room_id,
        "seq": message.seq,
        "sender": user_payload(message.sender),
        "kind": message.kind,
        "body": "" if deleted else message.body,
        "body_html": "" if deleted else message.body_html,
        "reply_to": message.reply_to_id,
        "attachments": [] if deleted else (attachments or []),
        "reactions": [] if deleted else (reactions or []),
        "pinned": message.pinned and not deleted,
        "edited_at": iso(message.edited_at),
        "deleted": deleted,
        "created_at": iso(message.created_at),
        "client_id": str(message.client_id) if message.client_id else None,
    }


def message_summary(message: Message | None) -> dict[str, Any] | None:
    """The short form of a room's last message, for room lists."""
    if message is None:
        return None
    deleted = message.deleted_at is not None
    return {
        "id": message.id,
        "seq": message.seq,
        "sender": user_payload(message.sender),
        "kind": message.kind,
        "body": "" if deleted else message.body[:200],
        "deleted": deleted,
        "created_at": iso(message.created_at),
    }


def room_payload(
    room: Room,
    membership: RoomMember | None = None,
    *,
    unread: int = 0,
    last_message: Message | None = None,
    members: list[RoomMember] | None = None,
    peer=None,
) -> dict[str, Any]:
    """A room as its caller sees it; ``members`` makes it the detail form.

    ``peer`` is the other user of a direct room, so a client can name the room
    and show a presence dot without fetching its detail.
    """
    payload = {
        "id": room.id,
        "kind": room.kind,
        "name": room.name,
        "topic": room.topic,
        "is_public": room.is_public,
        "members_can_pin": room.members_can_pin,
        "archived": room.archived,
        "last_seq": room.last_seq,
        "last_read_seq": membership.last_read_seq if membership else None,
        "unread": unread if membership else 0,
        "role": membership.role if membership else None,
        "notify_level": membership.notify_level if membership else None,
        "muted": membership.muted if membership else False,
        "last_message": message_summary(last_message),
        "peer": user_payload(peer),
        "created_at": iso(room.created_at),
    }
    if members is not None:
        payload["members"] = [member_payload(m) for m in members]
    return payload


# What a room is for everybody; the rest of room_payload is the caller's own view.
PER_CALLER_ROOM_FIELDS = frozenset({"role", "unread", "last_read_seq", "notify_level", "muted", "last_message", "peer"})


def room_fields(room: Room) -> dict[str, Any]:
    """The room-level fields only, for ``room_updated`` (every member merges them into its own view)."""
    return {key: value for key, value in room_payload(room).items() if key not in PER_CALLER_ROOM_FIELDS}


def member_payload(membership: RoomMember) -> dict[str, Any]:
    return {
        "user": user_payload(membership.user),
        "role": membership.role,
        "joined_at": iso(membership.joined_at),
        "last_read_seq": membership.last_read_seq,
    }


# --- Publication --------------------------------------------------------------

# When set (by the WebSocket consumer around an action), committed events are
# collected here and sent from the consumer's own event loop instead of
# blocking the worker thread on the channel layer.
_outbox: contextvars.ContextVar[list | None] = contextvars.ContextVar("confab_event_outbox", default=None)


def encode_frame(event_type: str, data: dict[str, Any]) -> str:
    return orjson.dumps({"type": event_type, "data": data}).decode()


def publish(
    group: str, event_type: str, data: dict[str, Any], *, exclude_user: int | None = None, seq: int | None = None
) -> None:
    """Send ``event_type`` to ``group`` once the current transaction commits.

    ``seq`` (a new message's) lets each process hand the room's events on in
    seq order when several processes publish into it (config.layers.GroupSequencer).
    """
    message = {"type": FRAME_MESSAGE_TYPE, "frame": encode_frame(event_type, data), "exclude_user": exclude_user}
    if seq is not None:
        message["seq"] = seq
    transaction.on_commit(lambda: deliver_message(group, message))


def publish_to_members(room_id: int, event_type: str, data_by_user: dict[int, dict[str, Any]]) -> None:
    """Send each member of a room its own ``event_type`` frame, in ONE room broadcast.

    Every connection of a member is in the room's group, so one channel-layer
    message carrying a frame per user reaches them all: an ``@room`` in a
    1,000-member room costs one group send, not a thousand.
    """
    if not data_by_user:
        return
    # String keys: the channel layer's msgpack refuses integer map keys.
    frames = {str(user_id): encode_frame(event_type, data) for user_id, data in data_by_user.items()}
    message = {"type": PER_MEMBER_MESSAGE_TYPE, "frames": frames}
    group = room_group(room_id)
    transaction.on_commit(lambda: deliver_message(group, message))


def publish_membership(user_id: int, room_id: int, added: bool, data: dict[str, Any]) -> None:
    """Tell a user's connections to join or leave a room's group, then forward the event."""
    message = {
        "type": MEMBERSHIP_MESSAGE_TYPE,
        "room": room_id,
        "added": added,
        "frame": encode_frame("room_added" if added else "room_removed", data),
    }
    transaction.on_commit(lambda: deliver_message(user_group(user_id), message))


def deliver_message(group: str, message: dict[str, Any]) -> None:
    """Hand ``message`` to the channel layer now (or to the collecting consumer); call it after commit."""
    outbox = _outbox.get()
    if outbox is not None:
        outbox.append((group, message))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def call_collecting_events(function, *args, **kwargs) -> tuple[Any, list]:
    """Run ``function`` and return its result with the events it committed.

    For async callers: run this in a worker thread, then send the events from
    the event loop, so no worker thread waits on the channel layer.
    """
    outbox: list = []
    token = _outbox.set(outbox)
    try:
        return function(*args, **kwargs), outbox
    finally:
        _outbox.reset(token)
