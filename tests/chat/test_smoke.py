import uuid

import pytest

from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_message_sent_over_the_socket_reaches_the_other_member(ws_connect, ann, bob, group_room):
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    await ann_ws.send_json_to(
        {
            "type": "send_message",
            "id": "r1",
            "data": {"room": group_room.id, "body": "hi **bob**", "client_id": str(uuid.uuid4())},
        }
    )
    ack = await receive_until(ann_ws, "ack", request_id="r1")
    event = await receive_until(bob_ws, "new_message")
    assert event["data"]["message"] == ack["data"]["message"]
    assert event["data"]["message"]["seq"] == 1
    assert event["data"]["message"]["body_html"] == "<p>hi <strong>bob</strong></p>"
