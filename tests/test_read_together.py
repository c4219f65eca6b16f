"""Compiled reads sent together in one round trip (``core.compiled.read_together``), and a connect's use of it.

Round trips are counted on the wire, in libpq's protocol trace of the connection:
each run of messages from the client (F) that the server's (B) then answer is one.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.consumers import _authenticate_and_load, _authenticate_and_load_many, _load_ready_many
from chat.models import Room
from core.compiled import CompiledQuery, read_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

USERNAMES = CompiledQuery(lambda user_id: User.objects.filter(pk=user_id).values_list("username"))
ROOM_NAMES = CompiledQuery(lambda room_id: Room.objects.filter(pk=room_id).values_list("name"))


@contextmanager
def table_locked(table: str) -> Iterator[Callable[[], None]]:
    """``table`` locked by another connection (ACCESS EXCLUSIVE) until the callable given is called."""
    import psycopg

    locker = psycopg.connect(connection.connection.info.dsn)
    try:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield locker.rollback
    finally:
        locker.close()


def when_waiting_for_a_lock(backend_pid: int, then: Callable[[], None]) -> threading.Thread:
    """Call ``then`` (in a thread) once the backend ``backend_pid`` waits for a lock; bounded to 10 s."""
    import psycopg

    dsn = connection.connection.info.dsn  # read here: the connection is busy (and locked) while it waits

    def watch() -> None:
        with psycopg.connect(dsn, autocommit=True) as watcher:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = watcher.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", [backend_pid])
                if row.fetchone()[0]:
                    break
                time.sleep(0.01)
            then(watcher)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def executes_sent_before_the_first_answer(run: Callable[[], object], first_table: str) -> int:
    """How many statements ``run`` sent before the server answered any, while ``first_table`` (which its
    first statement reads) is locked: libpq's protocol trace, client messages (F) before server ones (B)."""
    connection.ensure_connection()
    with tempfile.TemporaryFile() as trace, table_locked(first_table) as release:
        watcher = when_waiting_for_a_lock(connection.connection.info.backend_pid, lambda _: release())
        connection.connection.pgconn.trace(trace.fileno())
        try:
            run()
        finally:
            connection.connection.pgconn.untrace()
            watcher.join()
        trace.seek(0)
        messages = [line.split("\t")[1:4:2] for line in trace.read().decode().splitlines() if line]
    first_answer = next(index for index, (direction, _) in enumerate(messages) if direction == "B")
    return sum(1 for direction, kind in messages[:first_answer] if kind.startswith("Execute"))


@pytest.mark.django_db(transaction=True)
def test_reads_sent_together_all_go_out_before_the_first_answer(ann, group_room):
    reads = [(USERNAMES, (ann.id,)), (ROOM_NAMES, (group_room.id,))]
    USERNAMES.rows(ann.id), ROOM_NAMES.rows(group_room.id)  # prepared, as on a connection's later runs

    def run() -> None:
        with read_together(reads):
            pass

    assert executes_sent_before_the_first_answer(run, "accounts_user") == 2


@pytest.mark.django_db(transaction=True)
def test_each_read_sent_together_ends_its_own_transaction(ann, group_room):
    """No read holds its table's lock while a later one of the batch waits (one transaction for the
    whole batch did, and a TRUNCATE taking the tables in another order deadlocked on it)."""
    connection.ensure_connection()
    reader = connection.connection.info.backend_pid
    held_while_waiting = []

    def look(watcher) -> None:
        row = watcher.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND granted AND relation = 'accounts_user'::regclass",
            [reader],
        )
        held_while_waiting.append(row.fetchone()[0])

    with table_locked("chat_room") as release:
        watcher = when_waiting_for_a_lock(reader, lambda watcher: (look(watcher), release()))
        with read_together([(USERNAMES, (ann.id,)), (ROOM_NAMES, (group_room.id,))]):
            rows = USERNAMES.rows(ann.id), ROOM_NAMES.rows(group_room.id)
        watcher.join()

    assert held_while_waiting == [0]
    assert rows == ([("ann",)], [(group_room.name,)])


def test_a_read_sent_ahead_is_answered_with_its_rows_and_no_statement(ann, bob):
    with read_together([(USERNAMES, (ann.id,)), (USERNAMES, (bob.id,))]):
        with CaptureQueriesContext(connection) as captured:
            rows = USERNAMES.rows(ann.id), USERNAMES.rows(bob.id)

    assert rows == ([("ann",)], [("bob",)])
    assert len(captured) == 0


def test_the_reads_sent_together_are_each_logged_as_a_statement(ann, bob):
    with CaptureQueriesContext(connection) as captured, read_together([(USERNAMES, (ann.id,)), (USERNAMES, (bob.id,))]):
        pass

    assert len(captured) == 2


def test_a_read_sent_ahead_is_answered_once_and_a_second_ask_runs_its_statement(ann):
    with read_together([(USERNAMES, (ann.id,))]):
        USERNAMES.rows(ann.id)
        with CaptureQueriesContext(connection) as captured:
            again = USERNAMES.rows(ann.id)

    assert again == [("ann",)]
    assert len(captured) == 1


def test_a_read_for_values_not_sent_ahead_runs_its_own_statement(ann, bob):
    with read_together([(USERNAMES, (ann.id,))]), CaptureQueriesContext(connection) as captured:
        rows = USERNAMES.rows(bob.id)

    assert rows == [("bob",)]
    assert len(captured) == 1


