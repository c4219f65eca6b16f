"""Origin checking for the chat socket.

Browsers always send ``Origin``, and a page on another site must not ride on
the user's session cookie (cross-site WebSocket hijacking): such origins are
refused unless they match ``ALLOWED_HOSTS``. Clients that send no
``Origin`` are not browsers; they cannot use a browser's cookies and must
authenticate with a token, so they pass.
"""

import asyncio
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class BrowserOriginValidator(OriginValidator):
    def __init__(self, application) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


class ChatSocket:
    """The WebSocket side of the application: Origin check, session user, then the chat consumer.

    One callable instead of Channels' ``OriginValidator``, a session middleware
    and ``URLRouter``: each of those stays on the stack of every connection for
    its whole life, with a coroutine frame and (all but the first) its own copy
    of the scope (measured: 2 KiB per idle connection). Here the server's scope
    gets the ``user`` key itself: it belongs to this one connection.

    Channels' ``AuthMiddlewareStack`` would also wrap every ``send`` to save a
    modified session: on the chat socket, which never changes the session,
    that wrapper ran for every delivered frame (17 % of the delivery path,
    measured). Here the session is read once at connect, and frames go to the
    server's own ``send``.
    """

    def __init__(self, consumer_class, path: str = "/ws/chat/") -> None:
        self.consumer_class = consumer_class
        self.path = path
        self.origins = BrowserOriginValidator(None)

    async def __call__(self, scope, receive, send):
        return await (await self.application_for(scope))(scope, receive, send)

    async def application_for(self, scope):
        """The consumer for this socket, or a denier; the caller runs it (one coroutine less per connection)."""
        path = scope["path"][len(scope.get("root_path", "")) :]
        if path != self.path:
            raise ValueError(f"No route found for path {path!r}.")  # as URLRouter: the server answers 500
        if not self.origins.valid_origin(_origin(scope)):
            return WebsocketDenier()
        session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
        scope["user"] = await _user_for_session(session_key) if session_key else AnonymousUser()
        return self.consumer_class()


def release_handshake(scope, send) -> None:
    """Let go of what the handshake left behind, once the socket is accepted (about 4 KiB per connection).

    The request headers in the scope were read (origin, cookie) before the
    consumer started, and nothing reads them after. uvicorn's
    websockets-sansio protocol (``send`` is its bound method) also keeps the
    handshake's request and response, with their header maps, for the life
    of the connection, but reads them only until the accept; and its receive
    queue and write flag are asyncio's ``Queue`` and ``Event``, four deques
    (2.6 KiB) for at most a few messages and one waiter: ``SlimQueue`` and
    ``SlimEvent`` do the same with none. Called while the consumer handles a
    message, so nothing is waiting on the queue; what it holds moves over.
    """
    scope["headers"] = ()
    protocol = getattr(send, "__self__", None)
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


def _origin(scope):
    """The parsed ``Origin`` header, or None (as ``OriginValidator`` reads it)."""
    for header, value in scope.get("headers", ()):
        if header == b"origin":
            try:
                return urlparse(value.decode("latin1"))
            except UnicodeDecodeError:
                return None
    return None


def _cookie(scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            cookies = parse_cookie(value.decode("latin1"))
            if name in cookies:
                return cookies[name]
    return None


@database_sync_to_async
def _user_for_session(session_key: str):
    """The user of a session, with Django's own checks (backend, session hash, is_active)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))
