"""The loop's one timer for held events (``realtime.consumer.HeldEvents``), apart from any server."""

from __future__ import annotations

import asyncio

from realtime.consumer import HeldEvents


class Holder:
    """What ``HeldEvents`` asks of a consumer: its name, what it holds, and writing it."""

    def __init__(self, name: str, *, fails: bool = False) -> None:
        self.channel_name = name
        self._held: list[str] | None = [f"held by {name}"]
        self.fails = fails
        self.written: list[str] = []

    def _write_held(self) -> None:
        if self.fails:
            raise RuntimeError("the socket broke")
        self.written, self._held = self._held or [], None


async def test_one_timer_writes_every_holder_after_the_hold(settings):
    settings.WS_EVENT_HOLD_SECONDS = 0.01
    held = HeldEvents(asyncio.get_running_loop())
    first, second = Holder("first"), Holder("second")

    held.add(first)
    timer = held.timer
    held.add(second)
    await asyncio.sleep(0.05)

    assert held.timer is None and timer is not None
    assert (first.written, second.written) == (["held by first"], ["held by second"])


async def test_a_holder_whose_write_fails_leaves_no_other_holder_waiting(settings, caplog):
    settings.WS_EVENT_HOLD_SECONDS = 0.01
    held = HeldEvents(asyncio.get_running_loop())
    broken, fine = Holder("broken", fails=True), Holder("fine")

    held.add(broken)
    held.add(fine)
    await asyncio.sleep(0.05)

    assert fine.written == ["held by fine"]
    assert broken._held is None  # dropped: its next event is written, not appended to a list no timer writes
    assert held.holders == set()
    assert "Writing the held events of broken failed" in caplog.text
