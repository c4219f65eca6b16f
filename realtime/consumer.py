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
from collections.abc import Callable
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from core.errors import ActionError
from core.publishing import call_collecting_events

logger = logging.getLogger(__name__)

# What RealtimeConsumer was written against (lowest, first unsupported): it replaces Channels' consumer
# loop (AsyncConsumer.__call__, dispatch) and relies on AsyncWebsocketConsumer's handlers and base_send.
# tests/realtime/test_versions.py holds the installed version to it.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {"channels": ("4.3", "4.4")}

_publish_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def publish_lock() -> asyncio.Lock:
    """One lock per event loop (a process has one; tests have one per test)."""
    loop = asyncio.get_running_loop()
    lock = _publish_locks.get(loop)
    if lock is None:
        lock = _publish_locks[loop] = asyncio.Lock()
    return lock


def release_handshake(scope: dict[str, Any], send: Callable[..., Any]) -> None:
    """Let go of what the handshake left behind once the socket is accepted.

    The request headers in the scope were read (origin, cookie) before the
    consumer started, and nothing reads them after. uvicorn's sansio protocol
    keeps more; its tweak is imported only when that is the running server's
    protocol, so a server without it (or a uvicorn that renamed it) never
    imports uvicorn's internals.
    """
    scope["headers"] = ()
    protocol = getattr(send, "__self__", None)
    if protocol is not None and type(protocol).__module__ == "uvicorn.protocols.websockets.websockets_sansio_impl":
        from .uvicorn_sansio import slim_protocol  # lazily: only under that server

        slim_protocol(protocol)


class RealtimeConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer that handles one message at a time, with direct layer delivery."""

    # Class-level defaults: an idle connection's instance dict holds only what it uses.
    _backlog: collections.deque | None = None
    _drainer: asyncio.Future | None = None

    async def send_error(self, request_id: str | None, error: ActionError) -> None:
        frame: dict[str, Any] = {"type": "error", "data": error.as_data()}
        if request_id is not None:
            frame["id"] = request_id
        await self.send(text_data=orjson.dumps(frame).decode())

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
        if attach is not None:
            attach(self.channel_name, self._layer_event)
            layer_reader = None
        else:
            layer_reader = asyncio.ensure_future(self._read_layer())
        try:
            while True:
                message = await receive()
                async with self._dispatching:
                    await self.dispatch(message)
                    message = None  # not kept alive while the socket is idle
                    if self._backlog:
                        await self._drain()
        except StopConsumer:
            pass
        finally:
            if attach is not None:
                layer.detach(self.channel_name)
            for task in (layer_reader, self._drainer):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                        await task

    def _layer_event(self, message: dict[str, Any]) -> None:
        """An event for this connection, called by the channel layer as it arrives (never awaits)."""
        item = self.frame_for(message)
        if item is None:
            return
        if type(item) is str and self._backlog is None and not self._dispatching.locked():
            self._write_now(item)
            return
        if self._backlog is None:
            self._backlog = collections.deque()
        self._backlog.append(item)
        if not self._dispatching.locked() and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.ensure_future(self._drain_when_free())

    def frame_for(self, message: dict[str, Any]) -> str | dict[str, Any] | None:
        """What a channel-layer message means for this socket: a text frame to write as it is,
        the message itself to ``dispatch`` in order, or None to drop it. Subclasses filter here."""
        return message

    def _write_now(self, text: str) -> None:
        """Run the server's ``send`` of one frame to its end here if it does not wait (it rarely does)."""
        sending = self.base_send({"type": "websocket.send", "text": text})
        try:
            awaited = sending.send(None)
        except StopIteration:
            return
        except OSError:  # the client is gone (uvicorn's ClientDisconnected); its disconnect follows
            return
        except Exception:
            logger.exception("Writing to %s failed", self.channel_name)
            return
        # The send waits (a slow client's buffer is full): finish it, and whatever follows, in order.
        self._backlog = collections.deque([_Resumed(sending, awaited)])
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
                    await self.base_send({"type": "websocket.send", "text": item})
                elif type(item) is dict:
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
                self._backlog = None

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
        through ``database_sync_to_async``, which closes stale connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def run_action(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an action in a worker thread, then publish its events from this loop.

        Publishing holds the process's publish lock, taken in the order the
        (single) database thread finished the actions: two sends into one room
        reach the channel layer in seq order instead of racing their round trips.
        """
        result, outbox = await database_sync_to_async(call_collecting_events)(action, self.user, *args, **kwargs)
        if outbox:
            async with publish_lock():
                for group, message in outbox:
                    await self.channel_layer.group_send(group, message)
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
