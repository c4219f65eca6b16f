"""Tweaks for uvicorn's websockets-sansio protocol: memory after the accept, and one frame for all.

Imported lazily, only when the running server's ``send`` is a bound method of
that protocol (``realtime.consumer.release_handshake``): a server without it
(daphne, another uvicorn protocol, a future uvicorn that renames it) never
imports this module, and the application starts all the same.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import math
import struct
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import OPEN, Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

# What the tweak was written against (lowest, first unsupported): it replaces the protocol's private
# request, response, queue and writable. tests/realtime/test_versions.py holds the installed uvicorn to it.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {"uvicorn": ("0.54", "0.55"), "websockets": ("14.0", "18.0")}

# The last frame built, by the identity of its text: the layer hands every local recipient of an event
# the same ``str``, so a room's event is encoded and framed once per process, not once per member.
_last_text: str | None = None
_last_frame = b""


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, final RFC 6455 text frame (what a server sends), built once per event."""
    global _last_text, _last_frame
    if text is _last_text:
        return _last_frame
    data = text.encode()
    length = len(data)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    _last_text, _last_frame = text, header + data
    return _last_frame


def write_text_frame(protocol: WebSocketsSansIOProtocol, text: str) -> bool:
    """Write ``text`` to the connection as a ready-made frame, if nothing stands in the way.

    uvicorn's ``send`` encodes the text and builds and serialises a frame per
    recipient through websockets' state machine: most of a delivery's cost
    (measured: 20 % of the server's samples at 10,000 deliveries/s). A data
    frame changes nothing in that state machine, so while the connection is
    open, takes writes and has no extension (permessage-deflate would have to
    compress per connection), the same bytes go to every transport. False:
    the caller uses the server's ``send`` (flow control, closing, extensions).
    """
    if not _takes_ready_made_frames(protocol):
        return False
    protocol.transport.write(text_frame(text))
    return True


def _takes_ready_made_frames(protocol: WebSocketsSansIOProtocol) -> bool:
    conn = protocol.conn
    return not (
        conn.state is not OPEN
        or conn.extensions
        or conn.expect_continuation_frame
        or protocol.close_sent
        or not protocol.handshake_complete
        or not protocol.writable.is_set()
        or protocol.transport.is_closing()
    )


def write_text_frames(protocol: WebSocketsSansIOProtocol, texts: list[str], *, shared: bool = True) -> bool:
    """``write_text_frame`` for several texts in order, in one write (one system call, not one per frame).

    ``shared``: other sockets get the same texts (held events), so small frames are kept built
    (``_held_frame``); a socket's own frames (its ``ready`` and ``ack``) are built and not kept.
    """
    if not _takes_ready_made_frames(protocol):
        return False
    protocol.transport.write(b"".join(map(_held_frame if shared else text_frame, texts)))
    return True


def _held_frame(text: str) -> bytes:
    """``text_frame`` for the frames written together: each socket holds a different mix of the same few
    events, which the one-frame cache of ``text_frame`` would build again for nearly every socket (4 % of
    a connect's samples). Small frames (presence) are kept; a long one (a message after them) is not."""
    return _small_frame(text) if len(text) <= SMALL_FRAME_CHARS else text_frame(text)


SMALL_FRAME_CHARS = 2048  # the cache then holds at most 256 frames of 2,048 characters (up to 2 MiB as UTF-8)


@functools.lru_cache(maxsize=256)
def _small_frame(text: str) -> bytes:
    return text_frame(text)


def slim_protocol(protocol) -> None:
    """Let go of what the handshake left behind in a sansio ``protocol`` (about 5 KiB per connection).

    uvicorn's websockets-sansio protocol (``send`` is its bound method) keeps the
    handshake's request and response, with their header maps, for the life
    of the connection, but reads them only until the accept; and its receive
    queue and write flag are asyncio's ``Queue`` and ``Event``, four deques
    (2.6 KiB) for at most a few messages and one waiter: ``SlimQueue`` and
    ``SlimEvent`` do the same with none. Its attributes that hold the server's
    values move to its class (``share_server_attributes``). Called while the
    consumer handles a message, so nothing is waiting on the queue; what it
    holds moves over.
    """
    if isinstance(protocol, WebSocketsSansIOProtocol) and protocol.handshake_complete:
        protocol.request = protocol.response = None
        rewrite_proxy_headers_before_the_app(protocol)
        if share_server_attributes(protocol):
            # uvloop's transport calls the ``data_received`` it was handed when the protocol was set (the
            # class's before the swap): hand it the new class's, which starts a parked parser again.
            protocol.transport.set_protocol(protocol)
            if protocol.ping_timer is not None:
                protocol.ping_timer.cancel()  # the accept's timer: from now on the server's wheel pings it
                protocol.ping_timer = None
                protocol.schedule_ping()
        park_frame_parser(protocol)  # the handshake's parser held the request
        # websockets' id for its own logs (a UUID and its int, 0.1 KiB): uvicorn and this server read none.
        protocol.conn.id = None
        if type(protocol.queue) is asyncio.Queue and not protocol.queue._getters:
            slim = SlimQueue()
            while not protocol.queue.empty():
                slim.put_nowait(protocol.queue.get_nowait())
            protocol.queue = slim
        if type(protocol.writable) is asyncio.Event and not protocol.writable._waiters:
            slim_event = SlimEvent()
            if protocol.writable.is_set():
                slim_event.set()
            protocol.writable = slim_event


