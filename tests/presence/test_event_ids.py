"""Presence event ids: copies of one event to several groups share one; a single copy has none.

A connection forwards a shared id once and remembers the ids it has seen
(``presence.realtime.frame_for``); an event sent to one group cannot reach a
connection twice, so its receivers keep no memory of it.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from presence.actions import presence_messages, presence_payload
from presence.realtime import frame_for

pytestmark = pytest.mark.django_db

RECEIVER = 0  # no user has id 0: the receiver is never the subject


def _connection() -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(id=RECEIVER))


def _user_online(user, room_ids: list[int]) -> list[tuple[str, dict]]:
    return presence_messages("user_online", presence_payload(user, True), room_ids, subject_id=user.id)


def test_an_event_to_one_room_group_carries_no_event_id(ann):
    [(group, message)] = _user_online(ann, [7])

    assert group == "room.7"
    assert "eid" not in message


def test_copies_of_an_event_to_several_groups_share_one_event_id(ann):
    messages = _user_online(ann, [7, 8])

    assert [group for group, _ in messages] == ["room.7", "room.8"]
    assert len({message["eid"] for _, message in messages}) == 1


def test_a_connection_given_single_copies_remembers_nothing(ann):
    connection = _connection()
    for _ in range(3):
        [(_, message)] = _user_online(ann, [7])

        assert frame_for(connection, message) == message["frame"]

    assert not hasattr(connection, "presence_seen_events")


def test_a_connection_in_two_of_the_groups_forwards_the_event_once(ann):
    connection = _connection()
    first, second = (message for _, message in _user_online(ann, [7, 8]))

    assert frame_for(connection, first) == first["frame"]
    assert frame_for(connection, dict(second)) is None  # a copy decoded from another group's channel
