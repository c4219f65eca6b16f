"""The upkeep that keeps presence true: sweeps of dead processes, reconcile after Redis loses state."""

from __future__ import annotations

import gc
import io
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from core.redis import sync_client
from presence import realtime, store
from presence.models import Presence
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def record_connection_of_a_dead_process(user_id: int, deadline: float) -> None:
    """What a process killed before its deadline leaves in Redis: its record and one connection."""
    client = sync_client()
    pid = "dead-host:1:abc"
    keys = (store.PROCS_KEY, f"{store.PREFIX}proc:{pid}", f"{store.PREFIX}user:{user_id}")
    client.eval(store._ADD, 3, *keys, pid, "specific.dead!conn", user_id, deadline)


async def test_sweep_presence_command_takes_the_users_of_dead_processes_offline(
    any_redis, ws_connect, ann, bob, group_room, settings
):
    bob_ws = await ws_connect(bob)
    deadline = time.time() - 1
    await sync_to_async(record_connection_of_a_dead_process)(ann.id, deadline)
    assert await store.online_user_ids([ann.id]) == {ann.id}
    out = io.StringIO()
    await sync_to_async(call_command)("sweep_presence", stdout=out)
    assert out.getvalue().strip() == "1 user(s) marked offline."
    event = await receive_until(bob_ws, "user_offline")
    assert event["data"]["user"]["id"] == ann.id
    assert await store.online_user_ids([ann.id]) == set()
    last_seen = (await sync_to_async(Presence.objects.get)(user=ann)).last_seen
    slack = settings.PRESENCE_TTL - settings.PRESENCE_HEARTBEAT
    assert last_seen == datetime.fromtimestamp(deadline - slack, UTC)


async def test_sweep_presence_command_leaves_live_processes_alone(redis_url, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    out = io.StringIO()
    await sync_to_async(call_command)("sweep_presence", stdout=out)
    assert out.getvalue().strip() == "0 user(s) marked offline."
    assert await store.online_user_ids([ann.id, bob.id]) == {ann.id, bob.id}
    assert await bob_ws.receive_nothing(timeout=0.3)


def test_sweep_presence_command_without_redis_says_there_is_nothing_to_sweep(settings):
    settings.REDIS_URL = ""
    out = io.StringIO()
    call_command("sweep_presence", stdout=out)
    assert "nothing to sweep" in out.getvalue()


async def test_a_server_tick_sweeps_dead_processes(redis_url, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    await sync_to_async(record_connection_of_a_dead_process)(ann.id, time.time() - 1)
    await realtime.tick()
    event = await receive_until(bob_ws, "user_offline")
    assert event["data"]["user"]["id"] == ann.id


def forget_presence_records() -> None:
    client = sync_client()
    client.delete(*client.keys(store.PREFIX + "*"))


async def test_connections_come_back_after_their_records_are_lost(redis_url, ws_connect, ann, bob, group_room):
    """A stall past the deadline (swept by another process) or lost Redis data: the next tick puts them back."""
    bob_ws = await ws_connect(bob)
    await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await sync_to_async(forget_presence_records)()
    assert await store.online_user_ids([ann.id, bob.id]) == set()
    await realtime.tick()
    assert await store.online_user_ids([ann.id, bob.id]) == {ann.id, bob.id}
    event = await receive_until(bob_ws, "user_online")
    assert event["data"]["user"]["id"] == ann.id


async def test_a_connection_whose_consumer_vanished_without_disconnect_is_dropped(
    backend, ws_connect, ann, bob, group_room
):
    """A disconnect that failed before ``connection_closed`` (say, a channel-layer error) must not pin a user online."""

    class Vanished:
        pass

    bob_ws = await ws_connect(bob)
    ghost = Vanished()
    store.register_local("ghost.channel", ann.id, ghost)
    assert await store.add_connection(ann.id, "ghost.channel") is True
    del ghost
    gc.collect()
    await realtime.tick()
    event = await receive_until(bob_ws, "user_offline")
    assert event["data"]["user"]["id"] == ann.id
    assert await store.online_user_ids([ann.id]) == set()


async def test_last_seen_is_written_for_connected_users_by_the_tick(backend, ws_connect, ann, settings):
    settings.PRESENCE_LAST_SEEN_WRITE_INTERVAL = 0
    await ws_connect(ann)
    before = datetime.now(UTC)
    await realtime.tick()
    row = await sync_to_async(Presence.objects.get)(user=ann)
    assert row.last_seen >= before


async def test_a_connection_recorded_for_this_process_but_closed_here_is_removed(
    redis_url, ws_connect, ann, bob, group_room
):
    """Reconcile works both ways: Redis holding a connection this process no longer serves drops it."""
    bob_ws = await ws_connect(bob)
    assert await store.add_connection(ann.id, "closed.here") is True
    await realtime.tick()
    event = await receive_until(bob_ws, "user_offline")
    assert event["data"]["user"]["id"] == ann.id
    assert await store.online_user_ids([ann.id]) == set()