# The protocol's attributes that hold its server's values, the same objects on every connection.
SERVER_ATTRIBUTES = (
    "config",
    "app",
    "loop",
    "logger",
    "root_path",
    "asgi_version",
    "app_state",
    "connections",
    "tasks",
    "close_timeout",
    "ping_interval",
    "ping_timeout",
)
# Connection state that stays at these values from the accept until the connection ends: whatever
# writes one later (a close, a disconnect) writes it on the instance. (``read_paused`` is not one:
# it flips with every message received.)
OPEN_CONNECTION_STATE: dict[str, Any] = {
    "request": None,
    "response": None,
    "initial_response": None,
    "handshake_initiated": True,
    "handshake_complete": True,
    "close_sent": False,
    "close_timer": None,
    "disconnected": False,
}
# What moves to the class, as sets: the instance's dict (some forty names) is filtered through one.
_MOVED = frozenset(SERVER_ATTRIBUTES) | frozenset(OPEN_CONNECTION_STATE)
_MOVED_WITH_SERVER = _MOVED | {"server"}


async def _returns_at_once(scope, receive, send) -> None:
    return None


class ProxyHeadersBeforeTheApp:
    """uvicorn's proxy-headers middleware, run to its end before the application starts instead of around it.

    The middleware only rewrites the scope (the client's address and scheme,
    from ``X-Forwarded-For``/``X-Forwarded-Proto`` when the peer is trusted)
    and then awaits the application, so its coroutine lived as long as the
    connection (0.45 KiB per idle socket by tracemalloc). Here a copy of the
    same middleware, with the same trusted hosts, rewrites the scope around an
    application that returns at once, and the server awaits the application's
    own coroutine. A plain callable returning that coroutine: the server
    awaits what it returns, as it awaited the middleware's.
    """

    def __init__(self, middleware: ProxyHeadersMiddleware) -> None:
        self.middleware = middleware
        self.app = middleware.app
        self.rewriter = copy.copy(middleware)
        self.rewriter.app = _returns_at_once

    def __call__(self, scope, receive, send):
        step = self.rewriter(scope, receive, send)
        try:
            step.send(None)
        except StopIteration:
            return self.app(scope, receive, send)
        step.close()
        raise RuntimeError("uvicorn's proxy-headers middleware waited for something before the application")


def rewrite_proxy_headers_before_the_app(protocol) -> None:
    """Connections opened from now on reach the application through ``ProxyHeadersBeforeTheApp``.

    Done at the first accept, after the server loaded its application and
    ran its lifespan; each new connection takes the config's application.
    ``protocol``, already running, takes it too, so that it shares its
    ``app`` with the later ones (``share_server_attributes``).
    """
    config = protocol.config
    if type(config.loaded_app) is ProxyHeadersMiddleware:
        config.loaded_app = ProxyHeadersBeforeTheApp(config.loaded_app)
    if isinstance(config.loaded_app, ProxyHeadersBeforeTheApp) and protocol.app is config.loaded_app.middleware:
        protocol.app = config.loaded_app


