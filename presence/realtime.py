"""Presence and typing for the WebSocket consumer.

The consumer calls these hooks; this module owns what they do. Rules (who
sees what, payloads, validation) are in ``presence.actions``; connection and
typing state in ``presence.store``. Each hook does a fixed number of Redis
round trips and worker-thread database calls, whatever the number of rooms,
members or sockets.

One background task per server process (the ticker, running while the
process serves at least one connection) every ``PRESENCE_HEARTBEAT``
seconds: refreshes the process's deadline (one Redis call for all its
sockets), sweeps the connections of dead processes and announces their users
offline, drops connections whose consumer vanished without a disconnect, and
writes ``last_seen`` of its users every ``PRESENCE_LAST_SEEN_WRITE_INTERVAL``
(one query for all of them).

Client frame ``ping`` (``data`` empty): an optional keep-alive for clients
behind proxies that close idle sockets; acked with ``{}`` when it has an
``id``. Presence does not depend on it: liveness is per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from core.payloads import user_payload
from core.publishing import frame_envelope, room_group
from core.throttled_log import warn_once_per
from realtime.database import database_call
from realtime.layers import when_subscriptions_restored

from . import actions, store

logger = logging.getLogger(__name__)

# Copies of one event arrive back to back (one sender, one loop): a short memory is enough.
SEEN_EVENTS_KEPT = 32
_background: set[asyncio.Future] = set()


def _now() -> datetime:
    return datetime.now(UTC)


def _spawn(coro) -> None:
    """Run a coroutine in the background, keeping a reference until it ends."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _send_all(messages: list[tuple[str, dict[str, Any]]], layer=None) -> None:
    layer = layer or get_channel_layer()
    for group, message in messages:
        try:
            async with asyncio.timeout(settings.PUBLISH_TIMEOUT):
                await layer.group_send(group, message)
        except Exception as error:  # noqa: BLE001 -- presence is refreshed by the next heartbeat and sweep
            warn_once_per(logger, "presence-publish", 30, "Presence event to %s was not sent (%s)", group, error)


# --- Hooks called by the consumer -------------------------------------------------------


async def connection_opened(consumer, co_member_rows: actions.PresenceRows | None = None) -> dict[str, Any]:
    """A connection authenticated: record it, announce the user if new, return ``presence`` and ``typing``.

    ``presence`` lists the presence objects of the online users who share a
    room with this user (the user included); ``typing`` lists
    ``{"room", "user"}`` for every other user typing now in its rooms.
    ``co_member_rows`` (``actions.co_member_presence_rows``), when the caller
    read them with its own database work, saves a trip to a database thread.
    """
    user = consumer.user
    conn_id = consumer.channel_name
    await _ensure_ticker()
    store.register_local(conn_id, user.id, consumer)
    room_ids = set(consumer.room_ids)
    if co_member_rows is None:
        co_member_rows = await database_call(actions.co_member_presence_rows, user.id)
    layer = consumer.channel_layer
    own_row = co_member_rows.get(user.id)
    # Its user_online, should it come online: published by the store's script itself where the layer
    # publishes on the same Redis (one round trip for the whole connect's presence), else sent below.
    announcement = (
        actions.presence_messages(
            "user_online", actions.online_presence_from_row(own_row), room_ids, subject_id=user.id
        )
        if own_row is not None
        else []
    )
    publications = getattr(layer, "publications", None)
    scripted = publications(announcement) if publications is not None else None
    came_online, online, typing_pairs, announced = await store.add_connection_and_ask(
        user.id, conn_id, co_member_rows.keys() - {user.id}, room_ids, scripted or ()
    )
    online.add(user.id)
    snapshot = actions.snapshot_from_rows(user.id, co_member_rows, online, typing_pairs)
    if came_online and not announced:
        await _send_all(announcement, layer)
    return snapshot


