"""``core.compiled.answered_together``: compiled queries read ahead in one round trip (psycopg's pipeline mode).

A connect authenticates and loads ``ready`` with half a dozen small queries;
on PostgreSQL they now go to the server together, and the code that asks for
each one takes the answer read ahead.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.authentication import refresh_token_for
from chat import actions
from chat.consumers import _authenticate_and_load, _load_ready
from chat.models import Room
from core.compiled import CompiledQuery, answered_together
from tests.conftest import database_url_for_subprocess

pytestmark = pytest.mark.django_db

User = get_user_model()
NAME_OF = CompiledQuery(lambda user_id: User.objects.filter(pk=user_id).values_list("username"))
NAMES_AFTER = CompiledQuery(lambda user_id: User.objects.filter(pk__gt=user_id).order_by("pk").values_list("username"))


def pipelines(captured: CaptureQueriesContext) -> list:
    """Which round trip each captured statement went in (None: on its own)."""
    return [query.get("pipeline") for query in captured.captured_queries]


def test_the_named_calls_go_to_the_database_in_one_round_trip(postgres, ann, bob):
    with CaptureQueriesContext(connection) as captured:
        with answered_together([(NAME_OF, (ann.id,)), (NAMES_AFTER, (ann.id,))]):
            read_ahead = len(captured)
            assert NAME_OF.rows(ann.id) == [("ann",)]
            assert NAMES_AFTER.rows(ann.id) == [("bob",)]

    assert read_ahead == 2
    assert len(captured) == 2  # the calls themselves ran nothing
    assert pipelines(captured)[0] is not None
    assert len(set(pipelines(captured))) == 1


def test_the_answers_are_what_each_query_reads_on_its_own(postgres, ann, bob, cat):
    alone = [NAME_OF.rows(bob.id), NAMES_AFTER.rows(ann.id)]
    with answered_together([(NAME_OF, (bob.id,)), (NAMES_AFTER, (ann.id,))]):
        assert [NAME_OF.rows(bob.id), NAMES_AFTER.rows(ann.id)] == alone


def test_an_answer_serves_one_call_and_the_next_call_reads_again(postgres, ann):
    with answered_together([(NAME_OF, (ann.id,))]):
        User.objects.filter(pk=ann.id).update(username="ann2")
        assert NAME_OF.rows(ann.id) == [("ann",)]  # as of the block's start
        assert NAME_OF.rows(ann.id) == [("ann2",)]


def test_a_call_the_block_did_not_name_runs_as_usual(postgres, ann, bob):
    with answered_together([(NAME_OF, (ann.id,))]):
        with CaptureQueriesContext(connection) as captured:
            assert NAME_OF.rows(bob.id) == [("bob",)]

    assert pipelines(captured) == [None]


def test_a_block_inside_another_reads_only_what_the_outer_did_not_answer(postgres, ann, bob):
    with CaptureQueriesContext(connection) as captured:
        with answered_together([(NAME_OF, (ann.id,))]):
            with answered_together([(NAME_OF, (ann.id,)), (NAME_OF, (bob.id,))]):
                assert NAME_OF.rows(bob.id) == [("bob",)]
            assert NAME_OF.rows(ann.id) == [("ann",)]

    assert len(captured) == 2
    assert len(set(pipelines(captured))) == 2


def test_what_an_inner_block_read_and_did_not_use_goes_with_it(postgres, ann, bob):
    with answered_together([(NAME_OF, (ann.id,))]):
        with answered_together([(NAME_OF, (bob.id,))]):
            pass
        with CaptureQueriesContext(connection) as captured:
            assert NAME_OF.rows(bob.id) == [("bob",)]

    assert pipelines(captured) == [None]


def test_an_outer_answer_taken_inside_an_inner_block_is_gone_after_it(postgres, ann):
    with answered_together([(NAME_OF, (ann.id,))]):
        with answered_together([(NAME_OF, (ann.id,))]):
            assert NAME_OF.rows(ann.id) == [("ann",)]
        with CaptureQueriesContext(connection) as captured:
            assert NAME_OF.rows(ann.id) == [("ann",)]

    assert pipelines(captured) == [None]


def test_a_failed_read_raises_djangos_error_and_leaves_the_connection_usable(postgres, ann):
    with pytest.raises(DatabaseError), transaction.atomic():  # the test's transaction goes on past the savepoint
        with answered_together([(NAME_OF, (ann.id,)), (NAME_OF, ("not a number",))]):
            pytest.fail("the block runs only when every answer came back")

    assert NAME_OF.rows(ann.id) == [("ann",)]


def test_a_token_connects_reads_all_go_in_one_round_trip(postgres, ann, bob):
    room = actions.create_group_room(ann, name="Room", members=[bob.id])["id"]
    actions.send_message(bob, room, body="hello")
    token = str(refresh_token_for(ann).access_token)

    with CaptureQueriesContext(connection) as captured:
        user, session, (ready, presence_rows) = _authenticate_and_load(token)

    assert user == ann and session is not None
    assert [r["id"] for r in ready["rooms"]] == [room]
    assert set(presence_rows) == {ann.id, bob.id}
    # the user, the signed-out check, the memberships, the last messages, the unread count, the co-members
    assert len(captured) == 6
    assert pipelines(captured)[0] is not None
    assert len(set(pipelines(captured))) == 1


def test_a_sessions_ready_is_read_in_one_round_trip(postgres, ann, bob):
    actions.create_group_room(ann, name="Room", members=[bob.id])

    with CaptureQueriesContext(connection) as captured:
        ready, _ = _load_ready(ann)

    assert len(ready["rooms"]) == 1
    assert len(captured) == 4
    assert len(set(pipelines(captured))) == 1 and pipelines(captured)[0] is not None


def test_a_token_whose_user_is_deactivated_authenticates_no_one(postgres, ann):
    token = str(refresh_token_for(ann).access_token)
    User.objects.filter(pk=ann.id).update(is_active=False)

    assert _authenticate_and_load(token) is None


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_as_on_a_database_thread_a_token_connect_reads_the_same_twice(postgres, ann, bob):
    actions.create_group_room(ann, name="Room", members=[bob.id])
    token = str(refresh_token_for(ann).access_token)

    first = _authenticate_and_load(token)
    second = _authenticate_and_load(token)  # the statements prepared by the first run again

    assert connection.get_autocommit()
    assert first[0] == second[0] == ann
    assert first[2][0]["rooms"] == second[2][0]["rooms"]
    assert set(first[2][1]) == set(second[2][1]) == {ann.id, bob.id}


@pytest.mark.django_db(transaction=True)
def test_a_thread_handed_the_blocks_context_reads_for_itself(postgres, ann):
    def in_another_thread() -> list:
        try:
            return NAME_OF.rows(ann.id)
        finally:
            connection.close()

    with answered_together([(NAME_OF, (ann.id,))]):
        User.objects.filter(pk=ann.id).update(username="ann2")
        with ThreadPoolExecutor(1) as pool:
            elsewhere = pool.submit(contextvars.copy_context().run, in_another_thread).result()
        here = NAME_OF.rows(ann.id)

    assert elsewhere == [("ann2",)]
    assert here == [("ann",)]


ROOM_NAME = CompiledQuery(lambda room_id: Room.objects.filter(pk=room_id).values_list("name"))


@pytest.mark.django_db(transaction=True)
def test_each_statement_of_a_batch_lets_go_of_its_locks_before_the_next_so_a_lock_in_another_order_gets_through(
    postgres, ann
):
    """A batch reads users, then rooms. Another session holds the rooms table and then asks for the users
    table: had the batch kept its lock on users until its last statement, the two would deadlock."""
    room = actions.create_group_room(ann, name="Room", members=[])["id"]
    url = database_url_for_subprocess()
    with psycopg.connect(url) as locker:
        locker.execute("SET lock_timeout = '5s'")
        locker.execute(f"LOCK TABLE {Room._meta.db_table} IN ACCESS EXCLUSIVE MODE")

        def batch() -> tuple[list, list]:
            try:
                with answered_together([(NAME_OF, (ann.id,)), (ROOM_NAME, (room,))]):
                    return NAME_OF.rows(ann.id), ROOM_NAME.rows(room)
            finally:
                connection.close()

        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(batch)
            with psycopg.connect(url, autocommit=True) as watcher:
                for _ in range(100):  # until the batch waits for the rooms table
                    waiting = watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
                        [locker.info.backend_pid],
                    ).fetchone()[0]
                    if waiting:
                        break
                    time.sleep(0.05)
            assert waiting == 1
            locker.execute(f"LOCK TABLE {User._meta.db_table} IN ACCESS EXCLUSIVE MODE")  # no deadlock
            locker.commit()
            assert reading.result(timeout=10) == ([("ann",)], [("Room",)])
