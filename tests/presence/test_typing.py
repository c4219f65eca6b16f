"""Typing: to the room's other members, debounced, expired by the server, never stored."""

from __future__ import annotations

import pytest

from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_typing(settings):
    """A one-second typing window keeps the expiry tests quick (the default is 5 s)."""
    settings.TYPING_TTL = 1


async def frame_types(ws, wait: float) -> list[str]:
    """The types of the frames that arrive within ``wait`` seconds."""
    types = []
    while not await ws.receive_nothing(timeout=wait):
        types.append((await ws.receive_json_from())["type"])
    return types


def start(room) -> dict:
    return {"type": "typing_start", "data": {"room": room.id}}


def stop(room) -> dict:
    return {"type": "typing_stop", "data": {"room": room.id}}


async def test_typing_start_reaches_the_other_members_but_not_the_typist(backend, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    ann_other_tab = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ann_ws.send_json_to({"id": "t", **start(group_room)})
    assert (await receive_until(ann_ws, "ack", request_id="t"))["data"] == {}
    event = await receive_until(bob_ws, "user_typing")
    assert event["data"] == {
        "room": group_room.id,
        "user": {
            "id": ann.id,
            "username": "ann",
            "display_name": "Ann",
            "avatar_url": None,
            "avatar_small_url": None,
            "is_bot": False,
        },
    }
    # Never echoed to the typist's own tabs. (Other frames may still arrive: with
    # Redis pub/sub, Bob's earlier user_online can reach a tab opened just after it.)
    assert "user_typing" not in await frame_types(ann_ws, 0.3)
    assert "user_typing" not in await frame_types(ann_other_tab, 0.1)


async def test_typing_expires_by_itself(backend, short_typing, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await ann_ws.send_json_to(start(group_room))
    await receive_until(bob_ws, "user_typing")
    event = await receive_until(bob_ws, "user_stopped_typing", timeout=5)
    assert event["data"]["room"] == group_room.id
    assert event["data"]["user"]["id"] == ann.id


async def test_typing_expires_five_seconds_after_the_last_start_by_default(
    backend, ws_connect, ann, bob, group_room, settings
):
    assert settings.TYPING_TTL == 5
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await ann_ws.send_json_to(start(group_room))
    await receive_until(bob_ws, "user_typing")
    await receive_until(bob_ws, "user_stopped_typing", timeout=8)


async def test_repeated_typing_start_is_broadcast_once(backend, short_typing, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    for request_id in ("1", "2", "3"):
        await ann_ws.send_json_to({"id": request_id, **start(group_room)})
        await receive_until(ann_ws, "ack", request_id=request_id)
    first = await bob_ws.receive_json_from(timeout=3)
    second = await bob_ws.receive_json_from(timeout=5)
    assert [first["type"], second["type"]] == ["user_typing", "user_stopped_typing"]
    assert await bob_ws.receive_nothing(timeout=1.5)


async def test_typing_stop_ends_it_at_once_and_nothing_follows(backend, short_typing, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ann_ws.send_json_to(start(group_room))
    await receive_until(bob_ws, "user_typing")
    await ann_ws.send_json_to(stop(group_room))
    await receive_until(bob_ws, "user_stopped_typing")
    await ann_ws.send_json_to(stop(group_room))
    assert await bob_ws.receive_nothing(timeout=1.5)


async def test_ready_tells_a_newcomer_who_is_typing(backend, ws_connect, ann, bob, group_room):
    ann_ws = await ws_connect(ann)
    await ann_ws.send_json_to({"id": "t", **start(group_room)})
    await receive_until(ann_ws, "ack", request_id="t")
    bob_ws = await ws_connect(bob)
    assert bob_ws.ready["data"]["typing"] == [
        {
            "room": group_room.id,
            "user": {
                "id": ann.id,
                "username": "ann",
                "display_name": "Ann",
                "avatar_url": None,
                "avatar_small_url": None,
                "is_bot": False,
            },
        }
    ]
    assert (await ws_connect(ann)).ready["data"]["typing"] == []


async def test_closing_the_connection_ends_its_typing(backend, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await ann_ws.send_json_to(start(group_room))
    await receive_until(bob_ws, "user_typing")
    await ann_ws.disconnect()
    event = await receive_until(bob_ws, "user_stopped_typing")
    assert event["data"]["user"]["id"] == ann.id


async def test_typing_in_a_room_the_user_is_not_in_is_not_found(backend, ws_connect, cat, group_room):
    cat_ws = await ws_connect(cat)
    await cat_ws.send_json_to({"id": "t", **start(group_room)})
    error = await receive_until(cat_ws, "error", request_id="t")
    assert error["data"]["code"] == "not_found"


async def test_typing_writes_nothing_to_the_database(backend, ws_connect, ann, bob, group_room, settings):
    """Consumers run every query through realtime.database; with one database thread, watch its connection."""
    from django.db import connection

    from realtime.database import database_call

    settings.DB_THREADS = 1

    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    executed: list[str] = []

    def record(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    def install():
        connection.execute_wrappers.append(record)

    def remove():
        connection.execute_wrappers.remove(record)

    await database_call(install)
    try:
        await ann_ws.send_json_to(start(group_room))
        await receive_until(bob_ws, "user_typing")
        await ann_ws.send_json_to(stop(group_room))
        await receive_until(bob_ws, "user_stopped_typing")
        during_typing = list(executed)
        await ann_ws.send_json_to({"id": "probe", "type": "mark_as_read", "data": {"room": group_room.id, "seq": 0}})
        await receive_until(ann_ws, "ack", request_id="probe")
    finally:
        await database_call(remove)
    # The probe (a real action) proves the wrapper sees the consumers' queries; typing added none.
    assert during_typing == []
    assert executed


async def test_room_snapshot_tells_a_user_who_joins_a_room_who_is_typing_there(backend, ws_connect, ann, cat):
    """For the ``join_room`` ack: the consumer merges ``presence.realtime.room_snapshot`` into it."""
    from types import SimpleNamespace

    from asgiref.sync import sync_to_async

    from chat import actions
    from presence import realtime

    room = await sync_to_async(actions.create_group_room)(ann, name="Lobby", is_public=True)
    ann_ws = await ws_connect(ann)
    await ann_ws.send_json_to({"id": "t", "type": "typing_start", "data": {"room": room["id"]}})
    await receive_until(ann_ws, "ack", request_id="t")
    cat_ws = await ws_connect(cat)
    await cat_ws.send_json_to({"id": "j", "type": "join_room", "data": {"room": room["id"]}})
    await receive_until(cat_ws, "ack", request_id="j")
    snapshot = await realtime.room_snapshot(SimpleNamespace(user=cat), room["id"])
    assert snapshot["typing"] == [
        {
            "room": room["id"],
            "user": {
                "id": ann.id,
                "username": "ann",
                "display_name": "Ann",
                "avatar_url": None,
                "avatar_small_url": None,
                "is_bot": False,
            },
        }
    ]
    assert [p["user"]["id"] for p in snapshot["presence"]] == [ann.id, cat.id]
