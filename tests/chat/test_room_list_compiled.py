"""The room list every connect loads runs SQL compiled once, and says exactly what the ORM would.

``rooms_for_user`` executes its two querysets from SQL compiled at the first
call (``core.compiled``); ``room_summaries`` over ``user_memberships`` builds
the same payloads through the ORM. Rooms that exercise each column: a group
room with unread messages, a direct room (its peer), a room whose newest
message is a thread-only reply (not the room's last), one whose last message
was deleted, an empty room, and an archived room (left out).
"""

from __future__ import annotations

from datetime import UTC

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import actions
from chat.models import Room
from chat.queries import room_summaries, rooms_for_user, user_memberships
from tests.conftest import prepared_statements

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_limits(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.RATE_LIMIT_ROOMS = 0


@pytest.fixture
def bobs_rooms(ann, bob, cat) -> dict[str, int]:
    busy = actions.create_group_room(ann, name="Busy", members=[bob.id, cat.id])["id"]
    for n in range(3):
        actions.send_message(ann, busy, body=f"**news** {n}")
    actions.send_message(bob, busy, body="mine")
    root, _ = actions.send_message(cat, busy, body="a root")
    actions.send_message(ann, busy, body="a thread-only reply", thread=root["id"])

    direct = actions.get_or_create_direct_room(ann, bob.id)[0]["id"]
    actions.send_message(ann, direct, body="psst")

    deleted = actions.create_group_room(cat, name="Deleted", members=[bob.id])["id"]
    gone, _ = actions.send_message(cat, deleted, body="soon gone")
    actions.delete_message(cat, gone["id"])

    empty = actions.create_group_room(bob, name="Empty", members=[])["id"]
    joined = actions.create_group_room(cat, name="Joined", members=[bob.id])["id"]
    actions.add_member(cat, joined, ann.id)  # "Cat added Ann": a timeline line, with no sender, is the last
    archived = actions.create_group_room(ann, name="Old", members=[bob.id])["id"]
    Room.objects.filter(pk=archived).update(archived=True)
    return {
        "busy": busy,
        "direct": direct,
        "deleted": deleted,
        "empty": empty,
        "joined": joined,
        "archived": archived,
    }


def test_the_compiled_room_list_is_what_the_orm_builds(bob, bobs_rooms):
    compiled = rooms_for_user(bob)

    assert compiled == room_summaries(list(user_memberships(bob.id)))
    live = ("busy", "direct", "deleted", "empty", "joined")
    assert {room["id"] for room in compiled} == {bobs_rooms[name] for name in live}


def test_the_compiled_room_list_counts_unread_and_names_the_last_main_message(bob, bobs_rooms):
    by_id = {room["id"]: room for room in rooms_for_user(bob)}

    busy, direct, deleted = by_id[bobs_rooms["busy"]], by_id[bobs_rooms["direct"]], by_id[bobs_rooms["deleted"]]
    assert busy["unread"] == 1  # the root after Bob's own message; the thread-only reply is not in the room
    assert busy["last_message"]["body"] == "a root"
    assert direct["peer"]["username"] == "ann" and direct["unread"] == 1
    assert deleted["last_message"]["deleted"] is True and deleted["unread"] == 0
    assert by_id[bobs_rooms["empty"]]["last_message"] is None
    timeline_line = by_id[bobs_rooms["joined"]]["last_message"]
    assert timeline_line["kind"] == "system" and timeline_line["sender"] is None


def test_the_compiled_room_list_of_a_user_without_rooms_is_empty(cat):
    assert rooms_for_user(cat) == []


def test_the_room_list_is_two_queries_for_group_rooms(bob, ann, cat):
    for n in range(3):
        actions.create_group_room(ann, name=f"Room {n}", members=[bob.id])
    rooms_for_user(bob)  # compiled at the first call

    with CaptureQueriesContext(connection) as captured:
        rooms = rooms_for_user(bob)

    assert len(rooms) == 3
    assert len(captured) == 2


def test_compiled_rows_read_timestamps_as_the_orm_reads_them(bob, bobs_rooms):
    from django.contrib.auth import get_user_model

    from core.compiled import CompiledQuery
    from presence.models import Presence

    Presence.objects.create(user=bob, last_seen=timezone.now().replace(microsecond=0))  # isoformat drops µs at 0
    columns = ("date_joined", "presence__last_seen")
    users = get_user_model().objects
    compiled = CompiledQuery(lambda user_id: users.filter(pk=user_id).values_list(*columns))

    [row] = compiled.rows(bob.pk)

    assert row == users.filter(pk=bob.pk).values_list(*columns).get()
    assert [value.tzinfo for value in row] == [UTC, UTC]
    assert [value.isoformat() for value in row] == [value.isoformat() for value in (bob.date_joined, row[1])]


def test_the_room_list_statements_are_prepared_once_on_the_connection(postgres, bob, cat, bobs_rooms):
    before = set(prepared_statements())  # what earlier tests left on this connection
    rooms_for_user(bob)
    prepared = set(prepared_statements()) - before
    assert len(prepared) == 2 and all('"chat_roommember"' in statement for statement in prepared)
    rooms_for_user(cat)
    rooms_for_user(bob)
    assert set(prepared_statements()) - before == prepared  # the same two again, for any user: prepared once


def test_with_prepared_statements_off_the_room_list_prepares_nothing(postgres, settings, bob, bobs_rooms):
    settings.DB_PREPARED_STATEMENTS = False
    before = set(prepared_statements())
    rooms = rooms_for_user(bob)
    assert set(prepared_statements()) == before
    assert rooms == room_summaries(user_memberships(bob))
