"""One Redis connection that many coroutines' commands share, each reply matched to its command in order.

redis-py's asyncio client takes a pooled connection per command, writes it
through a stream writer, reads the reply under a timeout context and hands
the connection back. Redis answers the commands of a connection in the order
they came, so a connection can carry many commands at once without any of
that: each command is one ``transport.write`` and one future, and the replies
of a burst are parsed (hiredis) in one read. A connect's presence script took
123 us of the server's CPU through redis-py and takes 64 us this way (``python
-m bench connect-steps``, ``presence_ask``), and a whole connect 8 % less
(``docs/benchmarks.md``, fifteenth sitting). The
connect and the close of a socket (``presence.store``) go this way; every other
command keeps redis-py's client (``core.redis.async_client``), and so does a
cluster, TLS or Unix-socket ``REDIS_URL`` (``async_pipeline`` gives None there).

Bounded as every other wait:

- connecting takes at most ``connect_timeout`` seconds;
- a command whose reply is late by ``timeout`` seconds fails with redis-py's
  ``TimeoutError``. The connection is kept, and the command keeps its place:
  Redis may still run it, and what is sent after it (a socket's close after its
  connect failed) must run after it, on the same connection. Its reply, when
  it comes, is read and dropped;
- a connection with no reply at all for ``drop_after`` seconds is dropped
  (every command still waiting fails); the next command connects again;
- at most ``max_pending`` commands wait at once, late ones included; the next
  is refused at once with ``ConnectionError``, before anything is written;
- a lost connection fails what waits on it with ``ConnectionError``.

A command is never sent twice: a script that records a connection must not
run again after a lost reply, when it may have run already (redis-py's retries
could). Error replies are parsed by redis-py's own parser into its classes
(``AuthenticationError``, ``BusyLoadingError``, ``NoScriptError``, ...), so callers
handle both clients alike.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections import deque
from typing import Any

import hiredis
from redis import exceptions as errors
from redis._parsers.base import BaseParser


def pack_command(args: tuple[Any, ...]) -> bytes:
    """The command in RESP, its arguments encoded as redis-py encodes them (str as UTF-8, int and float as text).

    redis-py's own packer is a method of its connection classes, with its encoder behind it; this is the
    same bytes without a connection (``test_arguments_are_encoded_as_redis_py_encodes_them``).
    """
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if type(arg) is bytes:
            value = arg
        elif type(arg) is str:
            value = arg.encode()
        elif type(arg) is int:
            value = b"%d" % arg
        elif type(arg) is float:
            value = repr(arg).encode()
        else:
            raise TypeError(f"a Redis argument is bytes, str, int or float, not {type(arg).__name__}")
        parts.append(b"$%d\r\n%b\r\n" % (len(value), value))
    return b"".join(parts)


class _Replies(asyncio.Protocol):
    """The connection: commands written in order, their futures waiting in the same order."""

    def __init__(self, timeout: float, drop_after: float) -> None:
        self.timeout = timeout
        self.drop_after = drop_after
        # redis-py's own error parsing (its class per error code); an error inside an array stays in the array.
        self.reader = hiredis.Reader(protocolError=errors.InvalidResponse, replyError=BaseParser.parse_error)
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
        self.timed_out = 0  # how many of the oldest waiting commands were already failed as late
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, packed: bytes) -> asyncio.Future:
        if self.lost:  # lost between the caller's check and now: nothing could ever answer it
            raise errors.ConnectionError("The Redis connection was lost; the command was not sent")
        future = self._loop.create_future()
        now = self._loop.time()
        self.waiting.append((future, now))
        self.transport.write(packed)
        timer = self._timer
        if timer is None or timer.when() > now + self.timeout:  # armed for the drop only: this one is due first
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(now + self.timeout, self._check_late)
        return future

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        while True:
            try:
                reply = reader.gets()
            except errors.InvalidResponse as error:
                self._fail(errors.ConnectionError(f"Redis sent what is not a reply ({error})"))
                return
            if reply is False:
                return
            if not waiting:
                self._fail(errors.ConnectionError("Redis sent a reply to no command"))
                return
            future = waiting.popleft()[0]
            if self.timed_out:
                self.timed_out -= 1
            if not future.done():  # a caller that gave up (cancelled, or failed as late) leaves it unread
                if isinstance(reply, errors.RedisError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(errors.ConnectionError(f"Connection to Redis lost ({exc or 'closed by the server'})"))

    def _check_late(self) -> None:
        """Fail the commands late by ``timeout``; drop the connection when the oldest is late by ``drop_after``."""
        self._timer = None
        waiting = self.waiting
        if not waiting:
            return
        now = self._loop.time()
        oldest_sent_at = waiting[0][1]
        if now - oldest_sent_at >= self.drop_after:
            self._fail(errors.TimeoutError(f"Redis answered nothing for {self.drop_after:g} s; connection dropped"))
            return
        next_check = oldest_sent_at + self.drop_after
        late = errors.TimeoutError(f"Redis did not answer within {self.timeout:g} s")
        for future, sent_at in itertools.islice(waiting, self.timed_out, None):
            if now - sent_at < self.timeout:
                next_check = min(next_check, sent_at + self.timeout)
                break
            self.timed_out += 1
            if not future.done():
                future.set_exception(late)
        self._timer = self._loop.call_at(next_check, self._check_late)

    def _fail(self, error: Exception) -> None:
        """Fail everything waiting and drop the connection: no later reply can be matched to its command."""
        self.lost = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self.waiting = self.waiting, deque()
        self.timed_out = 0
        for future, _ in waiting:
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class PipelinedRedis:
    """Commands of any number of coroutines over one connection to one Redis database, bound to one event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 5.0,
        drop_after: float = 30.0,
        max_pending: int = 10_000,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.connect_timeout, self.timeout, self.max_pending = connect_timeout, timeout, max_pending
        self.drop_after = max(drop_after, timeout)
        self._replies: _Replies | None = None
        self._connecting: asyncio.Future | None = None
        self._closes = 0  # how many times ``close`` was called: a connection made before the last one is not kept

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (bulk strings as bytes), raising redis-py's errors."""
        packed = pack_command(args)
        replies = self._replies
        if replies is None or replies.lost:
            replies = await self._connected()
        if len(replies.waiting) >= self.max_pending:
            raise errors.ConnectionError(f"{self.max_pending} Redis commands wait already; this one was not sent")
        return await replies.send(packed)

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    def close(self) -> None:
        """Drop the connection, and one being made; what waits on them fails with ``ConnectionError``. The next
        command connects again."""
        self._closes += 1
        if self._replies is not None and not self._replies.lost:
            self._replies._fail(errors.ConnectionError("The Redis connection was closed"))
        self._replies = None

    async def _connected(self) -> _Replies:
        # Every command that comes while the connection is made waits for the same attempt.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(functools.partial(self._connect_done, self._closes))
        return await asyncio.shield(self._connecting)

    def _connect_done(self, closes_before: int, attempt: asyncio.Future) -> None:
        self._connecting = None
        if attempt.cancelled() or attempt.exception() is not None:
            return
        replies = attempt.result()
        if self._closes != closes_before:  # closed while it was being made: its callers get a closed connection
            replies._fail(errors.ConnectionError("The Redis connection was closed"))
        else:
            self._replies = replies

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        replies: _Replies | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, replies = await loop.create_connection(
                    lambda: _Replies(self.timeout, self.drop_after), self.host, self.port
                )
                hello = []
                if self.password is not None:
                    auth = ("AUTH", self.password) if self.username is None else ("AUTH", self.username, self.password)
                    hello.append(replies.send(pack_command(auth)))
                if self.db:
                    hello.append(replies.send(pack_command(("SELECT", self.db))))
                await asyncio.gather(*hello)
        except BaseException as error:
            if replies is not None and not replies.lost:
                replies._fail(errors.ConnectionError("The Redis connection was not set up"))
            if isinstance(error, (OSError, TimeoutError)):  # refused, unreachable, or past connect_timeout
                raise errors.ConnectionError(
                    f"Could not connect to Redis at {self.host}:{self.port} ({str(error) or 'timed out'})"
                ) from error
            raise
        return replies