def test_reads_sent_ahead_are_not_answered_after_the_block(ann):
    with read_together([(USERNAMES, (ann.id,))]):
        pass

    with CaptureQueriesContext(connection) as captured:
        USERNAMES.rows(ann.id)

    assert len(captured) == 1


def test_a_failing_read_raises_djangos_error_and_the_connection_goes_on(ann):
    broken = CompiledQuery(lambda user_id: User.objects.filter(pk=user_id).extra(where=["1/0 = 1"]).values_list("id"))

    # In a savepoint, as a failing statement of a request's transaction would be rolled back to one.
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        read_together([(USERNAMES, (ann.id,)), (broken, (ann.id,))]),
    ):
        pass

    assert USERNAMES.rows(ann.id) == [("ann",)]


# --- A connect ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_token_connect_sends_its_user_read_and_readys_four_together(ann, bob, group_room):
    token = str(AccessToken.for_user(ann))
    _authenticate_and_load(token)  # the statements are prepared on a connection's first run
    found = []

    sent = executes_sent_before_the_first_answer(lambda: found.append(_authenticate_and_load(token)), "accounts_user")

    assert sent == 5
    user, _, (ready, co_member_rows) = found[0]
    assert user == ann
    assert [room["id"] for room in ready["rooms"]] == [group_room.id]
    assert set(co_member_rows) == {ann.id, bob.id}


@pytest.mark.django_db(transaction=True)
def test_the_tokens_of_connects_batched_together_send_all_their_reads_in_one_round_trip(ann, bob, group_room):
    tokens = [str(AccessToken.for_user(ann)), str(AccessToken.for_user(bob))]
    _authenticate_and_load_many(tokens)  # prepared, as on a connection's later runs
    found = []

    sent = executes_sent_before_the_first_answer(
        lambda: found.extend(_authenticate_and_load_many(tokens)), "accounts_user"
    )

    assert sent == 10  # each token's user and its ready's four
    assert [user for user, _, _ in found] == [ann, bob]
    assert [[room["id"] for room in ready["rooms"]] for _, _, (ready, _) in found] == [[group_room.id]] * 2
    assert [ready["user"]["id"] for _, _, (ready, _) in found] == [ann.id, bob.id]


def test_a_batch_answers_each_token_in_order_with_none_for_those_that_authenticate_no_one(
    ann, bob, cat, group_room
):
    inactive = str(AccessToken.for_user(cat))
    User.objects.filter(pk=cat.pk).update(is_active=False)
    tokens = [str(AccessToken.for_user(bob)), "not a token", 7, inactive, str(AccessToken.for_user(ann))]

    found = _authenticate_and_load_many(tokens)

    assert [answer if answer is None else answer[0] for answer in found] == [bob, None, None, None, ann]


def test_a_batch_of_session_sockets_reads_each_users_ready(ann, bob, group_room):
    with CaptureQueriesContext(connection) as captured:
        found = _load_ready_many([ann, bob])

    assert [ready["user"]["id"] for ready, _ in found] == [ann.id, bob.id]
    assert [set(rows) for _, rows in found] == [{ann.id, bob.id}] * 2
    assert len(captured) == 8  # each user's four, sent together


def test_a_token_of_an_inactive_user_authenticates_no_one_though_ready_was_read_with_it(ann, group_room):
    token = str(AccessToken.for_user(ann))
    User.objects.filter(pk=ann.pk).update(is_active=False)

    with CaptureQueriesContext(connection) as captured:
        found = _authenticate_and_load(token)

    assert found is None
    assert len(captured) == 5  # the user's row and ready's four, sent together; nothing after


def test_a_token_naming_no_user_authenticates_no_one_and_reads_nothing(ann):
    token = AccessToken.for_user(ann)
    token["user_id"] = "not-a-number"

    with CaptureQueriesContext(connection) as captured:
        found = _authenticate_and_load(str(token))

    assert found is None
    assert len(captured) == 0


def test_without_psycopgs_private_parts_each_read_runs_on_its_own(ann, monkeypatch):
    """A psycopg upgrade that drops what the pipeline uses (``_can_pipeline`` then says so) must not break
    reads, nor make a batch one transaction: each read then runs on its own."""
    from core import compiled

    monkeypatch.setattr(compiled, "_can_pipeline", lambda: False)
    with read_together([(USERNAMES, (ann.id,))]), CaptureQueriesContext(connection) as captured:
        rows = USERNAMES.rows(ann.id)

    assert rows == [("ann",)]
    assert len(captured) == 1


def test_the_pipeline_finds_every_private_part_of_psycopg_it_uses():
    from core import compiled

    compiled._can_pipeline.cache_clear()
    assert compiled._can_pipeline() is True


@pytest.mark.django_db(transaction=True)
def test_reads_sent_together_still_run_after_psycopg_deallocates_every_statement_on_a_rollback(ann):
    """psycopg sends DEALLOCATE ALL on a rollback of a connection with prepared statements. The pipeline
    prepares through psycopg's own cache, so its statements are prepared again, never run unknown."""
    with read_together([(USERNAMES, (ann.id,))]):
        USERNAMES.rows(ann.id)
    with pytest.raises(RuntimeError), transaction.atomic():
        USERNAMES.rows(ann.id)  # prepared by psycopg's cursor too, so the rollback deallocates
        raise RuntimeError("rolled back")

    with read_together([(USERNAMES, (ann.id,))]):
        assert USERNAMES.rows(ann.id) == [("ann",)]
