"""Chat's wire events: messages, reactions, read marks, members, rooms, ``ready``; and the requests.

Schemas written from the payload builders of ``chat.payloads`` (message,
message summary, room, member) and registered from ``ChatConfig.ready()``
(rules in ``core.events``). Each object is defined once here and referenced
by every event that carries it; notifications reuse the message summary.
"""

from __future__ import annotations

from core.events import (
    BOOLEAN,
    CLIENT,
    COUNT,
    ID,
    SEQ,
    SERVER,
    STRING,
    TIMESTAMP,
    TO_CONNECTION,
    TO_ROOM,
    TO_USER,
    USER,
    array,
    enum,
    nullable,
    obj,
    register,
)
from presence.events import PRESENCE, TYPING
from uploads.events import UPLOAD

from .models import Message, Room, RoomMember
from .payloads import PER_CALLER_ROOM_FIELDS

MESSAGE_KIND = enum(*Message.Kind.values)
ROLE = enum(*RoomMember.Role.values)

REACTION = obj({"emoji": STRING, "count": {"type": "integer", "minimum": 1}, "users": array(ID)})

# ``thread_summary``: a root's replies, the time of the last one, and who replied (first reply first).
THREAD_SUMMARY = obj(
    {"replies": {"type": "integer", "minimum": 1}, "last_reply_at": TIMESTAMP, "participants": array(ID)}
)
# ``Message.system``: what a timeline line (kind ``system``) records, for clients that word it themselves.
SYSTEM_EVENT = obj(
    {
        "event": enum("joined", "left", "added", "removed", "renamed", "promoted", "demoted"),
        "actor": nullable(ID),
        "target": nullable(ID),
        "name": nullable(STRING),
    }
)

# ``message_payload``: a deleted message keeps its place (id, seq...) with its content emptied.
MESSAGE = obj(
    {
        "id": ID,
        "room": ID,
        "seq": SEQ,
        "sender": nullable(USER),
        "kind": MESSAGE_KIND,
        "body": STRING,
        "body_html": STRING,
        "reply_to": nullable(ID),
        "attachments": array(UPLOAD),
        "reactions": array(REACTION),
        "pinned": BOOLEAN,
        "edited_at": nullable(TIMESTAMP),
        "deleted": BOOLEAN,
        "created_at": TIMESTAMP,
        "client_id": nullable(STRING),
        "thread_root": nullable(ID),
        "also_to_room": BOOLEAN,
        "thread_summary": nullable(THREAD_SUMMARY),
        "system": nullable(SYSTEM_EVENT),
        "sender_name": nullable(STRING),
    }
)

# ``message_summary``: a room's last message, a notification's message (body cut to 200 characters).
MESSAGE_SUMMARY = obj(
    {
        "id": ID,
        "seq": SEQ,
        "sender": nullable(USER),
        "kind": MESSAGE_KIND,
        "body": {"type": "string", "maxLength": 200},
        "deleted": BOOLEAN,
        "created_at": TIMESTAMP,
    }
)

# ``member_payload``.
MEMBER = obj({"user": USER, "role": ROLE, "joined_at": TIMESTAMP, "last_read_seq": SEQ})

# ``room_payload``: the room as its caller sees it; ``members`` only in the detail form.
ROOM = obj(
    {
        "id": ID,
        "kind": enum(*Room.Kind.values),
        "name": STRING,
        "topic": STRING,
        "is_public": BOOLEAN,
        "members_can_pin": BOOLEAN,
        "archived": BOOLEAN,
        "last_seq": SEQ,
        "last_read_seq": nullable(SEQ),
        "unread": COUNT,
        "role": nullable(ROLE),
        "notify_level": nullable(enum(*RoomMember.NotifyLevel.values)),
        "muted": BOOLEAN,
        "last_message": nullable(MESSAGE_SUMMARY),
        "peer": nullable(USER),
        "created_at": TIMESTAMP,
        "members": array(MEMBER),
    },
    optional=("members",),
)

# ``room_fields``: what a room is for everybody, without the caller's own view (nor members).
ROOM_FIELDS = obj(
    {
        key: schema
        for key, schema in ROOM["properties"].items()
        if key not in PER_CALLER_ROOM_FIELDS and key != "members"
    }
)

