"""Connects whose reads the database does not answer: each socket hears `unavailable` and may try again.

The users' table is really locked by another connection (ACCESS EXCLUSIVE), so
every connect's first read waits on a real server process.
"""

from __future__ import annotations

import asyncio

import orjson
import psycopg
import pytest
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect

from tests.conftest import browser_socket, database_url_for_subprocess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]


async def authenticate(socket, user, request_id: str) -> None:
    token = str(AccessToken.for_user(user))
    await socket.send(orjson.dumps({"type": "authenticate", "id": request_id, "data": {"token": token}}).decode())


async def test_connects_stalled_past_the_database_timeout_hear_unavailable_and_authenticate_once_it_answers(
    start_server, postgres, redis_url, ann, bob, cat
):
    server = start_server(server="uvicorn-sansio", extra_env={"DB_CALL_TIMEOUT": "1", "WS_AUTH_TIMEOUT": "30"})
    users = [ann, bob, cat]
    sockets = [await connect(server.ws_url) for _ in users]
    try:
        with psycopg.connect(database_url_for_subprocess(), autocommit=False) as holder:
            holder.execute("LOCK TABLE accounts_user IN ACCESS EXCLUSIVE MODE")
            for socket, user in zip(sockets, users, strict=True):
                await authenticate(socket, user, "a1")
            answers = [orjson.loads(await asyncio.wait_for(socket.recv(), 10)) for socket in sockets]
            holder.rollback()

        assert [(a["type"], a["id"], a["data"]["code"], a["data"]["retry_after"]) for a in answers] == [
            ("error", "a1", "unavailable", 1)
        ] * 3
        # The sockets stayed open and unauthenticated: the same authenticate now gets ready, then its ack.
        for socket, user in zip(sockets, users, strict=True):
            await authenticate(socket, user, "a2")
        for socket, user in zip(sockets, users, strict=True):
            ready = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
            ack = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
            assert (ready["type"], ready["data"]["user"]["id"]) == ("ready", user.id)
            assert (ack["type"], ack["id"]) == ("ack", "a2")
    finally:
        for socket in sockets:
            await socket.close()


async def test_a_browser_socket_whose_connect_the_database_does_not_answer_hears_unavailable_then_1013(
    client, settings, ann, group_room
):
    """The session cookie signed the socket in; its ``ready`` reads wait on a locked table past the timeout."""
    from channels.db import database_sync_to_async

    settings.DB_CALL_TIMEOUT = 1
    await database_sync_to_async(client.force_login)(ann)
    ws = browser_socket(client.cookies["sessionid"].value)
    with psycopg.connect(database_url_for_subprocess(), autocommit=False) as holder:
        holder.execute("LOCK TABLE chat_roommember IN ACCESS EXCLUSIVE MODE")
        connected, _ = await ws.connect(timeout=5)
        error = await ws.receive_json_from(timeout=5)
        closed = await ws.receive_output(timeout=5)
        holder.rollback()

    assert connected
    assert error == {
        "type": "error",
        "data": {"code": "unavailable", "message": error["data"]["message"], "retry_after": 1},
    }
    assert closed == {"type": "websocket.close", "code": 1013}