async def connection_closed(consumer) -> None:
    """A connection closed: end its typing, and announce the user offline if it was the last one."""
    user = consumer.user
    conn_id = consumer.channel_name
    store.unregister_local(conn_id)
    for room_id in sorted(getattr(consumer, "presence_typing_rooms", ())):
        await _stop_typing(room_id, user, consumer.channel_layer)
    try:
        if await store.remove_connection(user.id, conn_id):
            messages = await database_call(actions.went_offline, {user.id: _now()}, {user.id: set(consumer.room_ids)})
            await _send_all(messages, consumer.channel_layer)
    finally:
        if store.local_connection_count() == 0:
            await _stop_ticker()


async def room_snapshot(consumer, room_id: int) -> dict[str, Any]:
    """For a room the connection just joined: its online members and who is typing there.

    The same shapes as ``ready``'s ``presence`` and ``typing``; meant to be
    merged into the ``join_room`` ack.
    """
    members = await database_call(actions.co_member_ids, {room_id})
    online = await store.online_user_ids(members | {consumer.user.id})
    typing_pairs = await store.typing_in_rooms({room_id})
    return await database_call(actions.connection_snapshot, consumer.user, online, typing_pairs)


async def heartbeat(consumer) -> None:
    """``ping``: note that the client is there (presence itself is kept alive per process)."""
    connection = store.local.connections.get(consumer.channel_name)
    if connection is not None:
        connection.last_ping = time.time()


async def typing(consumer, room_id: int, *, started: bool) -> None:
    """``typing_start`` / ``typing_stop`` in a room the connection follows.

    A start is announced (``user_typing``) only when the user was not already
    typing there; repeated starts just push the expiry ``TYPING_TTL`` seconds
    forward. The server ends the state itself at expiry
    (``user_stopped_typing``), so a client that vanishes does not type forever.
    Nothing is written to the database.
    """
    user = consumer.user
    typing_rooms = getattr(consumer, "presence_typing_rooms", None)
    if not started:
        if typing_rooms is not None:
            typing_rooms.discard(room_id)
        await _stop_typing(room_id, user, consumer.channel_layer)
        return
    is_new, deadline = await store.typing_start(room_id, user.id)
    if typing_rooms is None:  # made on the first start: most connections never type
        typing_rooms = consumer.presence_typing_rooms = set()
    typing_rooms.add(room_id)
    key = (room_id, user.id)
    previous = store.local.typing_timers.pop(key, None)
    if previous is not None:
        previous[1].cancel()
    payload = {"room": room_id, "user": user_payload(user)}
    delay = max(0.0, deadline - time.time())
    handle = asyncio.get_running_loop().call_later(
        delay, lambda: _spawn(_typing_expired(room_id, user.id, deadline, payload))
    )
    store.local.typing_timers[key] = (deadline, handle)
    if is_new:
        await _typing_broadcast("user_typing", payload, consumer.channel_layer)


async def update_status(consumer, data: dict[str, Any]) -> dict[str, Any]:
    """``update_status``: returns the presence object for the ack (rules in ``actions.update_status``)."""
    return await consumer.run_action(actions.update_status, data)


async def deliver(consumer, event: dict[str, Any]) -> None:
    """A ``presence.frame`` for this connection: forwarded once per event id, never about itself unless asked."""
    frame = frame_for(consumer, event)
    if frame is not None:
        await consumer.send(text_data=frame)


def frame_for(consumer, event: dict[str, Any]) -> str | None:
    """The text of a ``presence.frame`` to forward to this connection, or None (own event, or a copy already sent)."""
    if consumer.user is None or event.get("exclude_user") == consumer.user.id:
        return None
    eid = event.get("eid")
    if eid is not None:
        # A short list, not a deque: a deque costs 600 bytes per connection even when empty.
        seen = getattr(consumer, "presence_seen_events", None)
        if seen is None:
            seen = consumer.presence_seen_events = []
        elif eid in seen:
            return None
        elif len(seen) >= SEEN_EVENTS_KEPT:
            del seen[0]
        seen.append(eid)
    return event["frame"]


# --- Typing internals ---------------------------------------------------------------------


