"""The consumer runtime: Channels' consumer loop without a task or queue per socket.

``RealtimeConsumer`` reads its socket in the server's own task and takes
channel-layer events through a callback (``attach``, ``realtime.layers``):
a frame to forward is written at once; anything else, or anything that
arrives while a message is being handled, waits in an ordered backlog. A
subclass (``chat.consumers.ChatConsumer``) parses frames, runs handlers and
acks; it says what each layer event means with ``frame_for``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from core.errors import ActionError
from core.metrics import counts, register_gauge
from core.publishing import call_collecting_events, encode_frame

from . import shutdown
from .database import database_call
from .publisher import committed_publisher

logger = logging.getLogger(__name__)

# What RealtimeConsumer was written against (lowest, first unsupported): it replaces Channels' consumer
# loop (AsyncConsumer.__call__, dispatch) and relies on AsyncWebsocketConsumer's handlers and base_send.
# tests/realtime/test_versions.py holds the installed version to it.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {"channels": ("4.3", "4.4")}

MAX_REQUEST_ID_LENGTH = 64
# What an open connection's scope still holds after the accept (``release_handshake``).
SCOPE_KEYS_KEPT = ("type", "client", "user", "session_key")

# A socket closed for reading too slowly: the client reconnects and syncs (docs/protocol.md).
CLOSE_TOO_SLOW = 4008
# Queued events other than ready-made frames (membership changes...) are counted at this size.
QUEUED_EVENT_BYTES = 512
# How long a slow socket gets to take its close frame before the connection is cut.
CLOSE_WRITE_TIMEOUT = 1.0


def request_id_of(text: str | None) -> str | None:
    """The ``id`` of a request frame, when it can be read (for answers to frames that are refused whole)."""
    if not text:
        return None
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    request_id = frame.get("id") if isinstance(frame, dict) else None
    return request_id if isinstance(request_id, str) and len(request_id) <= MAX_REQUEST_ID_LENGTH else None


def abort_connection(send: Callable[..., Any]) -> None:
    """Cut the connection under a server's ``send`` at once, dropping what its buffers hold.

    For a peer that stopped reading: a close frame would wait behind the
    frames it never read. Servers whose ``send`` is a bound method of a
    protocol with an asyncio transport (uvicorn's) are cut here; under other
    servers the connection ends when the peer's TCP gives up.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    if abort is not None:
        abort()


class ServerConnection(Protocol):
    """What a consumer can do on its connection past the server's ``send``, where the server allows it."""

    def write_text(self, text: str) -> bool:
        """Write a ready-made text frame at once; False: use ``send`` (flow control, closing...)."""

    def write_texts(self, texts: list[str], *, shared: bool = True) -> bool:
        """Write ready-made text frames, in order, in one write; False: use ``send``, as for ``write_text``.
        ``shared``: other sockets get the same texts (the server may keep them built)."""

    def forget_read_frame(self) -> bool:
        """Let go of what the server's parser keeps of the last frame read, between frames."""


def release_handshake(scope: dict[str, Any], send: Callable[..., Any]) -> ServerConnection | None:
    """Let go of what the handshake left behind once the socket is accepted; say how to write frames fast.

    The scope's headers were read (origin, cookie) before the consumer
    started; after the accept the consumer reads only ``SCOPE_KEYS_KEPT``
    (dropping the rest saved about 0.9 KiB per connection). uvicorn's sansio protocol
    keeps more; its tweak is imported only when that is the running server's
    protocol, so a server without it (or a uvicorn that renamed it) never
    imports uvicorn's internals. Under that protocol the answer is the
    connection's ``realtime.uvicorn_sansio.SansIOConnection`` (ready-made
    frames, the parser's last frame let go); under any other server, None.
    """
    kept = {key: scope[key] for key in SCOPE_KEYS_KEPT if key in scope}
    scope.clear()  # the server holds this same dict: cleared, its table goes too
    scope.update(kept)
    protocol = getattr(send, "__self__", None)
    if protocol is not None and type(protocol).__module__ == "uvicorn.protocols.websockets.websockets_sansio_impl":
        from .uvicorn_sansio import SansIOConnection, slim_protocol  # lazily: only under that server

        slim_protocol(protocol)
        return SansIOConnection(protocol)
    return None


# A socket holds at most this many events (``HeldEvents``); one more writes them all at once.
HELD_EVENTS_MAX = 32


class HeldEvents:
    """The connections of one event loop holding events that may wait (``RealtimeConsumer.HOLDABLE_TYPES``),
    and the one timer that writes them all ``WS_EVENT_HOLD_SECONDS`` after the first was held.

    A presence change reaches every online co-member: a connect wrote to some fifty sockets, one system
    call each. Held a moment, the changes that reach a socket meanwhile go out in one write. The timer is
    one for the loop, not one per socket; a held event waits at most the hold, and any other event for the
    socket takes the held ones with it, in order.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.holders: set[RealtimeConsumer] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, consumer: RealtimeConsumer) -> None:
        self.holders.add(consumer)
        if self.timer is None:
            self.timer = self.loop.call_later(settings.WS_EVENT_HOLD_SECONDS, self.write_all)

    def write_all(self) -> None:
        self.timer = None
        holders, self.holders = self.holders, set()
        for consumer in holders:
            try:
                consumer._write_held()
            except Exception:  # one socket's failure must not leave the others' events held
                logger.exception("Writing the held events of %s failed", consumer.channel_name)
                consumer._held = None


_held_events: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HeldEvents] = weakref.WeakKeyDictionary()


def held_events() -> HeldEvents:
    """The running loop's ``HeldEvents``."""
    loop = asyncio.get_running_loop()
    held = _held_events.get(loop)
    if held is None:
        held = _held_events[loop] = HeldEvents(loop)
    return held


class RealtimeConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer that handles one message at a time, with direct layer delivery."""

    # Class-level defaults: an idle connection's instance dict holds only what it uses.
    _backlog: collections.deque | None = None
    _backlog_bytes = 0
    _drainer: asyncio.Future | None = None
    _stall_timer: asyncio.TimerHandle | None = None
    _shed = False  # closed for being too slow: layer events are dropped from then on
    # The connection past the server's ``send``, when the server allows it (``release_handshake``).
    _connection: ServerConnection | None = None
    # Layer message types whose frames may wait up to WS_EVENT_HOLD_SECONDS to share a write (``HeldEvents``).
    HOLDABLE_TYPES: frozenset[str] = frozenset()
    _held: list[str] | None = None  # frames held, in arrival order

    async def send_error(self, request_id: str | None, error: ActionError) -> None:
        await self.send(text_data=encode_frame("error", error.as_data(), request_id=request_id))

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """Channels' ``send``, with a text frame written ready-made where the server allows it.

        ``ready``, acks and errors then skip the server's per-frame encoding, as
        events do (``_write_now``). The order is the same: the server's ``send``
        also writes at once unless the socket's buffer is full, and then the
        ready-made path stands aside too.
        """
        connection = self._connection
        if text_data is not None and not close and connection is not None and connection.write_text(text_data):
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def send_texts(self, texts: list[str]) -> None:
        """``send`` for several text frames of this socket's own, in order: in one write where the server
        allows it (one system call and one wake-up of the client, not one per frame)."""
        connection = self._connection
        if connection is not None and connection.write_texts(texts, shared=False):
            return
        for text in texts:
            await self.send(text_data=text)

    async def __call__(self, scope, receive, send) -> None:
        """Channels' consumer loop, with events written as they arrive and no task per connection.

        ``await_many_dispatch`` re-created a task per message and waited on both
        sources each time, and even a persistent reader kept a task, a queue and
        a future per idle connection. Here the socket is read by this coroutine
        (the server's task) and the channel layer calls ``_layer_event`` for
        each event (``realtime.layers``): a frame to forward is written at once,
        anything else, or anything arriving while a message is being handled,
        waits in ``_backlog`` and is handled in arrival order after it. So a
        consumer still handles one message at a time, as Channels does: a
        sender's ack still comes before its own echo, ``ready`` before any event.
        Layers without ``attach`` get a reader task, as before.
        """
        self.scope = scope
        self.base_send = send
        self._dispatching = asyncio.Lock()
        layer = self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await layer.new_channel()
        attach = getattr(layer, "attach", None)
        layer_reader = None
        try:
            shutdown.socket_opened(self)  # left in the ``finally``, whatever happens from here
            if attach is not None:
                attach(self.channel_name, self._layer_event)
            else:
                layer_reader = asyncio.ensure_future(self._read_layer())
            while True:
                message = await receive()
                async with self._dispatching:
                    await self.dispatch(message)
                    message = None  # not kept alive while the socket is idle
                    if self._backlog:
                        await self._drain()
                if self._connection is not None:
                    self._connection.forget_read_frame()  # nor is the frame the server read it from
        except StopConsumer:
            pass
        finally:
            shutdown.socket_closed(self)
            if attach is not None:
                layer.detach(self.channel_name)
            self._drop_held()
            if self._backlog is not None:
                self._backlog.clear()
                self._backlog_emptied()
            for task in (layer_reader, self._drainer):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                        await task

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        """A frame from the client: handled, counted as in flight, or refused while the process drains."""
        if shutdown.state.draining:
            await self.send_error(
                request_id_of(message.get("text")),
                ActionError("unavailable", "The server is restarting: reconnect and try again.", retry_after=1),
            )
            return
        shutdown.state.request_started()
        try:
            await super().websocket_receive(message)
        finally:
            shutdown.state.request_finished()

    async def close_for_restart(self) -> None:
        """The process is stopping (``realtime.shutdown``): the client reconnects elsewhere and syncs."""
        await self.close(code=shutdown.CLOSE_SERVICE_RESTART)

    def _layer_event(self, message: dict[str, Any]) -> None:
        """An event for this connection, called by the channel layer as it arrives (never awaits)."""
        if self._shed:
            return
        item = self.frame_for(message)
        if item is None:
            return
        if type(item) is str and self._backlog is None and not self._dispatching.locked():
            if message["type"] in self.HOLDABLE_TYPES and self._connection is not None:
                self._hold(item)
            else:
                self._write_now(item)
            return
        self._move_held_to_backlog()
        self._enqueue(item, len(item) if type(item) is str else QUEUED_EVENT_BYTES)
        if not self._dispatching.locked() and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.ensure_future(self._drain_when_free())

    def _hold(self, text: str) -> None:
        """Keep a frame that may wait for the loop's next write of held events (``HeldEvents``)."""
        held = self._held
        if held is None:
            if settings.WS_EVENT_HOLD_SECONDS <= 0:
                self._write_now(text)
                return
            self._held = [text]
            held_events().add(self)
        else:
            held.append(text)
            if len(held) >= HELD_EVENTS_MAX:
                self._write_held()

    def _write_held(self) -> None:
        """Write the frames held, in one write where the server allows it, else through the backlog in order."""
        held = self._held
        if not held or self._shed:
            self._held = None
            return
        if self._backlog is None and not self._dispatching.locked():
            self._held = None
            try:
                if self._connection is not None and self._connection.write_texts(held):
                    counts.frames_delivered += len(held)
                    return
            except Exception:
                logger.exception("Writing to %s failed", self.channel_name)
                return
            self._held = held
        self._move_held_to_backlog()
        if not self._dispatching.locked() and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.ensure_future(self._drain_when_free())

    def _move_held_to_backlog(self) -> None:
        """Queue the frames held ahead of what comes next (an event that cannot be written at once)."""
        held = self._held
        if held is not None:
            self._held = None
            for text in held:
                self._enqueue(text, len(text))

    def _drop_held(self) -> None:
        self._held = None
        held = _held_events.get(asyncio.get_running_loop())
        if held is not None:
            held.holders.discard(self)

    def _enqueue(self, item: Any, size: int) -> None:
        """Queue ``item`` behind what waits; a socket past its backlog bound is shed."""
        if self._backlog is None:
            self._backlog = collections.deque()
            # Whatever waits must be written within WS_SEND_TIMEOUT, or the socket is too slow.
            self._stall_timer = asyncio.get_running_loop().call_later(
                settings.WS_SEND_TIMEOUT, self._shed_slow_socket, "stalled"
            )
        self._backlog.append(item)
        self._backlog_bytes += size
        if self._backlog_bytes > settings.WS_BACKLOG_MAX_BYTES:
            self._shed_slow_socket("backlog")

    def _backlog_emptied(self) -> None:
        self._backlog = None
        self._backlog_bytes = 0
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _shed_slow_socket(self, why: str) -> None:
        """Close a socket that does not read fast enough, and let go of everything queued for it.

        Its events stop here (it leaves the layer), so a frozen tab or a
        sleeping phone costs the server nothing more; the close code tells
        the client to reconnect and ``sync``, which fetches what it missed.
        """
        if self._shed:
            return
        self._shed = True
        self._held = None
        counts.sockets_shed += 1
        logger.warning(
            "Closing %s: too slow to read its events (%s, %d bytes queued)", self.channel_name, why, self._backlog_bytes
        )
        if self._backlog is not None:
            self._backlog.clear()
        self._backlog_emptied()
        detach = getattr(self.channel_layer, "detach", None)
        if detach is not None:
            detach(self.channel_name)
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
        asyncio.ensure_future(self._close_slow_socket())

    async def _close_slow_socket(self) -> None:
        """Send the close frame if the socket still takes writes, else cut the connection."""
        try:
            async with asyncio.timeout(CLOSE_WRITE_TIMEOUT):
                await self.base_send({"type": "websocket.close", "code": CLOSE_TOO_SLOW})
            return
        except (TimeoutError, OSError):
            pass
        except Exception:
            logger.exception("Closing %s failed", self.channel_name)
        abort_connection(self.base_send)

    def frame_for(self, message: dict[str, Any]) -> str | dict[str, Any] | None:
        """What a channel-layer message means for this socket: a text frame to write as it is,
        the message itself to ``dispatch`` in order, or None to drop it. Subclasses filter here."""
        return message

    def _write_now(self, text: str) -> None:
        """Write one frame at once, after any held (in the same write): ready-made where the server allows
        it, else through the server's ``send``, run to its end here if it does not wait (it rarely does)."""
        if self._held is not None:
            self._held.append(text)
            self._write_held()
            return
        connection = self._connection
        if connection is not None:
            try:
                if connection.write_text(text):
                    counts.frames_delivered += 1
                    return
            except Exception:
                logger.exception("Writing to %s failed", self.channel_name)
                return
        sending = self.base_send({"type": "websocket.send", "text": text})
        try:
            awaited = sending.send(None)
        except StopIteration:
            counts.frames_delivered += 1
            return
        except OSError:  # the client is gone (uvicorn's ClientDisconnected); its disconnect follows
            return
        except Exception:
            logger.exception("Writing to %s failed", self.channel_name)
            return
        # The send waits (a slow client's buffer is full): finish it, and whatever follows, in order.
        self._enqueue(_Resumed(sending, awaited), len(text))
        self._drainer = asyncio.ensure_future(self._drain_when_free())

    async def _drain_when_free(self) -> None:
        async with self._dispatching:
            if self._backlog:
                await self._drain()

    async def _drain(self) -> None:
        """Handle the events that waited, in arrival order (the caller holds ``_dispatching``)."""
        backlog = self._backlog
        try:
            while backlog:
                item = backlog.popleft()
                if type(item) is str:
                    self._backlog_bytes -= len(item)
                    await self.base_send({"type": "websocket.send", "text": item})
                    counts.frames_delivered += 1
                elif type(item) is dict:
                    self._backlog_bytes -= QUEUED_EVENT_BYTES
                    await self.dispatch(item)
                else:
                    await item
        except (asyncio.CancelledError, StopConsumer):
            raise
        except OSError:
            backlog.clear()  # the client is gone; its disconnect follows
        except Exception:
            # Without its events the connection would silently go stale: end it, the client reconnects and syncs.
            logger.exception("Events to %s failed", self.channel_name)
            backlog.clear()
            detach = getattr(self.channel_layer, "detach", None)
            if detach is not None:
                detach(self.channel_name)
            await self.close(code=1011)
        finally:
            if self._backlog is backlog and not backlog:
                self._backlog_emptied()

    async def _read_layer(self) -> None:
        """For channel layers without ``attach``: one reader task, events handled one at a time."""
        try:
            while True:
                message = await self.channel_layer.receive(self.channel_name)
                async with self._dispatching:
                    await self.dispatch(message)
        except (asyncio.CancelledError, StopConsumer):
            raise
        except Exception:
            logger.exception("Channel-layer reader of %s failed", self.channel_name)
            await self.close(code=1011)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message ``close_old_connections`` thread hop.

        Channels 4.2+ hops to the database thread before EVERY message, each
        forwarded frame included, so deliveries queued behind sends (measured:
        a third of the delivery path). This consumer reaches the database only
        through ``realtime.database``, which closes stale connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def run_action(
        self, action: Callable[..., Any], *args: Any, lane: Hashable | None = None, **kwargs: Any
    ) -> Any:
        """Run an action on a database thread, then publish its committed events from this loop.

        ``lane`` (a room) runs the action after the lane's earlier ones
        (``realtime.database``): a room's sends from this process reach the
        channel layer in seq order. Publishing never fails the action: what
        the layer refuses is retried (``realtime.publisher``).
        """
        result, outbox = await database_call(call_collecting_events, action, self.user, *args, lane=lane, **kwargs)
        if outbox:
            await committed_publisher().publish(self.channel_layer, outbox)
        return result


class _Resumed:
    """The rest of a coroutine that was started outside a task and stopped at ``awaited``.

    ``_write_now`` runs the server's ``send`` synchronously; in the rare case it
    waits (flow control), awaiting this in a task finishes it exactly as if the
    task had started it: what it waits on goes to the task, results and
    exceptions come back to it (what ``yield from`` does).
    """

    __slots__ = ("coroutine", "awaited")

    def __init__(self, coroutine, awaited) -> None:
        self.coroutine = coroutine
        self.awaited = awaited

    def __await__(self):
        coroutine, value = self.coroutine, self.awaited
        self.awaited = None
        while True:
            try:
                sent = yield value
            except BaseException as error:  # noqa: BLE001 -- handed to the coroutine, as yield from does
                try:
                    value = coroutine.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration as stop:
                    return stop.value


register_gauge("open_sockets", "WebSocket connections open in this process", lambda: len(shutdown.state.sockets))
register_gauge(
    "backlog_bytes",
    "Bytes of events waiting to be written to slow connections",
    lambda: sum(socket._backlog_bytes for socket in list(shutdown.state.sockets)),
)
register_gauge("requests_in_flight", "WebSocket requests being handled", lambda: shutdown.state.in_flight)
