"""Payload builders of chat's objects (message, room, member).

One builder per object: REST responses and WebSocket events both come from
these, so the two transports cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from core.payloads import iso, user_payload
from uploads.models import Upload
from uploads.payloads import upload_payload

from .models import Message, MessageEdit, Reaction, Room, RoomInvite, RoomMember


def message_payloads(messages: Iterable[Message], *, fresh: bool = False) -> list[dict[str, Any]]:
    """Payloads for messages, with reactions and attachments in two queries in all.

    ``fresh`` says the messages were just created, so they have neither
    reactions nor attachments beyond what the caller attached itself
    (``_prefetched_attachments``), and no query is needed.
    """
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
        **thread_fields(message),
        "system": None if deleted else message.system,
        "sender_name": message.sender_name or None,
    }


def thread_fields(message: Message) -> dict[str, Any]:
    """A message's place in threads: the root it replies in (``thread_root``), whether that reply
    is also shown in the room (``also_to_room``), and, for a root with replies, its summary."""
    return {
        "thread_root": message.thread_root_id,
        "also_to_room": message.also_to_room,
        "thread_summary": thread_summary(message),
    }


def thread_summary(root: Message) -> dict[str, Any] | None:
    """``{"replies", "last_reply_at", "participants"}`` of a root, from its denormalised columns.
    None without replies."""
    if not root.thread_reply_count:
        return None
    return {
        "replies": root.thread_reply_count,
        "last_reply_at": iso(root.thread_last_reply_at),
        "participants": list(root.thread_participants),
    }


# --- What changed in a message, for its room ------------------------------------------
# A change reaches every socket of the room: these carry what changed, never the whole
# message again (a reaction to a 10,000-character message is not 25 KiB per socket).


def message_edit_payload(message: Message) -> dict[str, Any]:
    """``message_edited``: the new body, rendered, and when."""
    return {
        "room": message.room_id,
        "message": message.id,
        "seq": message.seq,
        "body": message.body,
        "body_html": message.body_html,
        "edited_at": iso(message.edited_at),
    }


def pin_payload(message: Message) -> dict[str, Any]:
    """``message_pinned`` / ``message_unpinned``: the pin as it is now (null by and at once unpinned)."""
    return {
        "room": message.room_id,
        "message": message.id,
        "seq": message.seq,
        "pinned_by": message.pinned_by_id if message.pinned else None,
        "pinned_at": iso(message.pinned_at) if message.pinned else None,
    }


def reaction_change_payload(message: Message, emoji: str, user_id: int, count: int) -> dict[str, Any]:
    """``reaction_added`` / ``reaction_removed``: who, which emoji, and how many have it now."""
    return {"room": message.room_id, "message": message.id, "emoji": emoji, "user": user_id, "count": count}


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


def edit_payload(edit: MessageEdit) -> dict[str, Any]:
    """A body a message had before an edit replaced it, and when it was replaced."""
    return {"body": edit.body, "edited_at": iso(edit.edited_at)}


def room_invite_payload(invite: RoomInvite, url: str) -> dict[str, Any]:
    """A room invitation as its admins see it; ``url`` is the absolute link of its page (the caller's host)."""
    return {
        "code": invite.code,
        "url": url,
        "room": invite.room_id,
        "expires_at": iso(invite.expires_at),
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "created_by": user_payload(invite.created_by),
    }
