"""Publication of events: encoded once, handed to the channel layer after commit.

Events are encoded to JSON once, when the action publishes them, and handed
to the channel layer after the transaction commits: every consumer in the
group forwards the same text to its socket without decoding it.

The channel-layer envelope types (what a consumer receives) are defined here
once: ``chat.frame`` (one frame for every socket of a group), ``chat.per_member``
(a frame per member, in one room broadcast), ``chat.membership`` (follow or
leave a room's group) and ``chat.disconnect`` (end the user's sockets).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from .metrics import counts
from .throttled_log import warn_once_per

logger = logging.getLogger(__name__)

# The channel-layer envelope types: the only place they are spelled.
FRAME_MESSAGE_TYPE = "chat.frame"
PER_MEMBER_MESSAGE_TYPE = "chat.per_member"
MEMBERSHIP_MESSAGE_TYPE = "chat.membership"
DISCONNECT_MESSAGE_TYPE = "chat.disconnect"
PRESENCE_MESSAGE_TYPE = "presence.frame"
ENVELOPE_TYPES = frozenset(
    {
        FRAME_MESSAGE_TYPE,
        PER_MEMBER_MESSAGE_TYPE,
        MEMBERSHIP_MESSAGE_TYPE,
        DISCONNECT_MESSAGE_TYPE,
        PRESENCE_MESSAGE_TYPE,
    }
)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


# When set (by the WebSocket consumer around an action), committed events are
# collected here and sent from the consumer's own event loop instead of
# blocking the worker thread on the channel layer.
_outbox: contextvars.ContextVar[list | None] = contextvars.ContextVar("confab_event_outbox", default=None)


# Called with every frame's type and data as it is encoded, when set. The tests
# set it to check each frame against its schema (core.events); production
# leaves it None, so the hot path pays one test of a global.
_frame_observer: Callable[[str, dict[str, Any]], None] | None = None


def encode_frame(event_type: str, data: dict[str, Any], *, request_id: str | None = None) -> str:
    """The text of one server frame: every frame the server sends is encoded here, once.

    ``request_id`` is the ``id`` of the request an ``ack`` or ``error`` answers.
    """
    if _frame_observer is not None:
        _frame_observer(event_type, data)
    if request_id is None:
        return orjson.dumps({"type": event_type, "data": data}).decode()
    return orjson.dumps({"type": event_type, "id": request_id, "data": data}).decode()


def publish(
    group: str, event_type: str, data: dict[str, Any], *, exclude_user: int | None = None, seq: int | None = None
) -> None:
    """Send ``event_type`` to ``group`` once the current transaction commits.

    ``seq`` (a new message's) lets each process hand the room's events on in
    seq order when several processes publish into it (realtime.layers.GroupSequencer).
    """
    message = frame_envelope(event_type, data, exclude_user=exclude_user, seq=seq)
    transaction.on_commit(lambda: deliver_message(group, message))


def frame_envelope(
    event_type: str, data: dict[str, Any], *, exclude_user: int | None = None, seq: int | None = None
) -> dict[str, Any]:
    """A ``chat.frame`` envelope: one encoded frame for every socket of a group (but ``exclude_user``'s)."""
    message: dict[str, Any] = {
        "type": FRAME_MESSAGE_TYPE,
        "frame": encode_frame(event_type, data),
        "exclude_user": exclude_user,
    }
    if seq is not None:
        message["seq"] = seq
    return message


def resync_envelope(reason: str) -> dict[str, Any]:
    """A ``chat.frame`` envelope telling sockets they may have missed events (``resync``, docs/protocol.md)."""
    return frame_envelope("resync", {"reason": reason})


def disconnect_envelope(reason: str, session: str | None = None) -> dict[str, Any]:
    """A ``chat.disconnect`` envelope: every socket of the group it is sent to closes with 4403, or with
    ``session`` (a sign-in session's tag, ``accounts.queries.session_tag``) only the sockets opened with it."""
    message = {"type": DISCONNECT_MESSAGE_TYPE, "reason": reason}
    if session is not None:
        message["session"] = session
    return message


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
    if layer is None:
        return
    for attempt in range(PUBLISH_ATTEMPTS):
        try:
            async_to_sync(_group_send_within_timeout)(layer, group, message)
            return
        except Exception as error:  # noqa: BLE001 -- the change is committed: never fail the request for it
            last_error = error
            counts.publish_failures += 1
            if attempt + 1 < PUBLISH_ATTEMPTS:
                time.sleep(PUBLISH_RETRY_PAUSE)
    # Members catch up by sync: ping acks carry each room's last_seq, and a process whose
    # subscriptions were restored tells its sockets to resync.
    warn_once_per(
        logger, "publish", 30, "Publishing a committed event failed (%s); clients catch up by sync", last_error
    )


# A committed event is published at most this many times from a request thread, this long apart.
PUBLISH_ATTEMPTS = 2
PUBLISH_RETRY_PAUSE = 0.1  # seconds


async def _group_send_within_timeout(layer: Any, group: str, message: dict[str, Any]) -> None:
    async with asyncio.timeout(settings.PUBLISH_TIMEOUT):
        await layer.group_send(group, message)


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