MESSAGE_EVENT = obj({"message": MESSAGE})
# Changes to a message carry what changed, never the whole message again (``chat.payloads``).
MESSAGE_EDIT_EVENT = obj(
    {"room": ID, "message": ID, "seq": SEQ, "body": STRING, "body_html": STRING, "edited_at": TIMESTAMP}
)
PIN_EVENT = obj({"room": ID, "message": ID, "seq": SEQ, "pinned_by": nullable(ID), "pinned_at": nullable(TIMESTAMP)})
REACTION_EVENT = obj({"room": ID, "message": ID, "emoji": STRING, "user": ID, "count": COUNT})

# --- Server events ---------------------------------------------------------------------------

register(
    "ready",
    direction=SERVER,
    data=obj(
        {
            "server_time": TIMESTAMP,
            "user": USER,
            "rooms": array(ROOM),
            "notifications_unread": COUNT,
            "session": STRING,
            "presence": array(PRESENCE),
            "typing": array(TYPING),
        }
    ),
    description=(
        "The connection is authenticated: your rooms, unread notifications, who is online and who types. "
        "Always the first frame after authentication."
    ),
    audience=TO_CONNECTION,
)
register(
    "new_message",
    direction=SERVER,
    data=MESSAGE_EVENT,
    description="A message was sent (to the sender's connections too); in seq order per room.",
    audience=TO_ROOM,
)
register(
    "message_edited",
    direction=SERVER,
    data=MESSAGE_EDIT_EVENT,
    description="Its sender edited a message: the new body (source and rendered) and when; nothing else changed.",
    audience=TO_ROOM,
)
register(
    "message_restored",
    direction=SERVER,
    data=MESSAGE_EVENT,
    description="A moderator restored a deleted message: the whole message, as the room had only its placeholder.",
    audience=TO_ROOM,
)
register(
    "attachment_removed",
    direction=SERVER,
    data=obj({"room": ID, "message": ID, "upload": ID}),
    description="A moderator removed an upload from a message (``uploads.actions.remove_upload``): drop it.",
    audience=TO_ROOM,
)
register(
    "message_deleted",
    direction=SERVER,
    data=obj({"room": ID, "message": ID, "seq": SEQ}),
    description="A message was deleted (soft: it keeps its seq); drop its notifications too.",
    audience=TO_ROOM,
)
register(
    "message_pinned",
    direction=SERVER,
    data=PIN_EVENT,
    description="A message was pinned: by whom (null for a user since deleted) and when.",
    audience=TO_ROOM,
)
register(
    "message_unpinned",
    direction=SERVER,
    data=PIN_EVENT,
    description="A message was unpinned (`pinned_by` and `pinned_at` are null).",
    audience=TO_ROOM,
)
register(
    "reaction_added",
    direction=SERVER,
    data=REACTION_EVENT,
    description="A member reacted: the emoji, who (user id) and how many have that emoji on the message now.",
    audience=TO_ROOM,
)
register(
    "reaction_removed",
    direction=SERVER,
    data=REACTION_EVENT,
    description="A member took a reaction back: the emoji, who (user id) and how many still have it (0: gone).",
    audience=TO_ROOM,
)
register(
    "thread_updated",
    direction=SERVER,
    data=obj({"room": ID, "message": ID, "thread_summary": THREAD_SUMMARY}),
    description="A thread got a reply: its root (`message`, an id) and the root's new `thread_summary`.",
    audience=TO_ROOM,
)
register(
    "messages_read",
    direction=SERVER,
    data=obj({"room": ID, "user": ID, "last_read_seq": SEQ}),
    description="A member's read mark moved forward (read receipts).",
    audience=TO_ROOM,
)
register(
    "member_joined",
    direction=SERVER,
    data=obj({"room": ID, "user": USER, "member": MEMBER}),
    description="Someone joined the room or was added to it.",
    audience=TO_ROOM,
)
register(
    "member_left",
    direction=SERVER,
    data=obj({"room": ID, "user": USER}),
    description="A member left the room or was removed from it.",
    audience=TO_ROOM,
)
register(
    "member_updated",
    direction=SERVER,
    data=obj({"room": ID, "user": ID, "role": ROLE}),
    description=(
        "A member's role changed (made an admin or a member again, or the owner when the owner left): "
        "the member (a user id) and the new role."
    ),
    audience=TO_ROOM,
)
register(
    "room_updated",
    direction=SERVER,
    data=obj({"room": ROOM_FIELDS}),
    description="The room's own fields changed; merge them into your view (it carries none of the per-caller fields).",
    audience=TO_ROOM,
)
register(
    "room_added",
    direction=SERVER,
    data=obj({"room": ROOM}),
    description="You are in a new room (created, added, joined): its summary as your rooms list shows it.",
    audience=TO_USER,
)
register(
    "membership_updated",
    direction=SERVER,
    data=obj(
        {"room": ID, "muted": BOOLEAN, "notify_level": enum(*RoomMember.NotifyLevel.values)},
        optional=("muted", "notify_level"),
    ),
    description=(
        "Your own settings for a room changed (in another tab, or by a command): only the fields that changed."
    ),
    audience=TO_USER,
)
register(
    "room_removed",
    direction=SERVER,
    data=obj({"room": ID}),
    description="You are no longer in a room (left, removed, or the room was archived).",
    audience=TO_USER,
)