async def _typing_broadcast(event_type: str, payload: dict[str, Any], layer=None) -> None:
    """To the room's other members: ``chat.frame`` with ``exclude_user`` keeps it off the typist's sockets."""
    message = frame_envelope(event_type, payload, exclude_user=payload["user"]["id"])
    await _send_all([(room_group(payload["room"]), message)], layer)


async def _stop_typing(room_id: int, user, layer=None) -> None:
    timer = store.local.typing_timers.pop((room_id, user.id), None)
    if timer is not None:
        timer[1].cancel()
    if await store.typing_stop(room_id, user.id):
        await _typing_broadcast("user_stopped_typing", {"room": room_id, "user": user_payload(user)}, layer)


async def _typing_expired(room_id: int, user_id: int, deadline: float, payload: dict[str, Any]) -> None:
    key = (room_id, user_id)
    current = store.local.typing_timers.get(key)
    if current is not None and current[0] == deadline:  # not replaced by a later start's timer
        del store.local.typing_timers[key]
    try:
        if await store.typing_stop(room_id, user_id, deadline):
            await _typing_broadcast("user_stopped_typing", payload)
    except Exception:
        logger.exception("Typing expiry failed in room %s", room_id)


# --- The per-process ticker ---------------------------------------------------------------------


async def _ensure_ticker() -> None:
    """Start this process's ticker with its first connection (after one tick, so ``ready`` sees a clean state)."""
    ticker = store.local.ticker
    loop = asyncio.get_running_loop()
    if ticker is not None and not ticker.done() and ticker.get_loop() is loop:
        return
    store.local.ticker = loop.create_task(_run_ticker(), name="presence-ticker")
    if not store.local.last_seen_written:  # the first write waits one interval, not every process start
        store.local.last_seen_written = time.time()
    try:
        await tick()
    except Exception:
        logger.exception("Presence tick failed")


async def _stop_ticker() -> None:
    ticker = store.local.ticker
    store.local.ticker = None
    if ticker is not None and not ticker.done() and ticker.get_loop() is asyncio.get_running_loop():
        ticker.cancel()
    try:
        await store.retire_process()
    except Exception:
        logger.exception("Presence: could not retire this process")


async def _run_ticker() -> None:
    while True:
        await asyncio.sleep(settings.PRESENCE_HEARTBEAT)
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Presence tick failed")


@when_subscriptions_restored
def _refresh_after_redis_came_back() -> None:
    """A restarted Redis lost the registry of who is online: put this process's connections back now,
    not at the next heartbeat (PRESENCE_HEARTBEAT seconds of everyone looking offline)."""
    if store.local_connection_count():
        _spawn(tick())


async def tick() -> None:
    """One round of this process's upkeep (see the module docstring)."""
    for conn_id, user_id in store.orphaned_local_connections():
        store.unregister_local(conn_id)
        if await store.remove_connection(user_id, conn_id):
            await _send_all(await database_call(actions.went_offline, {user_id: _now()}))
    back, gone = await store.refresh_process()
    if back:
        await _send_all(await database_call(actions.came_online, back))
    if gone:
        await _send_all(await database_call(actions.went_offline, {user_id: _now() for user_id in gone}))
    await sweep_dead_processes()
    await _send_all(await database_call(actions.clear_expired_statuses))
    now = time.time()
    if now - store.local.last_seen_written >= settings.PRESENCE_LAST_SEEN_WRITE_INTERVAL:
        store.local.last_seen_written = now
        at = _now()
        await database_call(actions.record_last_seen, {user_id: at for user_id in store.local_user_ids()})


async def sweep_dead_processes() -> list[int]:
    """Remove the connections of processes past their deadline; announce their users offline."""
    offline = await store.sweep()
    if offline:
        await _send_all(await database_call(actions.went_offline, last_alive(offline)))
    return sorted(offline)


def last_alive(offline: dict[int, float]) -> dict[int, datetime]:
    """A dead process was last alive when it last refreshed: its deadline minus the slack it was given."""
    slack = store.process_deadline(0)
    return {
        user_id: datetime.fromtimestamp(min(deadline - slack, time.time()), UTC)
        for user_id, deadline in offline.items()
    }
