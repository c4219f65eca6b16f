"""The notification work costs a fixed number of queries whatever the room size.

A send with ``@room`` reads the room's memberships once and stores every
notification with one bulk insert. SQLite caps a statement at 999
parameters, so Django splits that insert into batches of 142 rows there;
PostgreSQL (CI, production) takes it in one statement.
"""

import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import actions
from chat.models import Room, RoomMember
from notifications.models import Notification

from .helpers import send

pytestmark = pytest.mark.django_db

User = get_user_model()

# The whole send with @room: membership, savepoint, seq, message insert, the
# notification work (one read of the memberships, one bulk insert), the
# sender's read mark, release; plus one insert batch of slack for SQLite.
# (PostgreSQL takes seq, message insert and read mark in one statement.)
SEND_QUERY_BUDGET = 9
# The statements of that send other than the notification insert.
OTHER_STATEMENTS = {"postgresql": 5, "sqlite": 7}


def big_room(owner, size: int, tag: str) -> Room:
    """A group room of ``size`` members (the owner included), set up in bulk."""
    room = Room.objects.create(kind=Room.Kind.GROUP, name=f"Big {tag}", created_by=owner)
    users = User.objects.bulk_create([User(username=f"{tag}-{i}", display_name=f"Member {i}") for i in range(size - 1)])
    RoomMember.objects.bulk_create(
        [RoomMember(room=room, user=owner, role=RoomMember.Role.OWNER)]
        + [RoomMember(room=room, user=user) for user in users]
    )
    return room


def is_notification_insert(sql: str) -> bool:
    return sql.startswith('INSERT INTO "notifications_notification"')


@pytest.mark.parametrize("size", [5, 200])
def test_a_room_mention_stays_within_the_query_budget(ann, django_assert_max_num_queries, size):
    room = big_room(ann, size, f"r{size}")
    with django_assert_max_num_queries(SEND_QUERY_BUDGET):
        send(ann, room, "@room release is out")
    assert Notification.objects.filter(room=room).count() == size - 1


def test_a_5_and_a_200_member_room_run_the_same_statements(ann):
    captured = {}
    for size in (5, 200):
        room = big_room(ann, size, f"r{size}")
        with CaptureQueriesContext(connection) as queries:
            send(ann, room, "@room release is out")
        captured[size] = [q["sql"] for q in queries.captured_queries]
    print(
        f"\nqueries of a send with @room ({connection.vendor}): 5 members {len(captured[5])}, 200 {len(captured[200])}"
    )
    others = {size: [sql for sql in sqls if not is_notification_insert(sql)] for size, sqls in captured.items()}
    assert len(others[5]) == len(others[200]) == OTHER_STATEMENTS[connection.vendor]
    inserts = {size: sum(map(is_notification_insert, sqls)) for size, sqls in captured.items()}
    assert inserts[5] == 1
    assert inserts[200] == (1 if connection.vendor == "postgresql" else 2)  # SQLite: 142 rows a batch


def test_a_1000_member_room_mention_is_one_read_and_one_insert_on_postgresql(ann, postgres):
    room = big_room(ann, 1000, "k")
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        send(ann, room, "@room release is out")
    elapsed = time.perf_counter() - started
    print(f"\nsend with @room to 1000 members: {len(queries.captured_queries)} queries, {elapsed * 1000:.0f} ms")
    sqls = [q["sql"] for q in queries.captured_queries]
    assert sum(map(is_notification_insert, sqls)) == 1
    assert len(sqls) == OTHER_STATEMENTS["postgresql"] + 1
    assert Notification.objects.filter(room=room).count() == 999


def test_an_edit_adding_a_room_mention_in_a_large_room_stays_within_the_budget(ann, django_assert_max_num_queries):
    room = big_room(ann, 200, "edit")
    message = send(ann, room, "release is out")
    # An edit also loads the message and its membership and checks attachments.
    with django_assert_max_num_queries(SEND_QUERY_BUDGET + 4):
        actions.edit_message(ann, message["id"], body="@room release is out")
    assert Notification.objects.filter(room=room).count() == 199


def test_an_ordinary_message_costs_the_notifications_no_query(ann, bob, group_room):
    with CaptureQueriesContext(connection) as queries:
        send(ann, group_room, "hello")
    sqls = [q["sql"] for q in queries.captured_queries]
    assert [sql for sql in sqls if "notifications_notification" in sql] == []
    assert [sql for sql in sqls if "notify_level" in sql and "accounts_user" in sql] == []
