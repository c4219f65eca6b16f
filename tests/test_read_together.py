"""Compiled reads sent together in one round trip (``core.compiled.read_together``), and a connect's use of it.

Round trips are counted on the wire: libpq's protocol trace of the connection
shows one ``ReadyForQuery`` from the server for each round trip.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.consumers import _authenticate_and_load
from core.compiled import CompiledQuery, read_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

USERNAMES = CompiledQuery(lambda user_id: User.objects.filter(pk=user_id).values_list("username"))


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """Count the round trips the connection makes in the block (into the one-item list given)."""
    connection.ensure_connection()
    counted = [0]
    with tempfile.TemporaryFile() as trace:
        connection.connection.pgconn.trace(trace.fileno())
        try:
            yield counted
        finally:
            connection.connection.pgconn.untrace()
            trace.seek(0)
            counted[0] = sum("\tB\t" in line and "ReadyForQuery" in line for line in trace.read().decode().splitlines())


def test_reads_sent_together_take_one_round_trip(ann, bob):
    with round_trips() as counted, read_together([(USERNAMES, (ann.id,)), (USERNAMES, (bob.id,))]):
        pass

    assert counted == [1]


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


def test_a_token_connect_reads_its_user_and_ready_in_one_round_trip(ann, bob, group_room):
    token = str(AccessToken.for_user(ann))
    _authenticate_and_load(token)  # the statements are prepared on a connection's first run

    with round_trips() as counted:
        user, _, (ready, co_member_rows) = _authenticate_and_load(token)

    assert counted == [1]
    assert user == ann
    assert [room["id"] for room in ready["rooms"]] == [group_room.id]
    assert set(co_member_rows) == {ann.id, bob.id}


def test_a_token_of_an_inactive_user_authenticates_no_one_though_ready_was_read_with_it(ann, group_room):
    token = str(AccessToken.for_user(ann))
    User.objects.filter(pk=ann.pk).update(is_active=False)

    assert _authenticate_and_load(token) is None


def test_a_token_naming_no_user_authenticates_no_one_and_reads_nothing(ann):
    token = AccessToken.for_user(ann)
    token["user_id"] = "not-a-number"

    with CaptureQueriesContext(connection) as captured:
        found = _authenticate_and_load(str(token))

    assert found is None
    assert len(captured) == 0
