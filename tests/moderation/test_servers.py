"""Suspension across real server processes: sockets on every process close within seconds."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import pytest
import websockets
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from moderation import actions

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers, pytest.mark.redis]


async def connect(server, user, token: str | None = None):
    ws = await websockets.connect(server.ws_url, open_timeout=10)
    await ws.send(json.dumps({"type": "authenticate", "data": {"token": token or str(AccessToken.for_user(user))}}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready", ready
    return ws


def get_status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_suspension_closes_the_users_sockets_on_every_process_and_refuses_their_token(
    redis_url, start_server, moderator, bob
):
    servers = [start_server(), start_server()]
    token = str(AccessToken.for_user(bob))
    sockets = [await connect(server, bob, token) for server in servers]
    assert await database_sync_to_async(get_status)(f"{servers[0].http_url}/api/v1/rooms/", token) == 200

    started = time.monotonic()
    await database_sync_to_async(actions.suspend_user)(moderator, bob.id, "spam")
    for ws in sockets:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert frame == {"type": "error", "data": {"code": "forbidden", "message": "Your account has been suspended."}}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4403
    elapsed = time.monotonic() - started
    print(f"\nboth sockets closed {elapsed * 1000:.0f} ms after the suspension committed")

    for server in servers:
        assert await database_sync_to_async(get_status)(f"{server.http_url}/api/v1/rooms/", token) == 401
    ws = await websockets.connect(servers[1].ws_url, open_timeout=10)
    await ws.send(json.dumps({"type": "authenticate", "data": {"token": token}}))
    with pytest.raises(websockets.ConnectionClosed) as refused:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert refused.value.rcvd.code == 4401


async def test_readyz_of_a_real_server_sees_database_and_redis(redis_url, start_server):
    server = start_server()
    with urllib.request.urlopen(f"{server.http_url}/readyz", timeout=10) as response:
        body = json.loads(response.read())
    assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
