"""Graceful shutdown of a process's sockets on SIGTERM.

Servers close WebSockets as soon as they are told to stop, so requests in
flight got neither an ack nor an error (some of them stored). On SIGTERM this
process instead:

1. stops taking new requests: a frame that arrives is answered ``unavailable``
   with ``retry_after`` (with its ``id``), and nothing is done;
2. lets the requests in progress finish and send their acks, for at most
   ``SHUTDOWN_DRAIN_SECONDS``;
3. closes every socket with 1012 (service restart): clients reconnect, to
   another process behind the balancer, and ``sync``;
4. hands the signal on to the server (uvicorn's or daphne's own handler), which
   then stops as it always does.

The handler is installed when the first socket connects, from the event loop,
so it sits on top of whatever handler the server installed at its start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
CLOSE_WRITE_TIMEOUT = 1.0  # seconds one socket gets to take its close frame
MIN_DRAIN_SECONDS = 0.25


class Drainable(Protocol):
    async def close_for_restart(self) -> None: ...


class ShutdownState:
    """What this process knows about stopping: whether it drains, and what is in flight."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        # A plain set: every consumer that enters leaves in its loop's ``finally`` (a weak set cost a
        # weak reference per idle socket, 0.19 KiB by tracemalloc).
        self.sockets: set[Any] = set()
        self.installed = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.task: asyncio.Task | None = None

    def request_started(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def request_finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()


state = ShutdownState()


def socket_opened(consumer: Drainable) -> None:
    """Track a socket for the drain, installing the SIGTERM handler with the first one."""
    state.sockets.add(consumer)
    if not state.installed:
        state.installed = True
        install_handler(asyncio.get_running_loop())


def socket_closed(consumer: Drainable) -> None:
    state.sockets.discard(consumer)


def install_handler(loop: asyncio.AbstractEventLoop) -> None:
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # not the main thread (a test's thread): nothing to drain on
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if state.draining:  # a second SIGTERM: the server's own handler decides (uvicorn forces the exit)
            _hand_on(previous, signum, frame)
            return
        state.draining = True
        loop.call_soon_threadsafe(_start_drain, previous, signum)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:
        return


def _start_drain(previous: Any, signum: int) -> None:
    state.task = asyncio.get_running_loop().create_task(drain_then_stop(lambda: _hand_on(previous, signum, None)))


def _hand_on(previous: Any, signum: int, frame: Any) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


async def drain_then_stop(stop_server: Callable[[], None]) -> None:
    """Steps 2-4 of the module docstring (step 1 is ``state.draining``, read by the consumers)."""
    state.draining = True
    logger.warning(
        "SIGTERM: draining %d requests in flight on %d sockets (at most %s s)",
        state.in_flight,
        len(state.sockets),
        settings.SHUTDOWN_DRAIN_SECONDS,
    )
    try:
        async with asyncio.timeout(settings.SHUTDOWN_DRAIN_SECONDS):
            # Clients get a moment to see the refusals before the close: what they send meanwhile is refused too.
            await asyncio.sleep(MIN_DRAIN_SECONDS)
            await state.idle.wait()
    except TimeoutError:
        logger.warning("Shutdown drain timed out with %d requests in flight", state.in_flight)
    sockets = list(state.sockets)
    await asyncio.gather(*(_close(socket) for socket in sockets), return_exceptions=True)
    stop_server()


async def _close(consumer: Drainable) -> None:
    try:
        async with asyncio.timeout(CLOSE_WRITE_TIMEOUT):
            await consumer.close_for_restart()
    except (TimeoutError, OSError):
        pass
