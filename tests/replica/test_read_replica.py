"""Reads on a streaming replica (DATABASE_REPLICA_URL): history pages, search and room lists read there
only when the replica has replayed what they show, so a reader always sees their own writes.

Where a read went is told by the process counters (``core.metrics.counts``): ``replica_reads`` counts the
reads the replica answered, ``replica_stale`` the reads sent to the primary because it lagged.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from chat import actions
from chat.consumers import _authenticate_and_load
from core.metrics import counts
from core.replica import REPLICA, read_on_replica
from tests.replica.conftest import repoint_replica

# "__all__": the replica alias, added by a fixture, is allowed; as a mirror of default it is never flushed.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ROOMS = "/api/v1/rooms/"
SEARCH = "/api/v1/search/"
CATCH_UP_SECONDS = 10


def history(room_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/messages/"


@pytest.fixture(autouse=True)
def no_send_limit(settings):
    settings.RATE_LIMIT_MESSAGES = 0


def caught_up(replica) -> None:
    """Wait (bounded) until the replica has replayed everything the primary has committed so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") != (True,):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.02)


def where_reads_went(read) -> tuple[object, int, int]:
    """``read()``'s answer, and how many reads the replica answered and how many it was too stale for."""
    reads, stale = counts.replica_reads, counts.replica_stale
    answer = read()
    return answer, counts.replica_reads - reads, counts.replica_stale - stale


# --- History pages ------------------------------------------------------------------------


def test_a_history_page_right_after_a_send_includes_the_message(replica_db, api_for, ann, group_room):
    sent = api_for(ann).post(history(group_room.id), {"body": "just now"}, format="json").json()

    page = api_for(ann).get(history(group_room.id)).json()

    assert [m["id"] for m in page["messages"]][-1] == sent["id"]


def test_a_history_page_is_read_on_the_replica_once_it_has_replayed_the_room(replica_db, api_for, ann, group_room):
    sent = [actions.send_message(ann, group_room.id, body=f"m{n}")[0]["id"] for n in range(3)]
    caught_up(replica_db)

    page, on_replica, stale = where_reads_went(lambda: api_for(ann).get(history(group_room.id)).json())

    assert (on_replica, stale) == (1, 0)
    assert [m["id"] for m in page["messages"]] == sent


def test_an_older_history_page_is_read_on_the_replica_too(replica_db, api_for, ann, group_room):
    sent = [actions.send_message(ann, group_room.id, body=f"m{n}")[0] for n in range(3)]
    caught_up(replica_db)

    page, on_replica, _ = where_reads_went(
        lambda: api_for(ann).get(history(group_room.id), {"before": sent[2]["seq"]}).json()
    )

    assert on_replica == 1
    assert [m["id"] for m in page["messages"]] == [sent[0]["id"], sent[1]["id"]]


def test_a_history_page_is_read_on_the_primary_while_the_replica_lags(replica_db, api_for, ann, group_room):
    earlier = actions.send_message(ann, group_room.id, body="before the pause")[0]
    caught_up(replica_db)
    replica_db.pause_replay()
    sent = api_for(ann).post(history(group_room.id), {"body": "during the pause"}, format="json").json()

    page, on_replica, stale = where_reads_went(lambda: api_for(ann).get(history(group_room.id)).json())

    assert (on_replica, stale) == (0, 1)
    assert [m["id"] for m in page["messages"]] == [earlier["id"], sent["id"]]


def test_an_edit_the_replica_has_not_replayed_is_read_on_the_primary(replica_db, api_for, ann, group_room):
    sent = actions.send_message(ann, group_room.id, body="first words")[0]
    caught_up(replica_db)
    replica_db.pause_replay()
    api_for(ann).patch(f"/api/v1/messages/{sent['id']}/", {"body": "second words"}, format="json")

    page, on_replica, stale = where_reads_went(lambda: api_for(ann).get(history(group_room.id)).json())

    assert (on_replica, stale) == (0, 1)
    assert [m["body"] for m in page["messages"]] == ["second words"]


def test_a_lagging_replica_still_serves_a_room_it_has_replayed(replica_db, api_for, ann, bob, group_room):
    quiet = api_for(ann).post(ROOMS, {"name": "Quiet", "members": [bob.id]}, format="json").json()
    actions.send_message(ann, quiet["id"], body="old news")
    caught_up(replica_db)
    replica_db.pause_replay()
    actions.send_message(ann, group_room.id, body="busy elsewhere")

    page, on_replica, stale = where_reads_went(lambda: api_for(bob).get(history(quiet["id"])).json())

    assert (on_replica, stale) == (1, 0)
    assert [m["body"] for m in page["messages"]] == ["old news"]


# --- Search and room lists ------------------------------------------------------------------


