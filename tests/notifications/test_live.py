"""Live delivery: the ``notification`` event reaches every open connection of its recipient.

Through the real ASGI application and channel layer (in memory, and Redis in
one test), after the send commits.
"""

import uuid

import pytest
from channels.db import database_sync_to_async

from chat import actions
from notifications.actions import mark_notifications_read
from notifications.models import Notification
from notifications.payloads import notification_payload
from tests.conftest import receive_until

from .helpers import direct_room, group_of

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def send(user, room, body, **kwargs) -> dict:
    payload, _ = actions.send_message(user, room.id, body=body, **kwargs)
    return payload


@database_sync_to_async
def stored_payload(**filters) -> dict:
    notification = Notification.objects.select_related("actor", "room", "message__sender").get(**filters)
    return notification_payload(notification)


@database_sync_to_async
def make_room(owner, *members):
    return group_of(owner, *members)


async def test_a_mention_reaches_both_open_connections_of_the_mentioned_user(ws_connect, ann, bob, group_room):
    first = await ws_connect(bob)
    second = await ws_connect(bob)
    message = await send(ann, group_room, "hi @bob")
    frames = [await receive_until(first, "notification"), await receive_until(second, "notification")]
    expected = await stored_payload(recipient=bob)
    assert frames[0]["data"] == frames[1]["data"] == expected
    assert expected["kind"] == "mention"
    assert expected["room"] == group_room.id
    assert expected["room_name"] == "General"
    assert expected["actor"] == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    assert expected["message"]["id"] == message["id"]
    assert expected["message"]["body"] == "hi @bob"
    assert expected["read_at"] is None


async def test_a_message_sent_over_the_websocket_notifies_the_mentioned_member(ws_connect, ann, bob, group_room):
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    await ann_ws.send_json_to(
        {
            "type": "send_message",
            "id": "s1",
            "data": {"room": group_room.id, "body": "@bob ping", "client_id": str(uuid.uuid4())},
        }
    )
    ack = await receive_until(ann_ws, "ack", request_id="s1")
    frame = await receive_until(bob_ws, "notification")
    assert frame["data"]["kind"] == "mention"
    assert frame["data"]["message"]["id"] == ack["data"]["message"]["id"]
    assert frame["data"] == await stored_payload(recipient=bob)


async def test_a_direct_message_notifies_the_other_member_live(ws_connect, ann, bob):
    room = await database_sync_to_async(direct_room)(ann, bob)
    bob_ws = await ws_connect(bob)
    await send(ann, room, "psst")
    frame = await receive_until(bob_ws, "notification")
    assert (frame["data"]["kind"], frame["data"]["room"], frame["data"]["room_name"]) == ("dm", room.id, "")
    assert frame["data"]["message"]["body"] == "psst"


async def test_an_edit_that_adds_a_mention_notifies_live_with_the_new_body(ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    message = await send(ann, group_room, "hi")
    await database_sync_to_async(actions.edit_message)(ann, message["id"], body="hi @bob")
    frame = await receive_until(bob_ws, "notification")
    assert frame["data"]["message"]["id"] == message["id"]
    assert frame["data"]["message"]["body"] == "hi @bob"


async def test_ready_carries_the_unread_notification_count(ws_connect, ann, bob, group_room):
    await send(ann, group_room, "one @bob")
    await send(ann, group_room, "two @bob")
    await send(ann, group_room, "three @bob")
    first = await database_sync_to_async(Notification.objects.filter(recipient=bob).earliest)("id")
    await database_sync_to_async(mark_notifications_read)(bob, [first.id])
    bob_ws = await ws_connect(bob)
    ann_ws = await ws_connect(ann)
    assert bob_ws.ready["data"]["notifications_unread"] == 2
    assert ann_ws.ready["data"]["notifications_unread"] == 0


async def test_marking_read_over_rest_tells_the_users_other_connections(ws_connect, api_for, ann, bob, group_room):
    await send(ann, group_room, "hi @bob")
    bob_ws = await ws_connect(bob)
    response = await database_sync_to_async(api_for(bob).post)("/api/v1/notifications/read/", {}, format="json")
    assert response.status_code == 200
    frame = await receive_until(bob_ws, "notifications_read")
    assert frame["data"]["ids"] is None
    assert frame["data"]["unread_count"] == 0
    assert frame["data"]["read_at"] is not None


async def test_a_room_mention_reaches_two_connections_of_each_member_over_redis(redis_url, ws_connect, ann, bob, cat):
    room = await make_room(ann, bob, cat)
    sockets = {user.username: [await ws_connect(user), await ws_connect(user)] for user in (bob, cat)}
    await send(ann, room, "@room standup")
    for pair in sockets.values():
        frames = [await receive_until(ws, "notification", timeout=5) for ws in pair]
        assert frames[0]["data"] == frames[1]["data"]
        assert frames[0]["data"]["kind"] == "mention"
        assert frames[0]["data"]["message"]["body"] == "@room standup"
