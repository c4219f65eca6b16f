"""Changes to a message reach every socket of its room: they carry what changed, never the whole message again.

Measured on the encoded frames the actions hand the channel layer (what each
socket is sent), for a message of the largest body allowed.
"""

import orjson
import pytest

from chat import actions
from core.publishing import call_collecting_events

pytestmark = pytest.mark.django_db(transaction=True)

KIB = 1024


@pytest.fixture
def long_message(ann, group_room, settings):
    body = "x" * settings.MESSAGE_MAX_LENGTH
    assert len(body) == 10_000
    return actions.send_message(ann, group_room.id, body=body)[0]


def only_frame(outbox) -> bytes:
    """The one frame published, in the UTF-8 bytes a socket sends."""
    assert len(outbox) == 1
    return outbox[0][1]["frame"].encode()


def test_a_reaction_to_a_10000_character_message_is_under_1_kib_for_the_room(bob, long_message):
    _, outbox = call_collecting_events(actions.set_reaction, bob, long_message["id"], "👍", True)
    frame = only_frame(outbox)
    assert orjson.loads(frame)["type"] == "reaction_added"
    assert len(frame) < KIB


def test_taking_a_reaction_back_is_under_1_kib_for_the_room(bob, long_message):
    actions.set_reaction(bob, long_message["id"], "👍", True)
    _, outbox = call_collecting_events(actions.set_reaction, bob, long_message["id"], "👍", False)
    assert len(only_frame(outbox)) < KIB


def test_a_pin_of_a_10000_character_message_is_under_1_kib_for_the_room(ann, long_message):
    _, outbox = call_collecting_events(actions.set_pinned, ann, long_message["id"], True)
    assert len(only_frame(outbox)) < KIB


def test_an_edit_event_carries_the_body_once_and_its_rendering_once(ann, long_message):
    new_body = "y" * 10_000
    _, outbox = call_collecting_events(actions.edit_message, ann, long_message["id"], body=new_body)
    frame = only_frame(outbox)
    assert frame.count(b"y" * 10_000) == 2  # body and body_html, nothing else
    assert b"x" * 100 not in frame  # nothing of the old message either
    rendered = len(orjson.loads(frame)["data"]["body_html"])
    assert len(frame) < len(new_body) + rendered + KIB


def test_the_caller_still_gets_the_whole_message(bob, long_message):
    acked, _ = call_collecting_events(actions.set_reaction, bob, long_message["id"], "👍", True)
    assert acked["body"] == long_message["body"]
    assert acked["reactions"] == [{"emoji": "👍", "count": 1, "users": [bob.id]}]