class KeepaliveWheel:
    """Every open connection's next keepalive ping, due by the second, on one timer per server.

    uvicorn gives each connection a timer of its own that waits out the ping
    interval (an asyncio ``TimerHandle`` with its callback and context: 0.55
    KiB per idle socket by tracemalloc). Here a connection is an entry in the
    bucket of the second its ping is due, and one timer, armed only while a
    bucket is waiting, sends each bucket's pings when its second comes: the
    same pings, at most a ``TICK`` later. Bounded: a connection is in at most
    one bucket, and there are at most ``ping_interval / TICK + 1`` buckets;
    a connection leaves when it closes (uvicorn calls ``stop_keepalive``).
    The wait for the pong keeps uvicorn's own timer: it is pending only while
    a ping is in flight.
    """

    TICK = 1.0  # seconds: how late a ping may be, and how many timers a second the server may fire

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buckets: dict[int, dict[Any, None]] = {}  # tick -> its connections, in the order they came
        self.tick_of: dict[Any, int] = {}
        self.timer: asyncio.TimerHandle | None = None
        self._armed_tick = 0  # the tick the timer fires at, while it is armed

    def schedule(self, protocol: Any, delay: float) -> None:
        """Ping ``protocol`` ``delay`` seconds from now (rounded up to the next tick)."""
        self.cancel(protocol)
        tick = math.ceil((self.loop.time() + delay) / self.TICK)
        self.buckets.setdefault(tick, {})[protocol] = None
        self.tick_of[protocol] = tick
        if self.timer is None or tick < self._armed_tick:
            self._arm()

    def cancel(self, protocol: Any) -> None:
        tick = self.tick_of.pop(protocol, None)
        if tick is not None:
            bucket = self.buckets[tick]
            del bucket[protocol]
            if not bucket:
                del self.buckets[tick]
        if not self.buckets and self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self._armed_tick = min(self.buckets)
        self.timer = self.loop.call_at(self._armed_tick * self.TICK, self._fire)

    def _fire(self) -> None:
        self.timer = None
        # A timer may fire a little before its time (the loop's clock resolution): its own tick is due.
        now = max(self._armed_tick, math.floor(self.loop.time() / self.TICK))
        for tick in sorted(tick for tick in self.buckets if tick <= now):
            for protocol in self.buckets.pop(tick):
                del self.tick_of[protocol]
                protocol.send_keepalive_ping()  # uvicorn's: skips a closing connection
        if self.buckets and self.timer is None:
            self._arm()


def _schedule_ping_on_the_wheel(protocol) -> None:
    """``schedule_ping`` of a slimmed connection: its next ping is an entry on the server's wheel."""
    protocol.keepalive_wheel.schedule(protocol, max(0.0, protocol.ping_interval - protocol.last_ping_rtt))


def _stop_keepalive_on_the_wheel(protocol) -> None:
    """``stop_keepalive`` of a slimmed connection: off the wheel, and uvicorn's own timers stopped."""
    protocol.keepalive_wheel.cancel(protocol)
    WebSocketsSansIOProtocol.stop_keepalive(protocol)


# One subclass per server (by its config), whose class attributes are that server's values. As many
# entries as uvicorn servers this process has run (one, outside tests); each class holds its config, so
# the id it is filed under is never reused.
_server_classes: dict[int, type] = {}


def share_server_attributes(protocol) -> bool:
    """Move the attributes an open connection shares with every other to a class of its server.

    uvicorn's protocol sets 37 attributes per connection, past the 30 that
    CPython's shared-key instance dicts hold, so each connection has a whole
    dict of its own (1.6 KiB). Twelve of them are its server's (config,
    loop, logger, the connection set...; not ``default_headers``, which the
    server renews every second with its ``Date``), and eight are state that,
    while the connection is open, holds the same immutable value on every
    connection. Those are read from a subclass made once per server, and the
    instance keeps the other seventeen in a dict sized for them (under 0.6
    KiB). Reading an attribute gives the same value as before; writing one (a
    close) sets it on the instance, as it always did. The subclass also pings
    its connections from one ``KeepaliveWheel`` instead of a timer each.
    False (nothing changes) when a value is not the server's or not in its
    open state. A connection accepted on the same local address as the
    first (every one, unless the server listens on several) reads that too
    from the class (a tuple and its strings: 0.15 KiB).
    """
    state = protocol.__dict__
    config = state.get("config")
    server_class = _server_classes.get(id(config))
    if server_class is None:
        if any(name not in state for name in SERVER_ATTRIBUTES):
            return False
        server_class = type(
            "SharedSansIOProtocol",
            (type(protocol),),
            {
                "__module__": __name__,
                "__doc__": "uvicorn's sansio protocol with its server's values as class attributes.",
                **{name: state[name] for name in SERVER_ATTRIBUTES},
                **OPEN_CONNECTION_STATE,
                "server": state.get("server"),  # the first connection's local address; most share it
                "keepalive_wheel": KeepaliveWheel(state["loop"]),
                "schedule_ping": _schedule_ping_on_the_wheel,
                "stop_keepalive": _stop_keepalive_on_the_wheel,
                "data_received": _data_received_reviving_parser,
            },
        )
        _server_classes[id(config)] = server_class
    if type(protocol) is not server_class.__base__:
        return False
    if any(state.get(name) is not getattr(server_class, name) for name in SERVER_ATTRIBUTES):
        return False
    if any(state.get(name, value) != value for name, value in OPEN_CONNECTION_STATE.items()):
        return False
    # The address it was accepted on is the server's, mostly.
    moved = _MOVED_WITH_SERVER if state.get("server") == server_class.server else _MOVED
    protocol.__class__ = server_class
    protocol.__dict__ = {name: value for name, value in state.items() if name not in moved}
    return True