def test_search_is_read_on_the_replica_once_it_has_replayed_the_users_rooms(replica_db, api_for, ann, group_room):
    sent = actions.send_message(ann, group_room.id, body="the quarterly report")[0]
    caught_up(replica_db)

    found, on_replica, stale = where_reads_went(lambda: api_for(ann).get(SEARCH, {"q": "quarterly"}).json())

    assert (on_replica, stale) == (1, 0)
    assert [m["id"] for m in found] == [sent["id"]]


def test_search_finds_a_message_the_replica_has_not_replayed(replica_db, api_for, ann, group_room):
    caught_up(replica_db)
    replica_db.pause_replay()
    sent = api_for(ann).post(history(group_room.id), {"body": "the quarterly report"}, format="json").json()

    found, on_replica, stale = where_reads_went(lambda: api_for(ann).get(SEARCH, {"q": "quarterly"}).json())

    assert (on_replica, stale) == (0, 1)
    assert [m["id"] for m in found] == [sent["id"]]


def test_the_room_list_is_read_on_the_replica_once_it_has_replayed_the_users_rooms(
    replica_db, api_for, ann, group_room
):
    caught_up(replica_db)

    rooms, on_replica, stale = where_reads_went(lambda: api_for(ann).get(ROOMS).json())

    assert (on_replica, stale) == (1, 0)
    assert [room["id"] for room in rooms] == [group_room.id]


def test_a_connects_room_list_is_read_on_the_replica_once_it_has_replayed_the_users_rooms(replica_db, ann, group_room):
    """A connect sends its reads ahead together (``core.compiled.read_together``); the room list still
    goes to the replica when it may."""
    caught_up(replica_db)
    token = str(AccessToken.for_user(ann))

    (_, _, (ready, _)), on_replica, stale = where_reads_went(lambda: _authenticate_and_load(token))

    assert (on_replica, stale) == (1, 0)
    assert [room["id"] for room in ready["rooms"]] == [group_room.id]


def test_the_room_list_shows_a_room_created_while_the_replica_lags(replica_db, api_for, ann, bob, group_room):
    caught_up(replica_db)
    replica_db.pause_replay()
    created = api_for(ann).post(ROOMS, {"name": "New", "members": [bob.id]}, format="json").json()

    rooms, on_replica, stale = where_reads_went(lambda: api_for(ann).get(ROOMS).json())

    assert (on_replica, stale) == (0, 1)
    assert {room["id"] for room in rooms} == {group_room.id, created["id"]}


def test_the_room_list_counts_a_message_the_replica_has_not_replayed_as_unread(
    replica_db, api_for, ann, bob, group_room
):
    caught_up(replica_db)
    replica_db.pause_replay()
    actions.send_message(ann, group_room.id, body="unread by bob")

    rooms, on_replica, stale = where_reads_went(lambda: api_for(bob).get(ROOMS).json())

    assert (on_replica, stale) == (0, 1)
    assert [room["unread"] for room in rooms] == [1]


# --- Everything else stays on the primary ------------------------------------------------------


def test_writes_and_permission_checks_never_touch_the_replica(replica_db, api_for, ann, group_room):
    caught_up(replica_db)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        api_for(ann).post(history(group_room.id), {"body": "hello"}, format="json")
        api_for(ann).patch(f"/api/v1/rooms/{group_room.id}/", {"topic": "new"}, format="json")

    assert list(on_replica) == []


def test_a_read_inside_a_transaction_stays_on_the_primary(replica_db, ann, group_room):
    from django.db import transaction

    from chat import queries

    caught_up(replica_db)
    with transaction.atomic(), CaptureQueriesContext(connections[REPLICA]) as on_replica:
        actions.send_message(ann, group_room.id, body="not committed yet")
        page = queries.history_page(group_room.__class__.objects.get(pk=group_room.pk))

    assert list(on_replica) == []
    assert [m["body"] for m in page["messages"]] == ["not committed yet"]


# --- Bounds: a dead or slow replica ---------------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a replica hung mid-handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


@pytest.fixture
def hung_replica(replica_db, silent_port) -> None:
    repoint_replica(silent_port, connect_timeout=1.0)


def test_a_hung_replica_costs_one_connect_timeout_then_is_left_alone(hung_replica, api_for, ann, group_room, settings):
    settings.DATABASE_REPLICA_RETRY_SECONDS = 60
    sent = actions.send_message(ann, group_room.id, body="still here")[0]
    failures = counts.replica_failures

    first = api_for(ann).get(history(group_room.id)).json()
    second = api_for(ann).get(history(group_room.id)).json()

    assert counts.replica_failures - failures == 1
    assert [m["id"] for m in first["messages"]] == [m["id"] for m in second["messages"]] == [sent["id"]]


def test_a_replica_query_past_its_statement_timeout_is_answered_by_the_primary(replica_db):
    repoint_replica(replica_db.port, query_timeout=0.2)
    failures = counts.replica_failures

    def slow_probe(cursor) -> bool:
        cursor.execute("SELECT pg_sleep(5)")
        return True

    answer = read_on_replica(slow_probe, lambda: "read on the primary")

    assert answer == "read on the primary"
    assert counts.replica_failures - failures == 1
