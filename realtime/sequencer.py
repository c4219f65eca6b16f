"""Per-group ordering of room events by their ``seq`` across publishing processes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from core.publishing import resync_envelope
from core.throttled_log import warn_once_per

logger = logging.getLogger(__name__)

Deliver = Callable[[dict[str, Any]], None]

# How long a process holds a room event whose seq arrived early, waiting for the one before it.
SEQ_GAP_WAIT = 0.05  # seconds


class GroupSequencer:
    """Hands one group's messages on in the order of their ``seq``, where they carry one.

    Two processes that publish into one room reach Redis in whatever order
    their publishes happen to travel, not always the order of the seqs the
    database gave them. A message whose seq is ahead of the next expected one
    waits (with whatever arrives after it) until the missing seq comes or
    ``SEQ_GAP_WAIT`` passes; then everything held goes on, seq messages in seq
    order first. A seq that never comes (pub/sub drops what a process does not
    hear) costs the wait once; the client's ``sync`` fills the gap.
    """

    __slots__ = ("deliver", "next_seq", "held", "timer")

    def __init__(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.next_seq: int | None = None
        self.held: list[dict[str, Any]] = []
        self.timer: asyncio.TimerHandle | None = None

    def push(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if self.held:
            self.held.append(message)
            if seq == self.next_seq:
                self.release()
        elif seq is not None and self.next_seq is not None and seq > self.next_seq:
            self.held.append(message)
            self.timer = asyncio.get_running_loop().call_later(SEQ_GAP_WAIT, self.give_up_waiting)
        else:
            self._pass(message)

    def give_up_waiting(self) -> None:
        """The missing seq did not come within ``SEQ_GAP_WAIT``: hand on what was held, and tell the
        group's sockets to ``resync`` so the gap is filled by ``sync`` rather than silently kept."""
        self.timer = None
        missing = self.next_seq
        warn_once_per(logger, "seq-gap", 30, "Seq %s of a room did not arrive in time; its sockets resync", missing)
        self.release()
        self.deliver(resync_envelope("gap"))

    def release(self) -> None:
        """Everything held, seq messages in seq order, then the rest in arrival order."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        held, self.held = self.held, []
        for message in sorted((m for m in held if m.get("seq") is not None), key=lambda m: m["seq"]):
            self._pass(message)
        for message in held:
            if message.get("seq") is None:
                self._pass(message)

    def _pass(self, message: dict[str, Any]) -> None:
        seq = message.get("seq")
        if seq is not None and (self.next_seq is None or seq >= self.next_seq):
            self.next_seq = seq + 1
        self.deliver(message)
