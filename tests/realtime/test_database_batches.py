"""realtime.database.DatabaseBatches: callers that arrive while a call runs share the next one, within bounds.

The calls run on the process's real database threads (``database_call``); a
call is held in its thread with an event until the test lets it go.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from core.errors import ActionError
from core.metrics import counts
from realtime.database import DatabaseBatches


class Recorder:
    """A ``run_many`` that records each call's items and answers each item doubled; a call whose first
    item is ``"hold"`` waits in its thread until ``release`` is set."""

    def __init__(self) -> None:
        self.calls: list[list] = []
        self.release = threading.Event()
        self.holding = threading.Event()

    def __call__(self, items: list) -> list:
        self.calls.append(list(items))
        if items[0] == "hold":
            self.holding.set()
            assert self.release.wait(10), "never released"
        return [item * 2 for item in items]


async def held_call(batches: DatabaseBatches, recorder: Recorder) -> asyncio.Task:
    """A call of ``batches`` running and held in its database thread."""
    task = asyncio.ensure_future(batches.call("hold"))
    assert await asyncio.to_thread(recorder.holding.wait, 10)
    return task


async def test_a_lone_caller_goes_at_once_in_a_call_of_its_own():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=10)

    assert await batches.call(21) == 42
    assert recorder.calls == [[21]]


async def test_callers_that_arrive_together_share_one_call_in_arrival_order():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=10)

    answers = await asyncio.gather(*(batches.call(n) for n in (1, 2, 3)))

    assert answers == [2, 4, 6]
    assert recorder.calls == [[1, 2, 3]]


async def test_callers_that_arrive_while_a_call_runs_go_out_together_after_it():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=10, in_flight=1)
    held = await held_call(batches, recorder)

    later = [asyncio.ensure_future(batches.call(n)) for n in (1, 2, 3)]
    await asyncio.sleep(0.05)
    assert recorder.calls == [["hold"]]  # no second call while the first runs (in_flight=1)
    recorder.release.set()

    assert await asyncio.gather(*later) == [2, 4, 6]
    assert await held == "holdhold"
    assert recorder.calls == [["hold"], [1, 2, 3]]


async def test_a_call_carries_at_most_max_size_items():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=2, max_waiting=10, in_flight=1)
    held = await held_call(batches, recorder)

    later = [asyncio.ensure_future(batches.call(n)) for n in (1, 2, 3, 4, 5)]
    await asyncio.sleep(0)
    recorder.release.set()

    assert await asyncio.gather(*later) == [2, 4, 6, 8, 10]
    await held
    assert recorder.calls == [["hold"], [1, 2], [3, 4], [5]]


async def test_at_most_in_flight_calls_run_at_once():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=1, max_waiting=10, in_flight=2)
    first = await held_call(batches, recorder)
    second = asyncio.ensure_future(batches.call("hold"))
    third = asyncio.ensure_future(batches.call(3))
    await asyncio.sleep(0.05)

    assert recorder.calls == [["hold"], ["hold"]]  # the third waits for one of them
    recorder.release.set()
    assert await third == 6
    await asyncio.gather(first, second)


async def test_a_caller_past_max_waiting_is_refused_at_once_as_unavailable():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=2, in_flight=1)
    held = await held_call(batches, recorder)
    waiting = [asyncio.ensure_future(batches.call(n)) for n in (1, 2)]
    await asyncio.sleep(0)
    refused_before = counts.database_refused

    with pytest.raises(ActionError) as refused:
        await batches.call(3)

    assert refused.value.code == "unavailable"
    assert refused.value.extra == {"retry_after": 1}
    assert counts.database_refused == refused_before + 1
    recorder.release.set()
    assert await asyncio.gather(*waiting) == [2, 4]
    await held
    assert recorder.calls == [["hold"], [1, 2]]  # the refused item never went out


async def test_at_most_db_max_pending_callers_wait_by_default(settings):
    settings.DB_MAX_PENDING = 1  # the gateway follows the change, and so do batches without a max_waiting
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, in_flight=1)
    held = await held_call(batches, recorder)
    waiting = asyncio.ensure_future(batches.call(1))
    await asyncio.sleep(0)

    with pytest.raises(ActionError) as refused:
        await batches.call(2)

    assert refused.value.code == "unavailable"
    recorder.release.set()
    assert await waiting == 2
    await held
    assert recorder.calls == [["hold"], [1]]


async def test_a_caller_waits_at_most_its_timeout_and_its_item_is_dropped():
    recorder = Recorder()
    # The held call runs under the gateway's own timeout (10 s), far past the caller's.
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=10, in_flight=1, timeout=0.2)
    timeouts_before = counts.database_timeouts
    held = asyncio.ensure_future(batches.call("hold"))
    await asyncio.to_thread(recorder.holding.wait, 10)

    with pytest.raises(ActionError) as timed_out:
        await batches.call(7)  # waits behind the held call, past its timeout

    assert timed_out.value.code == "unavailable"
    assert counts.database_timeouts == timeouts_before + 2  # its caller's and the held one's, which began first
    recorder.release.set()
    with pytest.raises(ActionError):
        await held  # it waited past the timeout too
    await asyncio.sleep(0.05)
    assert recorder.calls == [["hold"]]  # 7 was dropped, not loaded for no one
    assert batches.waiting() == 0


async def test_a_caller_waits_at_most_db_call_timeout_by_default(settings):
    settings.DB_CALL_TIMEOUT = 0.2
    release = threading.Event()

    def stuck(items: list) -> list:
        assert release.wait(10), "never released"
        return items

    batches = DatabaseBatches(stuck, max_size=10, max_waiting=10)
    with pytest.raises(ActionError) as timed_out:
        await batches.call(1)

    assert timed_out.value.code == "unavailable"
    release.set()


async def test_a_caller_that_gave_up_is_not_loaded():
    recorder = Recorder()
    batches = DatabaseBatches(recorder, max_size=10, max_waiting=10, in_flight=1)
    held = await held_call(batches, recorder)
    gone = asyncio.ensure_future(batches.call(1))
    stays = asyncio.ensure_future(batches.call(2))
    await asyncio.sleep(0)

    gone.cancel()  # its task ended while it waited
    recorder.release.set()

    assert await stays == 4
    await held
    assert recorder.calls == [["hold"], [2]]


async def test_an_error_of_one_item_is_that_callers_alone():
    def run_many(items: list) -> list:
        return [ValueError(f"bad {item}") if item == 2 else item * 2 for item in items]

    batches = DatabaseBatches(run_many, max_size=10, max_waiting=10)

    answers = await asyncio.gather(*(batches.call(n) for n in (1, 2, 3)), return_exceptions=True)

    assert answers[0] == 2 and answers[2] == 6
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "bad 2"


async def test_an_error_of_the_whole_call_reaches_every_caller_of_it_and_the_next_call_runs():
    calls: list[list] = []

    def run_many(items: list) -> list:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("database down")
        return [item * 2 for item in items]

    batches = DatabaseBatches(run_many, max_size=10, max_waiting=10)

    answers = await asyncio.gather(*(batches.call(n) for n in (1, 2)), return_exceptions=True)

    assert [type(answer) for answer in answers] == [ConnectionError, ConnectionError]
    assert await batches.call(3) == 6
    assert calls == [[1, 2], [3]]


async def test_the_calls_and_items_are_counted_for_the_metrics():
    batches = DatabaseBatches(lambda items: list(items), max_size=10, max_waiting=10)
    calls_before, items_before = counts.database_batches, counts.database_batched_items

    await asyncio.gather(*(batches.call(n) for n in (1, 2, 3)))
    await batches.call(4)

    assert counts.database_batches - calls_before == 2
    assert counts.database_batched_items - items_before == 4
