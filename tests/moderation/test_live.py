"""What a connected member sees when a moderator acts in admin: the same live events as a member's own action."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import actions as chat_actions
from chat.models import Message
from moderation import actions
from tests.conftest import receive_until
from tests.moderation.test_admin import apply_action, run_action

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def post(client, *args, **kwargs):
    return client.post(*args, **kwargs)


@database_sync_to_async
def create(function, *args, **kwargs):
    return function(*args, **kwargs)


async def test_a_soft_delete_in_admin_reaches_the_room_as_message_deleted(
    ws_connect, moderator, admin_client_for, ann, bob, group_room, say
):
    message = await create(say, bob, group_room, "bad words")
    ann_ws = await ws_connect(ann)
    client = await create(admin_client_for, moderator)
    await post(
        client, "/admin/chat/message/", {"action": "soft_delete", "_selected_action": [message.id], "apply": "1"}
    )
    event = await receive_until(ann_ws, "message_deleted")
    assert event["data"] == {"room": group_room.id, "message": message.id, "seq": message.seq}


async def test_a_restore_in_admin_reaches_the_room_as_message_restored(
    ws_connect, moderator, admin_client_for, ann, bob, group_room, say
):
    message = await create(say, bob, group_room, "misunderstood")
    await create(actions.delete_message, moderator, message.id)
    ann_ws = await ws_connect(ann)
    client = await create(admin_client_for, moderator)
    await create(apply_action, client, "/admin/chat/message/", "restore", [message.id], reason="ok after all")
    event = await receive_until(ann_ws, "message_restored")
    assert event["data"]["message"]["id"] == message.id
    assert event["data"]["message"]["deleted"] is False
    assert event["data"]["message"]["body"] == "misunderstood"


async def test_a_pin_and_unpin_in_admin_reach_the_room(
    ws_connect, moderator, admin_client_for, ann, bob, group_room, say
):
    message = await create(say, bob, group_room, "rules: be kind")
    ann_ws = await ws_connect(ann)
    client = await create(admin_client_for, moderator)
    await create(run_action, client, "/admin/chat/message/", "pin", [message.id])
    pinned = await receive_until(ann_ws, "message_pinned")
    assert (pinned["data"]["message"], pinned["data"]["pinned_by"]) == (message.id, moderator.id)
    await create(run_action, client, "/admin/chat/message/", "unpin", [message.id])
    unpinned = await receive_until(ann_ws, "message_unpinned")
    assert (unpinned["data"]["message"], unpinned["data"]["pinned_by"]) == (message.id, None)


async def test_removing_a_member_in_admin_tells_the_room_and_the_member(
    ws_connect, moderator, admin_client_for, ann, bob, group_room
):
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    client = await create(admin_client_for, moderator)
    await post(client, f"/admin/chat/room/{group_room.id}/members/{bob.id}/remove/", {"reason": "spam"})
    left = await receive_until(ann_ws, "member_left")
    assert left["data"]["room"] == group_room.id and left["data"]["user"]["id"] == bob.id
    removed = await receive_until(bob_ws, "room_removed")
    assert removed["data"] == {"room": group_room.id}


async def test_a_muted_member_is_refused_over_the_socket_with_a_clear_message(
    ws_connect, moderator, admin_client_for, bob, group_room
):
    bob_ws = await ws_connect(bob)
    client = await create(admin_client_for, moderator)
    await post(client, f"/admin/chat/room/{group_room.id}/members/{bob.id}/mute/", {"minutes": "60"})
    await bob_ws.send_json_to({"type": "send_message", "id": "m1", "data": {"room": group_room.id, "body": "hi"}})
    error = await receive_until(bob_ws, "error", request_id="m1")
    assert error["data"]["code"] == "forbidden"
    assert "muted you in this room until" in error["data"]["message"]
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_suspending_a_user_in_admin_closes_their_sockets_with_4403(ws_connect, moderator, admin_client_for, bob):
    first = await ws_connect(bob)
    second = await ws_connect(bob)  # another tab
    client = await create(admin_client_for, moderator)
    await create(apply_action, client, "/admin/accounts/user/", "suspend", [bob.id], reason="spam bot")
    for socket in (first, second):
        error = await receive_until(socket, "error")
        assert error["data"]["code"] == "forbidden"
        assert "suspended" in error["data"]["message"]
        closed = await socket.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": 4403}


async def test_a_suspended_user_cannot_open_a_socket_again(ws_connect, moderator, bob):
    from channels.testing import WebsocketCommunicator
    from rest_framework_simplejwt.tokens import AccessToken

    from config.asgi import application

    token = str(await database_sync_to_async(AccessToken.for_user)(bob))
    await create(actions.suspend_user, moderator, bob.id)
    communicator = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "authenticate", "data": {"token": token}})
    output = await communicator.receive_output(timeout=3)
    while output["type"] == "websocket.send":
        output = await communicator.receive_output(timeout=3)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_removing_an_upload_in_admin_shows_the_message_without_it(
    ws_connect, moderator, admin_client_for, ann, bob, group_room, upload_for
):
    upload = await create(upload_for, bob, "leak.txt")
    payload, _ = await create(chat_actions.send_message, bob, group_room.id, body="look", attachments=[upload.id])
    assert [a["id"] for a in payload["attachments"]] == [upload.id]
    ann_ws = await ws_connect(ann)
    client = await create(admin_client_for, moderator)
    await post(client, f"/admin/accounts/user/{bob.id}/uploads/{upload.id}/remove/", {"reason": "private data"})
    event = await receive_until(ann_ws, "attachment_removed")
    assert event["data"] == {"room": group_room.id, "message": payload["id"], "upload": upload.id}