# --- Client requests ---------------------------------------------------------------------------

MESSAGE_REQUEST = obj({"message": ID})
REACTION_REQUEST = obj({"message": ID, "emoji": STRING})
ROOM_REQUEST = obj({"room": ID})

register(
    "authenticate",
    direction=CLIENT,
    data=obj({"token": STRING}),
    description="The first frame of a client without a session cookie: a JWT access token. Ack `{user}` after `ready`.",
)
register(
    "send_message",
    direction=CLIENT,
    data=obj(
        {
            "room": ID,
            "body": STRING,
            "client_id": nullable(STRING),
            "reply_to": nullable(ID),
            "attachments": array(ID),
            "kind": nullable(enum(*sorted(Message.CLIENT_KINDS))),
            "thread": nullable(ID),
            "also_to_room": BOOLEAN,
        },
        optional=("body", "client_id", "reply_to", "attachments", "kind", "thread", "also_to_room"),
    ),
    description=(
        "Send a message (`client_id`, a UUID, makes a retry safe); `thread` makes it a reply in that root's "
        "thread, `also_to_room` shows that reply in the room too. Ack `{message}`."
    ),
)
register(
    "edit_message",
    direction=CLIENT,
    data=obj({"message": ID, "body": STRING}),
    description="Edit your own message. Ack `{message}`.",
)
register(
    "delete_message",
    direction=CLIENT,
    data=MESSAGE_REQUEST,
    description="Delete a message (yours, or any as a room admin). Ack `{}`.",
)
register("pin_message", direction=CLIENT, data=MESSAGE_REQUEST, description="Pin a message. Ack `{message}`.")
register("unpin_message", direction=CLIENT, data=MESSAGE_REQUEST, description="Unpin a message. Ack `{message}`.")
register("add_reaction", direction=CLIENT, data=REACTION_REQUEST, description="React to a message. Ack `{message}`.")
register(
    "remove_reaction",
    direction=CLIENT,
    data=REACTION_REQUEST,
    description="Take your reaction back. Ack `{message}`.",
)
register(
    "mark_as_read",
    direction=CLIENT,
    data=obj({"room": ID, "seq": SEQ}),
    description="Move your read mark forward (never back). Ack `{room, last_read_seq, unread}`.",
)
register(
    "join_room",
    direction=CLIENT,
    data=ROOM_REQUEST,
    description="Join a public group room. Ack: the room detail with `members`, `presence` and `typing`.",
)
register("leave_room", direction=CLIENT, data=ROOM_REQUEST, description="Leave a group room. Ack `{}`.")
register(
    "sync",
    direction=CLIENT,
    data=obj(
        {
            "rooms": {"type": "object", "patternProperties": {r"^\d+$": SEQ}, "additionalProperties": False},
            "since": nullable(TIMESTAMP),
        },
        optional=("since",),
    ),
    description=(
        "After a reconnect: what you missed per room, from the last seq you have "
        "(and changes since a `server_time`). Ack `{messages, has_more, changed, unknown_rooms, server_time}`."
    ),
)
