"""Presence over WebSockets: per user, not per connection, and only to who shares a room."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from presence import store
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def user_ids(presences: list[dict]) -> list[int]:
    return [p["user"]["id"] for p in presences]


async def test_first_connection_announces_user_online_to_co_members(backend, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    await ws_connect(ann)
    event = await receive_until(bob_ws, "user_online")
    assert event["data"]["user"]["id"] == ann.id
    assert event["data"]["online"] is True
    assert event["data"]["status"] == "online"
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_second_tab_is_not_news_and_closing_one_keeps_user_online(backend, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    first = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ws_connect(ann)
    await first.disconnect()
    assert await bob_ws.receive_nothing(timeout=0.5)
    assert await store.online_user_ids([ann.id, bob.id]) == {ann.id, bob.id}


async def test_closing_every_tab_sends_exactly_one_user_offline_with_last_seen(
    backend, ws_connect, ann, bob, group_room
):
    bob_ws = await ws_connect(bob)
    tabs = [await ws_connect(ann), await ws_connect(ann)]
    await receive_until(bob_ws, "user_online")
    for tab in tabs:
        await tab.disconnect()
    event = await receive_until(bob_ws, "user_offline")
    assert event["data"]["user"]["id"] == ann.id
    assert event["data"]["online"] is False
    assert event["data"]["last_seen"] is not None
    assert await bob_ws.receive_nothing(timeout=0.5)
    assert await store.online_user_ids([ann.id]) == set()


async def test_a_user_sharing_two_rooms_gets_each_event_once(backend, ws_connect, ann, bob, group_room, second_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ann_ws.disconnect()
    await receive_until(bob_ws, "user_offline")
    assert await bob_ws.receive_nothing(timeout=0.5)


async def test_ready_lists_online_co_members_with_their_status(backend, ws_connect, ann, bob, cat, group_room):
    await ws_connect(cat)
    await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    presence = bob_ws.ready["data"]["presence"]
    assert user_ids(presence) == [ann.id, bob.id]
    assert all(p["online"] for p in presence)
    assert bob_ws.ready["data"]["typing"] == []


async def test_a_stranger_receives_no_presence_or_typing_event(backend, ws_connect, ann, bob, cat, group_room):
    cat_ws = await ws_connect(cat)
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ann_ws.send_json_to({"type": "typing_start", "data": {"room": group_room.id}})
    await receive_until(bob_ws, "user_typing")
    await ann_ws.send_json_to({"type": "update_status", "data": {"status": "busy"}})
    await receive_until(bob_ws, "status_changed")
    await ann_ws.disconnect()
    await receive_until(bob_ws, "user_stopped_typing")
    await receive_until(bob_ws, "user_offline")
    assert await cat_ws.receive_nothing(timeout=0.5)
    assert user_ids(cat_ws.ready["data"]["presence"]) == [cat.id]


async def test_update_status_acks_the_presence_and_announces_status_changed(
    backend, ws_connect, ann, bob, group_room, second_room
):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    other_tab = await ws_connect(ann)
    await ann_ws.send_json_to(
        {"id": "s1", "type": "update_status", "data": {"status": "away", "status_text": " Lunch "}}
    )
    ack = await receive_until(ann_ws, "ack", request_id="s1")
    assert ack["data"]["status"] == "away"
    assert ack["data"]["status_text"] == "Lunch"
    assert ack["data"]["online"] is True
    event = await receive_until(bob_ws, "status_changed")
    assert event["data"] == ack["data"]
    mirrored = await receive_until(other_tab, "status_changed")
    assert mirrored["data"] == ack["data"]
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_setting_the_same_status_again_is_not_news(backend, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    for request_id in ("a", "b"):
        await ann_ws.send_json_to({"id": request_id, "type": "update_status", "data": {"status": "busy"}})
        await receive_until(ann_ws, "ack", request_id=request_id)
    await receive_until(bob_ws, "status_changed")
    assert await bob_ws.receive_nothing(timeout=0.5)


@pytest.mark.parametrize(
    "data",
    [{}, {"status": "asleep"}, {"status": 1}, {"status_text": 5}, {"status_text": "x" * 141}],
    ids=["empty", "unknown-status", "status-not-string", "text-not-string", "text-too-long"],
)
async def test_update_status_rejects_bad_input_and_changes_nothing(backend, ws_connect, ann, bob, group_room, data):
    from presence.models import Presence

    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    await ann_ws.send_json_to({"id": "bad", "type": "update_status", "data": data})
    error = await receive_until(ann_ws, "error", request_id="bad")
    assert error["data"]["code"] == "invalid"
    assert await sync_to_async(Presence.objects.filter(user=ann).exclude(status="online").exists)() is False
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_ping_is_acked_with_where_each_room_stands(backend, ws_connect, ann, group_room):
    ws = await ws_connect(ann)
    await ws.send_json_to({"id": "p", "type": "ping"})
    ack = await receive_until(ws, "ack", request_id="p")
    assert ack["data"] == {"rooms": {str(group_room.id): 0}}


async def test_rest_patch_reaches_co_members_over_the_socket(backend, ws_connect, api_for, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    await ws_connect(ann)
    await receive_until(bob_ws, "user_online")
    response = await sync_to_async(api_for(ann).patch)("/api/v1/presence/me/", {"status": "busy"}, format="json")
    assert response.status_code == 200
    event = await receive_until(bob_ws, "status_changed")
    assert event["data"]["status"] == "busy"
    assert event["data"]["online"] is True


async def test_an_idle_connection_still_receives_events_after_six_seconds(redis_url, ws_connect, ann, bob, group_room):
    """redis-py 8's 5 s socket timeout killed idle channel-layer readers; this guards against it coming back."""
    bob_ws = await ws_connect(bob)
    await asyncio.sleep(6)
    await ws_connect(ann)
    event = await receive_until(bob_ws, "user_online")
    assert event["data"]["user"]["id"] == ann.id


async def test_a_connect_on_redis_publishes_its_user_online_from_its_presence_script(
    redis_url, ws_connect, ann, bob, group_room, second_room
):
    """One round trip for a connect's presence: the script that records it publishes its user_online (one
    per shared room), so the connect sends Redis no PUBLISH of its own, and Bob still gets it once."""
    import redis.asyncio as aioredis

    bob_ws = await ws_connect(bob)
    watcher, marker = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    try:
        async with watcher.monitor() as monitor:
            await ws_connect(ann)
            event = await receive_until(bob_ws, "user_online")
            await marker.echo("monitor-end")
            sent = []
            while (command := await monitor.next_command())["command"] != "ECHO monitor-end":
                sent.append((command["client_type"], command["command"].split(" ", 1)[0].upper()))
    finally:
        await watcher.aclose()
        await marker.aclose()

    assert event["data"]["user"]["id"] == ann.id
    assert await bob_ws.receive_nothing(timeout=0.3)
    assert [word for client, word in sent if word == "PUBLISH"] == ["PUBLISH", "PUBLISH"]
    assert all(client == "lua" for client, word in sent if word == "PUBLISH")
