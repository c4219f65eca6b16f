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
  stalled database fills the bound and new work is refused quickly;
- a thread keeps its database connection from one call to the next while calls
  keep coming (``DatabaseThreads``): handing it back to the pool after every
  call and taking it again cost about 80 µs of the thread's CPU per call, a
  sixth of a connect's database work. It lets go after ``KEEP_IDLE_SECONDS``
  without a call, after ``KEEP_AT_MOST_SECONDS`` in all, at once when the call
  left it unfit (as Django's ``close_old_connections`` judges), and always
  where the pool could not give every thread one with one to spare.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor, Future
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections, connections

from core.errors import ActionError
from core.metrics import counts, register_gauge

T = TypeVar("T")
Item = TypeVar("Item")

RETRY_AFTER_SECONDS = 1


# A database thread lets go of its connection after this long without a call, and after this long in all.
KEEP_IDLE_SECONDS = 1.0
KEEP_AT_MOST_SECONDS = 60.0


def _run_in_thread(context: contextvars.Context, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # As Channels' DatabaseSyncToAsync, never hand a broken connection to the call, or keep one; a working
    # connection stays with the thread (DatabaseThreads lets it go).
    release_unfit_connections()
    try:
        return context.run(function, *args, **kwargs)
    finally:
        release_unfit_connections()


def release_unfit_connections() -> None:
    """Close (hand back to the pool) this thread's connections that Django would not reuse, keeping the rest.

    Django's ``close_old_connections`` without the age: under the pool every
    connection is past ``CONN_MAX_AGE`` (0) at once, so it closed them all.
    Unfit are a connection left out of autocommit (an open transaction) and one
    that raised a database error and no longer answers; ``DatabaseThreads``
    lets the others go when idle or old, or at once where the pool is too small
    to leave one with every thread.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if not connection_may_stay(connection.alias):
            connection.close()
        elif connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]:
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()


def connection_may_stay(alias: str) -> bool:
    """Whether a database thread may keep a connection to ``alias`` between calls: always without a pool
    (a new connection per call is what keeping saves), with one only if it holds every thread's and more."""
    pool = settings.DATABASES[alias].get("OPTIONS", {}).get("pool")
    if not pool:
        return True
    max_size = pool.get("max_size") if isinstance(pool, dict) else None
    return max_size is None or settings.DB_THREADS < max_size


class DatabaseThreads(Executor):
    """Up to ``threads`` threads running calls from one queue, each keeping its database connection
    between calls (see the module docstring), started as calls need them.

    ``ThreadPoolExecutor`` would do but for letting go of the connection: its
    idle threads wait on its queue with no timeout, so a kept connection would
    stay out of the pool for as long as the process had no call. The queue
    needs no bound of its own: ``DatabaseGateway`` admits at most
    ``DB_MAX_PENDING`` calls at once.
    """

    def __init__(self, threads: int, name: str = "confab-db") -> None:
        self.max_threads = max(1, threads)
        self.name = name
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a call
        self._lock = threading.Lock()
        self._shut = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot run calls after shutdown")
            self._calls.put((future, fn, args, kwargs))
            if self._idle > 0:
                self._idle -= 1  # a waiting thread takes it
            elif len(self._threads) < self.max_threads:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False, timeout: float | None = None) -> None:
        """Stop taking calls; each thread lets go of its connections and ends once the calls before are done
        (``wait``: for at most ``timeout`` seconds each)."""
        with self._lock:
            self._shut = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._calls.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._calls.put(None)
        if wait:
            for thread in threads:
                thread.join(timeout)

    def _work(self) -> None:
        kept_since: float | None = None  # when this thread's connection was first kept past a call
        try:
            while True:
                try:
                    item = self._calls.get(timeout=KEEP_IDLE_SECONDS if kept_since is not None else None)
                except queue.Empty:
                    close_old_connections()  # idle: hand the connection back
                    kept_since = None
                    continue
                if item is None:
                    return
                future, fn, args, kwargs = item
                if not future.set_running_or_notify_cancel():
                    with self._lock:
                        self._idle += 1
                    continue
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:  # noqa: BLE001 -- handed to the caller, as ThreadPoolExecutor does
                    future.set_exception(error)
                else:
                    future.set_result(result)
                del item, future, fn, args, kwargs
                with self._lock:
                    self._idle += 1  # counted before the next wait, so a call submitted now needs no new thread
                now = time.monotonic()
                if kept_since is None:
                    kept_since = now
                elif now - kept_since >= KEEP_AT_MOST_SECONDS:
                    close_old_connections()
                    kept_since = None
        finally:
            close_old_connections()


class DatabaseGateway:
    """The one way async code of this process reaches the database."""

    def __init__(self, threads: int, max_pending: int, timeout: float) -> None:
        self.threads = max(1, threads)
        self.max_pending = max(1, max_pending)
        self.timeout = timeout
        self.pending = 0  # calls admitted and not yet returned by their thread (or lane)
        self._executor: DatabaseThreads | None = None
        self._executor_lock = threading.Lock()
        self._lanes: dict[Hashable, asyncio.Lock] = {}

    def executor(self) -> DatabaseThreads:
        with self._executor_lock:
            if self._executor is None:
                self._executor = DatabaseThreads(self.threads)
            return self._executor

    async def call(self, function: Callable[..., T], *args: Any, lane: Hashable | None = None, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on a database thread; raise ``unavailable`` when busy or slow."""
        if self.pending >= self.max_pending:
            counts.database_refused += 1
            raise _busy()
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

    def shutdown(self, wait: float | None = None) -> None:
        """Refuse what waits and end the threads (each lets go of its connections); wait at most ``wait``
        seconds for each to end."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait is not None, cancel_futures=True, timeout=wait)


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


class DatabaseBatches(Generic[Item, T]):
    """``run_many`` for the items of callers that arrive while earlier items are loading: one database
    call, and one round trip, for many callers.

    A connect is one database call of five small reads, and most of a call's
    CPU is its own, not its reads': the hand-off to a thread and back, the
    driver's send and its waits for results. When hundreds of sockets connect at
    once (a deploy, a network blip), the connects that arrive while a call is
    running wait for it and then go out together, their reads in one pipeline
    (``run_many``); a lone connect goes at once, as before (no timer holds it).

    Bounds: at most ``in_flight`` calls run at once, each for at most
    ``max_size`` items; at most ``max_waiting`` items wait (by default the
    gateway's ``DB_MAX_PENDING``), past that a caller is refused at once with
    ``unavailable``, as the gateway refuses a call; a caller waits at most ``timeout`` (by default the gateway's
    ``DB_CALL_TIMEOUT``) in all, then gets ``unavailable``, and its item is
    dropped if it has not gone out yet. A caller cancelled while it waits (its
    task ended, as at shutdown) is dropped the same way. ``run_many`` answers
    each item in order, with a result or an exception of that item's own; an
    exception of the call as a whole (the database is down, the gateway is
    busy) goes to every caller of the batch.
    """

    def __init__(
        self,
        run_many: Callable[[list[Item]], Sequence[T | BaseException]],
        *,
        max_size: int,
        max_waiting: int | None = None,
        in_flight: int = 1,
        timeout: float | None = None,
    ) -> None:
        self.run_many = run_many
        self.max_size = max(1, max_size)
        # None: the gateway's, read as each caller arrives, so both follow a change of the setting.
        self.max_waiting = max(1, max_waiting) if max_waiting is not None else None
        self.in_flight = max(1, in_flight)
        self.timeout = timeout  # a caller's longest wait in all; None: the gateway's (DB_CALL_TIMEOUT)
        # Per event loop: a future belongs to its loop, and tests (or a server thread) run loops of their own.
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BatchState] = weakref.WeakKeyDictionary()

    def waiting(self) -> int:
        """Items of this thread's running loop waiting to go out."""
        state = self._states.get(asyncio.get_running_loop())
        return len(state.waiting) if state is not None else 0

    async def call(self, item: Item) -> T:
        """``run_many([item, ...])``'s answer for ``item``, from a call shared with the items around it."""
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _BatchState()
        max_waiting = self.max_waiting if self.max_waiting is not None else gateway().max_pending
        if len(state.waiting) >= max_waiting:
            counts.database_refused += 1
            raise _busy()
        future: asyncio.Future = loop.create_future()
        state.waiting.append((item, future))
        if not state.scheduled and state.running < self.in_flight:
            # On the loop's next turn, so the items that arrive in the same turn go out together.
            state.scheduled = True
            loop.call_soon(self._start, loop, state)
        try:
            async with asyncio.timeout(self.timeout if self.timeout is not None else gateway().timeout):
                return await future
        except TimeoutError:
            counts.database_timeouts += 1
            raise _timed_out() from None
        finally:
            future.cancel()  # a no-op when answered; else its item is dropped if it has not gone out

    def _start(self, loop: asyncio.AbstractEventLoop, state: _BatchState) -> None:
        state.scheduled = False
        while state.running < self.in_flight and state.waiting:
            batch = []
            while state.waiting and len(batch) < self.max_size:
                item, future = state.waiting.popleft()
                if not future.done():  # a caller that gave up is not loaded
                    batch.append((item, future))
            if batch:
                counts.database_batches += 1
                counts.database_batched_items += len(batch)
                state.running += 1
                task = loop.create_task(self._run(loop, state, batch))
                state.tasks.add(task)
                task.add_done_callback(state.tasks.discard)

    async def _run(
        self, loop: asyncio.AbstractEventLoop, state: _BatchState, batch: list[tuple[Item, asyncio.Future]]
    ) -> None:
        try:
            results = await database_call(self.run_many, [item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # noqa: BLE001 -- the batch's callers each get it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            state.running -= 1
            if state.waiting and not loop.is_closed():
                self._start(loop, state)


class _BatchState:
    """A ``DatabaseBatches``' items waiting on one event loop, and its calls running there."""

    __slots__ = ("waiting", "running", "scheduled", "tasks")

    def __init__(self) -> None:
        self.waiting: deque[tuple[Any, asyncio.Future]] = deque()
        self.running = 0
        self.scheduled = False
        self.tasks: set[asyncio.Task] = set()  # kept so a running batch is not collected mid-way


def _busy() -> ActionError:
    return ActionError("unavailable", "The server is busy. Try again shortly.", retry_after=RETRY_AFTER_SECONDS)


def close_gateway(wait: float | None = None) -> None:
    """End this process's gateway, its threads handing their connections back (the next call makes another);
    wait at most ``wait`` seconds for each thread. Tests close it after each test, before the test database goes."""
    global _gateway
    with _gateway_lock:
        closing, _gateway = _gateway, None
    if closing is not None:
        closing.shutdown(wait)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("DB_THREADS", "DB_MAX_PENDING", "DB_CALL_TIMEOUT"):
        close_gateway()


setting_changed.connect(_on_setting_changed)


register_gauge(
    "database_calls_pending",
    "Database calls of the WebSocket side waiting or running",
    lambda: _gateway.pending if _gateway is not None else 0,
)
