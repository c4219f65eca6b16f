"""realtime.database: many calls at once, each lane in order, a bound on what waits, a timeout on each call."""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.errors import ActionError
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
