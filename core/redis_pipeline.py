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
- a reply late by more than ``timeout`` seconds fails every command waiting on
  the connection with redis-py's ``TimeoutError`` and drops the connection (later
  replies could no longer be matched); the next command connects again;
- at most ``max_pending`` commands wait at once; the next is refused at once
  with ``ConnectionError``, before anything is written;
- a lost connection fails what waits on it with ``ConnectionError``.

A command is never sent twice: a script that records a connection must not
run again after a lost reply, when it may have run already (redis-py's retries
could). Errors are redis-py's own classes, so callers handle both clients alike.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import hiredis
from redis import exceptions as errors


def pack_command(args: tuple[Any, ...]) -> bytes:
    """The command in RESP, its arguments encoded as redis-py encodes them (str as UTF-8, int and float as text)."""
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

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.reader = hiredis.Reader(protocolError=errors.InvalidResponse, replyError=errors.ResponseError)
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
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
        self.waiting.append((future, self._loop.time()))
        self.transport.write(packed)
        if self._timer is None:
            self._timer = self._loop.call_at(self._loop.time() + self.timeout, self._check_late)
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
            if not future.done():  # a caller that gave up (cancelled) leaves its reply unread
                if isinstance(reply, errors.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(errors.ConnectionError(f"Connection to Redis lost ({exc or 'closed by the server'})"))

    def _check_late(self) -> None:
        self._timer = None
        if not self.waiting:
            return
        sent_at = self.waiting[0][1]
        if self._loop.time() - sent_at >= self.timeout:
            self._fail(errors.TimeoutError(f"Redis did not answer within {self.timeout:g} s"))
        else:
            self._timer = self._loop.call_at(sent_at + self.timeout, self._check_late)

    def _fail(self, error: Exception) -> None:
        """Fail everything waiting and drop the connection: no later reply can be matched to its command."""
        self.lost = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self.waiting = self.waiting, deque()
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
        max_pending: int = 10_000,
    ) -> None:
        self.host, self.port, self.db = host, port, db
        self.username, self.password = username, password
        self.connect_timeout, self.timeout, self.max_pending = connect_timeout, timeout, max_pending
        self._replies: _Replies | None = None
        self._connecting: asyncio.Future | None = None

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
        """Drop the connection; what waits on it fails with ``ConnectionError``, the next command connects again."""
        if self._replies is not None and not self._replies.lost:
            self._replies._fail(errors.ConnectionError("The Redis connection was closed"))
        self._replies = None

    async def _connected(self) -> _Replies:
        # Every command that comes while the connection is made waits for the same attempt.
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connect_done)
        return await asyncio.shield(self._connecting)

    def _connect_done(self, attempt: asyncio.Future) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._replies = attempt.result()

    async def _connect(self) -> _Replies:
        loop = asyncio.get_running_loop()
        replies: _Replies | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, replies = await loop.create_connection(lambda: _Replies(self.timeout), self.host, self.port)
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
                    f"Could not connect to Redis at {self.host}:{self.port} ({error or 'timed out'})"
                ) from error
            raise
        return replies
