"""Memory tweaks for uvicorn's websockets-sansio protocol, applied after the accept.

Imported lazily, only when the running server's ``send`` is a bound method of
that protocol (``realtime.consumer.release_handshake``): a server without it
(daphne, another uvicorn protocol, a future uvicorn that renames it) never
imports this module, and the application starts all the same.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# What the tweak was written against (lowest, first unsupported): it replaces the protocol's private
# request, response, queue and writable. tests/realtime/test_versions.py holds the installed uvicorn to it.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {"uvicorn": ("0.54", "0.55")}


def slim_protocol(protocol) -> None:
    """Let go of what the handshake left behind in a sansio ``protocol`` (about 4 KiB per connection).

    uvicorn's websockets-sansio protocol (``send`` is its bound method) keeps the
    handshake's request and response, with their header maps, for the life
    of the connection, but reads them only until the accept; and its receive
    queue and write flag are asyncio's ``Queue`` and ``Event``, four deques
    (2.6 KiB) for at most a few messages and one waiter: ``SlimQueue`` and
    ``SlimEvent`` do the same with none. Called while the consumer handles a
    message, so nothing is waiting on the queue; what it holds moves over.
    """
    if isinstance(protocol, WebSocketsSansIOProtocol) and protocol.handshake_complete:
        protocol.request = protocol.response = None
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
