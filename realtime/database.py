"""Database work from the event loop: a bounded pool of threads, per-room lanes, admission and timeouts.

Channels' ``database_sync_to_async`` runs every call of a process on ONE
thread: a process did one database round trip at a time for every room, so
its throughput was one over the round-trip time, and a row lock held in one
room stopped sends and deliveries in all of them. Here:

- calls run on a pool of ``DB_THREADS`` threads (each with its own database
  connection, from the pool on PostgreSQL), so many rooms' work proceeds at once;
- calls given a ``lane`` (a room) run one at a time in that lane, in the order
  they arrived: a room's sends reach the channel layer in seq order from this
  process, and a hot or locked room queues in its own lane, holding no thread;
- at most ``DB_MAX_PENDING`` calls wait or run at once; past that a call is
  refused at once with ``unavailable`` and ``retry_after`` instead of queueing
  without bound (admission control);
- a caller waits at most ``DB_CALL_TIMEOUT`` seconds, then gets ``unavailable``
  (retryable: a send that did commit is found again by its ``client_id``). The
  thread is not interrupted; it still counts as pending until it returns, so a
  stalled database fills the bound and new work is refused quickly.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections

from core.errors import ActionError
from core.metrics import counts, register_gauge

T = TypeVar("T")

RETRY_AFTER_SECONDS = 1


def _run_in_thread(context: contextvars.Context, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # As Channels' DatabaseSyncToAsync: never hand a broken or expired connection to the call, or keep one.
    close_old_connections()
    try:
        return context.run(function, *args, **kwargs)
    finally:
        close_old_connections()


class DatabaseGateway:
    """The one way async code of this process reaches the database."""

    def __init__(self, threads: int, max_pending: int, timeout: float) -> None:
        self.threads = max(1, threads)
        self.max_pending = max(1, max_pending)
        self.timeout = timeout
        self.pending = 0  # calls admitted and not yet returned by their thread (or lane)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._lanes: dict[Hashable, asyncio.Lock] = {}

    def executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="confab-db")
            return self._executor

    async def call(self, function: Callable[..., T], *args: Any, lane: Hashable | None = None, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on a database thread; raise ``unavailable`` when busy or slow."""
        if self.pending >= self.max_pending:
            counts.database_refused += 1
            raise ActionError("unavailable", "The server is busy. Try again shortly.", retry_after=RETRY_AFTER_SECONDS)
        self.pending += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        lock: asyncio.Lock | None = None
        holding_lane = False
        future: asyncio.Future | None = None
        try:
            if lane is not None:
                lock = self._lanes.get(lane)
                if lock is None:
                    lock = self._lanes[lane] = asyncio.Lock()
                async with asyncio.timeout_at(deadline):
                    await lock.acquire()
                holding_lane = True
            future = loop.run_in_executor(
                self.executor(),
                functools.partial(_run_in_thread, contextvars.copy_context(), function, *args, **kwargs),
            )
            # A thread that outlives its caller (timed out) still counts as pending until it returns.
            future.add_done_callback(self._release)
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(future)
        except TimeoutError:
            counts.database_timeouts += 1
            raise _timed_out() from None
        finally:
            if future is None:
                self.pending -= 1  # it never reached a thread
            if lock is not None:
                if holding_lane:
                    lock.release()
                if not lock.locked() and not getattr(lock, "_waiters", None) and self._lanes.get(lane) is lock:
                    del self._lanes[lane]  # no lane outlives its last call

    def _release(self, _future: Any) -> None:
        self.pending -= 1

    def shutdown(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


def _timed_out() -> ActionError:
    return ActionError(
        "unavailable",
        "The database did not answer in time. Try again (a message resent with its client_id is stored once).",
        retry_after=RETRY_AFTER_SECONDS,
    )


_gateway: DatabaseGateway | None = None
_gateway_lock = threading.Lock()


def gateway() -> DatabaseGateway:
    global _gateway
    with _gateway_lock:
        if _gateway is None:
            _gateway = DatabaseGateway(settings.DB_THREADS, settings.DB_MAX_PENDING, settings.DB_CALL_TIMEOUT)
        return _gateway


async def database_call(function: Callable[..., T], *args: Any, lane: Hashable | None = None, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` on this process's database pool (see the module docstring)."""
    return await gateway().call(function, *args, lane=lane, **kwargs)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _gateway
    if setting in ("DB_THREADS", "DB_MAX_PENDING", "DB_CALL_TIMEOUT"):
        with _gateway_lock:
            if _gateway is not None:
                _gateway.shutdown()
            _gateway = None


setting_changed.connect(_on_setting_changed)


register_gauge(
    "database_calls_pending",
    "Database calls of the WebSocket side waiting or running",
    lambda: _gateway.pending if _gateway is not None else 0,
)
