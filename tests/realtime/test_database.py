"""realtime.database: many calls at once, each lane in order, a bound on what waits, a timeout on each call."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.errors import ActionError
from realtime import database
from realtime.database import DatabaseGateway


def blocker() -> tuple[threading.Event, callable]:
    release = threading.Event()

    def wait_for_release(value=None):
        assert release.wait(10), "never released"
        return value

    return release, wait_for_release


async def test_calls_of_different_lanes_run_at_once():
    gateway = DatabaseGateway(threads=2, max_pending=10, timeout=10)
    release, wait_for_release = blocker()
    held = asyncio.ensure_future(gateway.call(wait_for_release, "held", lane="room 1"))
    # Another room's call finishes while the first room's is still held.
    assert await gateway.call(lambda: "other room", lane="room 2") == "other room"
    assert not held.done()
    release.set()
    assert await held == "held"
    gateway.shutdown()


async def test_calls_of_one_lane_run_one_at_a_time_in_arrival_order():
    gateway = DatabaseGateway(threads=4, max_pending=10, timeout=10)
    order: list[int] = []
    release, wait_for_release = blocker()

    def first() -> None:
        wait_for_release()
        order.append(1)

    calls = [asyncio.ensure_future(gateway.call(first, lane="room"))]
    calls += [asyncio.ensure_future(gateway.call(order.append, n, lane="room")) for n in (2, 3, 4)]
    await asyncio.sleep(0.05)
    assert order == []  # three free threads, yet the lane waits for its first call
    release.set()
    await asyncio.gather(*calls)
    assert order == [1, 2, 3, 4]
    gateway.shutdown()


async def test_a_call_past_the_pending_bound_is_refused_at_once_as_unavailable():
    gateway = DatabaseGateway(threads=2, max_pending=2, timeout=10)
    release, wait_for_release = blocker()
    running = [asyncio.ensure_future(gateway.call(wait_for_release)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(ActionError) as refused:
        await gateway.call(lambda: "too many")
    assert refused.value.code == "unavailable"
    assert refused.value.extra == {"retry_after": 1}
    release.set()
    await asyncio.gather(*running)
    assert await gateway.call(lambda: "room again") == "room again"
    gateway.shutdown()


async def test_a_call_past_its_timeout_is_unavailable_and_still_counts_until_its_thread_returns():
    gateway = DatabaseGateway(threads=1, max_pending=1, timeout=0.1)
    release, wait_for_release = blocker()
    with pytest.raises(ActionError) as timed_out:
        await gateway.call(wait_for_release)
    assert timed_out.value.code == "unavailable"
    # The thread is still busy: the bound still holds it, so new work is refused fast instead of queueing.
    with pytest.raises(ActionError):
        await gateway.call(lambda: "queued behind a stuck thread")
    release.set()
    while gateway.pending:
        await asyncio.sleep(0.01)
    assert await gateway.call(lambda: "free again") == "free again"
    gateway.shutdown()


async def test_a_lane_is_forgotten_when_its_last_call_ends():
    gateway = DatabaseGateway(threads=1, max_pending=10, timeout=10)
    await gateway.call(lambda: None, lane=("room", 7))
    assert gateway._lanes == {}
    gateway.shutdown()


# --- Each thread's connection, kept between calls -------------------------------------------------


def _state_of_this_threads_connection() -> dict:
    """What a call finds of its thread's connection before touching it, then its server's process id."""
    from django.db import connection

    found = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return {"open_before": found is not None, "pid": pid, "wrapper": connection}


def _leave_a_transaction_open() -> None:
    from django.db import transaction

    transaction.set_autocommit(False)
    _state_of_this_threads_connection()


def _break_own_connection() -> None:
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        try:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except DatabaseError:
            pass


@pytest.fixture
def one_thread():
    """A gateway of one database thread, shut down (its connection handed back) after the test."""
    gateway = DatabaseGateway(threads=1, max_pending=10, timeout=10)
    yield gateway
    gateway.shutdown(wait=5)


@pytest.mark.django_db(transaction=True)
async def test_a_thread_keeps_its_connection_from_one_call_to_the_next(one_thread, postgres):
    first = await one_thread.call(_state_of_this_threads_connection)
    second = await one_thread.call(_state_of_this_threads_connection)
    assert second["open_before"] is True
    assert second["pid"] == first["pid"]


@pytest.mark.django_db(transaction=True)
async def test_a_thread_hands_its_connection_back_after_a_moment_without_calls(one_thread, postgres, monkeypatch):
    monkeypatch.setattr(database, "KEEP_IDLE_SECONDS", 0.1)
    first = await one_thread.call(_state_of_this_threads_connection)
    await asyncio.sleep(0.5)
    assert first["wrapper"].connection is None
    assert (await one_thread.call(_state_of_this_threads_connection))["open_before"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_thread_hands_its_connection_back_after_keeping_it_its_longest(one_thread, postgres, monkeypatch):
    monkeypatch.setattr(database, "KEEP_AT_MOST_SECONDS", 0.0)
    await one_thread.call(_state_of_this_threads_connection)  # kept from here
    await one_thread.call(_state_of_this_threads_connection)  # past the longest: handed back after this call
    assert (await one_thread.call(_state_of_this_threads_connection))["open_before"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_connection_left_in_a_transaction_is_not_kept(one_thread, postgres):
    await one_thread.call(_leave_a_transaction_open)
    assert (await one_thread.call(_state_of_this_threads_connection))["open_before"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_connection_that_broke_is_not_kept_and_the_next_call_works(one_thread, postgres):
    first = await one_thread.call(_state_of_this_threads_connection)
    await one_thread.call(_break_own_connection)
    after = await one_thread.call(_state_of_this_threads_connection)
    assert after["open_before"] is False
    assert after["pid"] != first["pid"]


@pytest.mark.django_db(transaction=True)
async def test_no_connection_is_kept_where_the_pool_cannot_give_every_thread_one_and_more(
    one_thread, postgres, settings
):
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if not isinstance(pool, dict):
        pytest.skip("runs with the PostgreSQL pool (DB_POOL_MAX_SIZE > 0)")
    settings.DB_THREADS = pool["max_size"]
    await one_thread.call(_state_of_this_threads_connection)
    assert (await one_thread.call(_state_of_this_threads_connection))["open_before"] is False


@pytest.mark.django_db(transaction=True)
async def test_a_gateway_shut_down_leaves_no_connection_with_its_threads(postgres):
    gateway = DatabaseGateway(threads=2, max_pending=10, timeout=10)
    state = await gateway.call(_state_of_this_threads_connection)
    gateway.shutdown(wait=5)
    assert state["wrapper"].connection is None
