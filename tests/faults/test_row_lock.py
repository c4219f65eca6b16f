"""A room whose row is locked stalls only itself: other rooms' sends go on, on the same process."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from asgiref.sync import sync_to_async

from chat import actions
from tests.conftest import database_url_for_subprocess
from tests.wsclient import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]


async def send(client: Client, room_id: int, body: str) -> asyncio.Future:
    return asyncio.ensure_future(
        client.request("send_message", {"room": room_id, "body": body, "client_id": str(uuid.uuid4())})
    )


async def test_a_locked_room_does_not_hold_up_sends_to_other_rooms(start_server, postgres, redis_url, ann, bob):
    locked_room = await sync_to_async(actions.create_group_room)(ann, name="Locked", members=[bob.id])
    free_room = await sync_to_async(actions.create_group_room)(ann, name="Free", members=[bob.id])
    server = start_server(server="uvicorn-sansio", extra_env={"RATE_LIMIT_MESSAGES": "0", "DB_CALL_TIMEOUT": "30"})
    # Two connections on one process (one connection handles its own requests in order, by contract).
    sender, other = await Client.open(server, ann), await Client.open(server, bob)

    with psycopg.connect(database_url_for_subprocess(), autocommit=False) as holder:
        # What a slow transaction elsewhere does: hold the room's row, which every send into it updates.
        holder.execute("SELECT 1 FROM chat_room WHERE id = %s FOR UPDATE", [locked_room["id"]])
        stuck = await send(sender, locked_room["id"], "waits for the lock")
        others = [await send(other, free_room["id"], f"free {n}") for n in range(20)]
        acks = await asyncio.gather(*others)
        assert [ack["type"] for ack in acks] == ["ack"] * 20
        assert not stuck.done()
        holder.rollback()

    assert (await stuck)["type"] == "ack"
    await sender.close()
    await other.close()


async def test_a_call_past_the_database_timeout_is_answered_unavailable_and_stored_once_on_retry(
    start_server, postgres, redis_url, ann, bob
):
    room = await sync_to_async(actions.create_group_room)(ann, name="Locked", members=[bob.id])
    server = start_server(server="uvicorn-sansio", extra_env={"DB_CALL_TIMEOUT": "1"})
    sender = await Client.open(server, ann)
    client_id = str(uuid.uuid4())
    request = {"room": room["id"], "body": "hello", "client_id": client_id}

    with psycopg.connect(database_url_for_subprocess(), autocommit=False) as holder:
        holder.execute("SELECT 1 FROM chat_room WHERE id = %s FOR UPDATE", [room["id"]])
        answer = await sender.request("send_message", request)
        assert answer["type"] == "error"
        assert answer["data"]["code"] == "unavailable" and answer["data"]["retry_after"] >= 1
        holder.rollback()

    async with asyncio.timeout(20):
        while (retry := await sender.request("send_message", request))["type"] != "ack":
            assert retry["data"]["code"] == "unavailable"
            await asyncio.sleep(0.2)
    assert retry["data"]["message"]["client_id"] == client_id
    assert retry["data"]["message"]["seq"] == 1
    await sender.close()
