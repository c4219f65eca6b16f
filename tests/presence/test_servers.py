"""Real server processes on one Redis: a killed process does not leave its users online."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers, pytest.mark.redis]

# Deadline 2 s after each refresh (TTL - HEARTBEAT), refreshed and swept every second.
FAST_PRESENCE = {"PRESENCE_TTL": "3", "PRESENCE_HEARTBEAT": "1", "LOG_LEVEL": "WARNING"}


async def connect(server, user):
    ws = await websockets.connect(server.ws_url, open_timeout=10)
    await ws.send(json.dumps({"type": "authenticate", "data": {"token": str(AccessToken.for_user(user))}}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready", ready
    return ws


async def recv_until(ws, event_type: str, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event_type!r} within {timeout} s")
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if frame["type"] == event_type:
            return frame


async def recv_nothing(ws, seconds: float) -> list[dict]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), seconds)))
    except TimeoutError:
        return frames


@pytest.fixture(params=["daphne", "uvicorn"])
def two_servers(request, redis_url, start_server):
    """Two server processes on one Redis (core layer: Redis pub/sub ignores database numbers, so the
    pub/sub layer would hear other test runs on this machine that use the same group names)."""
    return start_server(server=request.param, extra_env=FAST_PRESENCE), start_server(
        server=request.param, extra_env=FAST_PRESENCE
    )


async def test_a_process_killed_with_sigkill_leaves_its_user_offline_after_the_expiry(
    two_servers, api_for, ann, bob, group_room
):
    doomed, survivor = two_servers
    bob_ws = await connect(survivor, bob)
    ann_ws = await connect(doomed, ann)
    online = await recv_until(bob_ws, "user_online", timeout=10)
    assert online["data"]["user"]["id"] == ann.id

    killed_at = time.time()
    doomed.stop(signal.SIGKILL)
    offline = await recv_until(bob_ws, "user_offline", timeout=20)
    noticed_after = time.time() - killed_at

    assert offline["data"]["user"]["id"] == ann.id
    assert offline["data"]["online"] is False
    assert offline["data"]["last_seen"] is not None
    assert await recv_nothing(bob_ws, 2) == []
    me = await sync_to_async(api_for(bob).get)(f"/api/v1/presence/?users={ann.id}")
    assert me.json()[0]["online"] is False
    print(f"\nuser_offline {noticed_after:.1f} s after SIGKILL (PRESENCE_TTL=3, PRESENCE_HEARTBEAT=1)")
    await bob_ws.close()
    await ann_ws.close(code=1000)


async def test_a_killed_process_does_not_take_a_user_offline_who_has_a_tab_on_another(
    two_servers, api_for, ann, bob, group_room
):
    doomed, survivor = two_servers
    bob_ws = await connect(survivor, bob)
    await connect(doomed, ann)
    await recv_until(bob_ws, "user_online", timeout=10)
    ann_survivor_tab = await connect(survivor, ann)
    doomed.stop(signal.SIGKILL)
    assert await recv_nothing(bob_ws, 5) == []
    await ann_survivor_tab.close()
    offline = await recv_until(bob_ws, "user_offline", timeout=10)
    assert offline["data"]["user"]["id"] == ann.id
    assert await recv_nothing(bob_ws, 1) == []
    await bob_ws.close()


async def test_tabs_on_two_processes_close_into_one_user_offline(two_servers, ann, bob, cat, group_room):
    first, second = two_servers
    cat_ws = await connect(first, cat)
    bob_ws = await connect(first, bob)
    tab_one = await connect(first, ann)
    await recv_until(bob_ws, "user_online", timeout=10)
    tab_two = await connect(second, ann)
    await tab_one.close()
    await tab_two.close()
    offline = await recv_until(bob_ws, "user_offline", timeout=10)
    assert offline["data"]["user"]["id"] == ann.id
    assert await recv_nothing(bob_ws, 1) == []
    assert await recv_nothing(cat_ws, 0.1) == []
    await bob_ws.close()
    await cat_ws.close()
