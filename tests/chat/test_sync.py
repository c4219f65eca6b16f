"""``sync`` is exact: a room whose answer was cut says so, whichever cap cut it."""

from __future__ import annotations

import pytest

from chat import actions, queries
from chat.queries import SYNC_ROOMS_PER_ANSWER
from core.errors import ActionError

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_rooms(ann, bob, settings):
    """More rooms than one answer holds, each exactly ``SYNC_MAX_MESSAGES`` messages ahead of Bob."""
    settings.RATE_LIMIT_MESSAGES = 0
    settings.RATE_LIMIT_ROOMS = 0  # more rooms than one answer holds, made by one user
    settings.SYNC_MAX_MESSAGES = 3
    rooms = []
    for index in range(SYNC_ROOMS_PER_ANSWER + 2):
        room = actions.create_group_room(ann, name=f"Room {index}", members=[bob.id])
        for n in range(settings.SYNC_MAX_MESSAGES):
            actions.send_message(ann, room["id"], body=f"room {index} message {n + 1}")
        rooms.append(room["id"])
    return rooms


def test_rooms_cut_by_the_answer_cap_say_has_more(bob, busy_rooms):
    answer = queries.sync_rooms(bob, {str(room_id): 0 for room_id in busy_rooms})

    complete = [room_id for room_id in busy_rooms if not answer["has_more"][str(room_id)]]
    cut = [room_id for room_id in busy_rooms if answer["has_more"][str(room_id)]]
    assert complete == busy_rooms[:SYNC_ROOMS_PER_ANSWER]
    assert cut == busy_rooms[SYNC_ROOMS_PER_ANSWER:]
    for room_id in complete:
        assert [m["seq"] for m in answer["messages"][str(room_id)]] == [1, 2, 3]


def test_syncing_again_from_where_an_answer_stopped_returns_every_message_once(bob, busy_rooms):
    positions = {str(room_id): 0 for room_id in busy_rooms}
    received: dict[str, list[int]] = {key: [] for key in positions}
    for _ in range(5):
        answer = queries.sync_rooms(bob, positions)
        for key, messages in answer["messages"].items():
            received[key] += [m["seq"] for m in messages]
            if messages:
                positions[key] = messages[-1]["seq"]
        if not any(answer["has_more"].values()):
            break

    assert received == {key: [1, 2, 3] for key in positions}
    assert not any(answer["has_more"].values())


def test_a_room_more_than_the_room_cap_behind_says_has_more(ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.SYNC_MAX_MESSAGES = 2
    for n in range(3):
        actions.send_message(ann, group_room.id, body=f"message {n}")

    answer = queries.sync_rooms(bob, {str(group_room.id): 0})

    assert [m["seq"] for m in answer["messages"][str(group_room.id)]] == [1, 2]
    assert answer["has_more"] == {str(group_room.id): True}


@pytest.mark.parametrize("key", ["18446744073709551616", "1e400", "4.9", "-1", "room"])
def test_a_room_key_that_is_not_an_id_is_invalid(bob, key):
    with pytest.raises(ActionError) as raised:
        queries.sync_rooms(bob, {key: 0})
    assert raised.value.code == "invalid"


@pytest.mark.parametrize("seq", [-1, 1.5, "3", True, None, 2**70])
def test_a_seq_that_is_not_a_whole_number_is_invalid(bob, group_room, seq):
    with pytest.raises(ActionError) as raised:
        queries.sync_rooms(bob, {str(group_room.id): seq})
    assert raised.value.code == "invalid"
