"""Presence's wire events: who is online, their status, who is typing; and the requests that drive them.

Schemas from ``presence.actions.presence_payload`` and the typing payload of
``presence.realtime``; registered from ``PresenceConfig.ready()`` (rules in
``core.events``).
"""

from __future__ import annotations

from core.events import (
    CLIENT,
    ID,
    SERVER,
    STRING,
    TIMESTAMP,
    TO_ROOM_OTHERS,
    USER,
    enum,
    nullable,
    obj,
    register,
)

STATUS = enum("online", "away", "busy")

# The presence object: the user's chosen status is kept while offline.
PRESENCE = obj(
    {
        "user": USER,
        "online": {"type": "boolean"},
        "status": STATUS,
        "status_text": STRING,
        "status_expires_at": nullable(TIMESTAMP),
        "last_seen": nullable(TIMESTAMP),
    }
)

# Someone typing in a room (the ``typing`` lists of ``ready`` and the ``join_room`` ack, and the typing events).
TYPING = obj({"room": ID, "user": USER})

# Presence events go once per room group of the subject, and not to the subject's own connections
# (``status_changed`` also reaches the subject's other connections, through their user group).
register(
    "user_online",
    direction=SERVER,
    data=PRESENCE,
    description="A user who shares a room with you got their first live connection.",
    audience=TO_ROOM_OTHERS,
)
register(
    "user_offline",
    direction=SERVER,
    data=PRESENCE,
    description="A user who shares a room with you closed their last connection (`last_seen` set).",
    audience=TO_ROOM_OTHERS,
)
register(
    "status_changed",
    direction=SERVER,
    data=PRESENCE,
    description="A user changed their status or status text (also sent to their own other connections).",
    audience=TO_ROOM_OTHERS,
)
register(
    "user_typing",
    direction=SERVER,
    data=TYPING,
    description="A member started typing in a room (not re-announced while they keep typing).",
    audience=TO_ROOM_OTHERS,
)
register(
    "user_stopped_typing",
    direction=SERVER,
    data=TYPING,
    description="A member stopped typing: `typing_stop`, `TYPING_TTL` seconds without `typing_start`, or gone.",
    audience=TO_ROOM_OTHERS,
)

ROOM_REQUEST = obj({"room": ID})

register(
    "typing_start",
    direction=CLIENT,
    data=ROOM_REQUEST,
    description="I am typing in this room; repeat within `TYPING_TTL` seconds to keep it up. Ack `{}`.",
)
register(
    "typing_stop",
    direction=CLIENT,
    data=ROOM_REQUEST,
    description="I stopped typing in this room. Ack `{}`.",
)
register(
    "update_status",
    direction=CLIENT,
    data={
        **obj(
            {
                "status": STATUS,
                "status_text": nullable(STRING),
                "clear_after": {"anyOf": [{"type": "integer", "minimum": 60}, {"const": "today"}, {"type": "null"}]},
                "status_expires_at": nullable(TIMESTAMP),
            },
            optional=("status", "status_text", "clear_after", "status_expires_at"),
        ),
        "minProperties": 1,
    },
    description=(
        "Set my status and/or status text, optionally until `clear_after` seconds (or \"today\") or "
        "`status_expires_at`. Ack: my presence object."
    ),
)
register(
    "ping",
    direction=CLIENT,
    data=obj({}),
    description="Keep-alive: refreshes this connection's presence. Ack `{rooms: {room id: last_seq}}`.",
)
