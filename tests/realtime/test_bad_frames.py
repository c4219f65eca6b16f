"""WebSocket: bad input in a frame is an ``invalid`` error for that request, never ``server_error``."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import actions
from chat.models import Message, Reaction
from presence.models import Presence
from tests.chat.test_consumer import request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+00:00", "0001-01-01T00:30:00+01:00", "2026-01-01T00:00:00+99:00", "1999-12-31T23:59:59Z"],
)
async def test_sync_refuses_a_since_out_of_range_as_invalid(ws_connect, bob, group_room, since):
    ws = await ws_connect(bob)

    answer = await request(ws, "sync", {"rooms": {str(group_room.id): 0}, "since": since})

    assert answer["type"] == "error"
    assert answer["data"] == {
        "code": "invalid",
        "message": "`since` must be the `server_time` of an earlier `ready` or `sync`.",
    }


async def test_send_message_refuses_a_kind_given_as_a_list(ws_connect, ann, group_room):
    ws = await ws_connect(ann)

    answer = await request(ws, "send_message", {"room": group_room.id, "body": "x", "kind": ["text"]})

    assert answer["data"] == {"code": "invalid", "message": "`kind` must be one of: code, file, image, text."}
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_add_reaction_refuses_nul_in_the_emoji(ws_connect, ann, group_room):
    payload, _ = await database_sync_to_async(actions.send_message)(ann, group_room.id, body="hi")
    ws = await ws_connect(ann)

    answer = await request(ws, "add_reaction", {"message": payload["id"], "emoji": "\x00"})

    assert answer["data"]["code"] == "invalid"
    assert await database_sync_to_async(Reaction.objects.count)() == 0


async def test_update_status_refuses_nul_in_the_status_text(ws_connect, ann):
    ws = await ws_connect(ann)

    answer = await request(ws, "update_status", {"status_text": "a\x00b"})

    assert answer["data"] == {"code": "invalid", "message": "`status_text` must not contain NUL characters."}
    assert not await database_sync_to_async(Presence.objects.exclude(status_text="").exists)()


async def test_a_frame_nested_past_the_json_depth_limit_is_invalid_and_the_socket_stays(ws_connect, ann, settings):
    settings.JSON_MAX_DEPTH = 4
    ws = await ws_connect(ann)

    await ws.send_to(text_data='{"type": "ping", "id": "deep", "data": {"a": [[[1]]]}}')
    error = await ws.receive_json_from(timeout=3)

    assert error["type"] == "error"
    assert error["data"] == {"code": "invalid", "message": "JSON may nest arrays and objects at most 4 deep."}
    assert (await request(ws, "ping", {"a": [[1]]}, "at-limit"))["type"] == "ack"
