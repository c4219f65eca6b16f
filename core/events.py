"""One definition per wire event: its direction, the JSON schema of its ``data``, who gets it.

Each app declares its own events in its ``events`` module (``chat.events``,
``presence.events``, ``notifications.events``), imported from its
``AppConfig.ready()``, so every spec is registered once Django is set up. The
specs are read by the tests (every frame a test encodes is validated against
its schema: ``tests/event_schema.py``) and by the check of
``docs/protocol.md``; production code never validates against them, so they
cost nothing on the hot path.

The schemas are plain JSON-Schema dicts written by hand from the payload
builders. Objects are closed (``additionalProperties: false``) and list every
key as required, so a key added to a builder and not here fails the tests
that publish it, and the schema, the code and the document cannot drift apart.
Objects used by several events (user, message, room, member...) are defined
once and referenced by the events that carry them.

This module also defines the two answers of the envelope, ``ack`` and
``error``, which every request gets (one of them) whatever app handles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import ERROR_STATUS

Direction = Literal["server", "client"]
SERVER: Direction = "server"
CLIENT: Direction = "client"

# Who receives a server event (``EventSpec.audience``).
TO_ROOM = "room"  # every connection of every member of the room
TO_ROOM_OTHERS = "room, but the subject's own connections"
TO_USER = "user"  # every connection of one user
TO_EACH_MEMBER = "room, a frame of its own for each member"
TO_CONNECTION = "the connection"  # the one socket concerned (answers, ready, a disconnect)
TO_SERVER = "server"  # client requests


@dataclass(frozen=True)
class EventSpec:
    """A wire event: ``type`` as spelled in the frame, and the schema of its ``data``."""

    type: str
    direction: Direction
    data: dict[str, Any]
    description: str
    audience: str

    @property
    def data_keys(self) -> list[str]:
        """The top-level keys ``data`` may carry (what docs/protocol.md must name)."""
        return list(self.data.get("properties", {}))


_specs: dict[str, EventSpec] = {}


def register(
    type: str, *, direction: Direction, data: dict[str, Any], description: str, audience: str | None = None
) -> EventSpec:
    """Declare one event; each type is declared exactly once (a second declaration is a bug)."""
    if type in _specs:
        raise ValueError(f"event {type!r} is already registered")
    if direction not in (SERVER, CLIENT):
        raise ValueError(f"direction must be {SERVER!r} or {CLIENT!r}, not {direction!r}")
    if audience is None:
        if direction != CLIENT:
            raise ValueError(f"server event {type!r} needs an audience")
        audience = TO_SERVER
    spec = EventSpec(type=type, direction=direction, data=data, description=description, audience=audience)
    _specs[type] = spec
    return spec


def spec_for(type: str) -> EventSpec | None:
    """The spec of ``type``, or None when no app declared it."""
    return _specs.get(type)


def all_specs(direction: Direction | None = None) -> list[EventSpec]:
    """Every registered spec (of one direction if given), in declaration order."""
    return [spec for spec in _specs.values() if direction is None or spec.direction == direction]


# --- Schema helpers and the shared objects ---------------------------------------------


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object: exactly these keys, all required but ``optional``."""
    unknown = set(optional) - set(properties)
    if unknown:
        raise ValueError(f"optional keys not among the properties: {sorted(unknown)}")
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key not in optional],
        "additionalProperties": False,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def enum(*values: str) -> dict[str, Any]:
    return {"enum": list(values)}


ID = {"type": "integer", "minimum": 1}
SEQ = {"type": "integer", "minimum": 0}
COUNT = {"type": "integer", "minimum": 0}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
# ``core.payloads.iso``: ISO 8601 in UTC with a ``Z``.
TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"}
ANY_OBJECT = {"type": "object"}

# ``core.payloads.user_payload``: the one shape of a person everywhere.
USER = obj(
    {
        "id": ID,
        "username": STRING,
        "display_name": STRING,
        "avatar_url": nullable(STRING),
        "avatar_small_url": nullable(STRING),
        "is_bot": BOOLEAN,
    }
)

# ``core.errors.ActionError.as_data``: the contract code, a message, and the extras some codes carry.
ERROR = obj(
    {
        "code": enum(*ERROR_STATUS),
        "message": STRING,
        "retry_after": {"type": "integer", "minimum": 1},  # rate_limited: seconds to wait
        "limit": COUNT,  # too_large (uploads): the limit in bytes
        "detected": STRING,  # invalid (uploads): the type the bytes really are
    },
    optional=("retry_after", "limit", "detected"),
)


register(
    "ack",
    direction=SERVER,
    data=ANY_OBJECT,
    description="The answer to a request with an `id`: the same `id`, and the result of that request.",
    audience=TO_CONNECTION,
)
register(
    "error",
    direction=SERVER,
    data=ERROR,
    description=(
        "A request refused (with its `id` if it had one), a bad frame, or the end of a suspended user's connection."
    ),
    audience=TO_CONNECTION,
)
register(
    "resync",
    direction=SERVER,
    data=obj({"reason": enum("subscriptions_restored", "gap")}),
    description=(
        "This connection may have missed events (its process lost and restored its channel-layer subscriptions, "
        "or a room's seq never arrived): send `sync` with the rooms' positions."
    ),
    audience=TO_CONNECTION,
)