def restart_frame_parser(conn) -> bool:
    """Start websockets' frame parser afresh between frames, so it holds nothing it has read.

    ``ServerProtocol.parse`` reads the handshake request into a local, then
    delegates to ``Protocol.parse`` for the life of the connection, so its
    suspended frame keeps the request and its header map alive (1.6 KiB per
    idle socket with the bench's few headers; a browser's cookies and agent
    strings make it more). ``Protocol.parse`` in turn keeps the last frame it
    read in a local until the next one arrives: an idle socket held its
    client's last message (the ``authenticate`` frame with its token, or a
    message body up to the frame limit). The frame parser keeps no state of
    its own between frames (it lives in the reader's buffer and the
    protocol), so a new one, started while the old waits for a next frame
    with nothing buffered, reads exactly what the old would have. Anywhere
    else (a frame half read, another websockets' parser), nothing changes:
    False.
    """
    if not _between_frames(conn):
        return False
    conn.parser = _fresh_frame_parser(conn)
    return True


def _between_frames(conn) -> bool:
    """websockets' frame parser waits for a next frame with nothing buffered (see ``restart_frame_parser``)."""
    parser = conn.parser
    if getattr(parser, "gi_code", None) is ServerProtocol.parse.__code__:
        parser = parser.gi_yieldfrom  # the handshake's parser, delegating to the frame parser
    waiting = getattr(parser, "gi_yieldfrom", None)
    return (
        getattr(parser, "gi_code", None) is Protocol.parse.__code__
        and getattr(waiting, "gi_code", None) is StreamReader.at_eof.__code__
        and not conn.reader.buffer
        and not conn.reader.eof
    )


def _fresh_frame_parser(conn):
    parser = Protocol.parse(conn)
    next(parser)  # runs to where a parser waits between frames: in ``at_eof``, for data
    return parser


def park_frame_parser(protocol) -> bool:
    """Between frames, leave a connection with no parser at all until its next data arrives.

    Even a fresh parser is two suspended generators (0.44 KiB per idle socket
    by tracemalloc). A connection of a ``share_server_attributes`` class
    starts one in its ``data_received`` when it has none, so between frames
    it can hold none; any other gets a fresh one (``restart_frame_parser``).
    False (nothing changes) when a frame is half read.
    """
    conn = protocol.conn
    if type(protocol).data_received is not _data_received_reviving_parser:
        return restart_frame_parser(conn)
    if not _between_frames(conn):
        return False
    conn.parser = None
    return True


def _data_received_reviving_parser(protocol, data: bytes) -> None:
    """``data_received`` of a slimmed connection: a parked parser (``park_frame_parser``) starts again first,
    and is parked again once the data holds no half-read frame. A message's text is in the receive queue
    by then, and a control frame (the pong to each keepalive ping) never reaches the consumer, which
    parks the parser after each message it handles."""
    conn = protocol.conn
    if conn.parser is None:
        conn.parser = _fresh_frame_parser(conn)
    WebSocketsSansIOProtocol.data_received(protocol, data)
    if _between_frames(conn):
        conn.parser = None


class SansIOConnection:
    """What the consumer does on a uvicorn sansio connection beside its ``send``.

    One per open socket (``realtime.consumer.release_handshake``), holding
    only the protocol.
    """

    __slots__ = ("protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self.protocol = protocol

    def write_text(self, text: str) -> bool:
        """``write_text_frame`` on this connection."""
        return write_text_frame(self.protocol, text)

    def write_texts(self, texts: list[str], *, shared: bool = True) -> bool:
        """``write_text_frames`` on this connection."""
        return write_text_frames(self.protocol, texts, shared=shared)

    def forget_read_frame(self) -> bool:
        """After a message is handled: the parser lets go of its frame (``park_frame_parser``)."""
        return park_frame_parser(self.protocol)


class SlimQueue:
    """An unbounded FIFO with ``put_nowait``, ``get``, ``get_nowait`` and ``empty``, for one reader."""

    __slots__ = ("_items", "_getter")

    def __init__(self) -> None:
        self._items: list | None = None
        self._getter: asyncio.Future | None = None

    def put_nowait(self, item) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def get_nowait(self):
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.pop(0)
        if not self._items:
            self._items = None
        return item

    async def get(self):
        while not self._items:
            if self._getter is not None and not self._getter.done():
                raise RuntimeError("SlimQueue has one reader")
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self.get_nowait()


class SlimEvent:
    """``asyncio.Event`` (``set``, ``clear``, ``is_set``, ``wait``) without a deque until someone waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            waiters, self._waiters = self._waiters, None
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
