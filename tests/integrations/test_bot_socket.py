"""A bot on the WebSocket: its API token in the ``authenticate`` frame, refused once revoked."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import actions as chat_actions
from config.asgi import application
from integrations import actions
from integrations.models import BotToken
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def authenticate(token: str) -> tuple[WebsocketCommunicator, dict]:
    ws = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await ws.connect(timeout=5)
    assert connected
    await ws.send_json_to({"type": "authenticate", "id": "a1", "data": {"token": token}})
    return ws, await ws.receive_json_from(timeout=5)


async def test_a_bot_token_authenticates_a_socket_as_the_bot(ann, ann_bot, bot_token, group_room):
    await database_sync_to_async(chat_actions.add_member)(ann, group_room.id, ann_bot.id)
    ws, ready = await authenticate(bot_token)
    assert ready["type"] == "ready"
    assert ready["data"]["user"]["id"] == ann_bot.id and ready["data"]["user"]["is_bot"] is True
    assert [room["id"] for room in ready["data"]["rooms"]] == [group_room.id]
    await ws.send_json_to({"type": "send_message", "id": "m1", "data": {"room": group_room.id, "body": "beep"}})
    ack = await receive_until(ws, "ack", request_id="m1")
    assert ack["data"]["message"]["sender"]["is_bot"] is True
    await ws.disconnect()


async def test_a_revoked_token_cannot_open_a_socket(ann, ann_bot, bot_token):
    token_id = await database_sync_to_async(lambda: BotToken.objects.get().id)()
    await database_sync_to_async(actions.revoke_token)(ann, token_id)
    ws, frame = await authenticate(bot_token)
    assert frame["type"] == "error" and frame["data"]["code"] == "unauthenticated"
    assert (await ws.receive_output(timeout=3))["code"] == 4401


async def test_revoking_a_token_closes_the_sockets_it_opened(ann, ann_bot, bot_token):
    ws, ready = await authenticate(bot_token)
    assert ready["type"] == "ready"
    token_id = await database_sync_to_async(lambda: BotToken.objects.get().id)()
    await database_sync_to_async(actions.revoke_token)(ann, token_id)
    error = await receive_until(ws, "error")
    assert error["data"] == {"code": "forbidden", "message": "This API token was revoked."}
    assert (await ws.receive_output(timeout=3))["code"] == 4403


async def test_revoking_one_token_leaves_the_bots_socket_of_another_token_open(ann, ann_bot, bot_token):
    other_token = await database_sync_to_async(lambda: actions.create_token(ann, ann_bot.id, "other")["token"])()
    revoked_ws, _ = await authenticate(bot_token)
    kept_ws, _ = await authenticate(other_token)
    revoked_id = await database_sync_to_async(lambda: BotToken.objects.get(name="ci").id)()

    await database_sync_to_async(actions.revoke_token)(ann, revoked_id)

    assert (await receive_until(revoked_ws, "error"))["data"]["message"] == "This API token was revoked."
    assert (await revoked_ws.receive_output(timeout=3))["code"] == 4403
    await kept_ws.send_json_to({"type": "ping", "id": "p1", "data": {}})
    assert (await receive_until(kept_ws, "ack", request_id="p1"))["type"] == "ack"
    await kept_ws.disconnect()
