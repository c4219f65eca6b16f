"""The WebSocket entry: origin check, session user, routing to the chat consumer.

Origin checking:

Browsers always send ``Origin``, and a page on another origin must not ride
on the user's session cookie (cross-site WebSocket hijacking). The check is
Django's CSRF origin check, for sockets: the whole origin (scheme, host and
port) must be the socket's own (its ``Host``, which must be in
``ALLOWED_HOSTS``, with ``https`` for ``wss`` or when the proxy says so
through ``SECURE_PROXY_SSL_HEADER``), or one of ``CSRF_TRUSTED_ORIGINS``. A
page on another port or scheme of the same host is another origin and is
refused. Clients that send no ``Origin`` are not browsers; they cannot use a
browser's cookies and must authenticate with a token, so they pass.
"""

from importlib import import_module
from types import SimpleNamespace
from urllib.parse import urlparse

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from .database import database_call

# What this entry was written against (lowest, first unsupported): ``_user_for_session`` hands Django's
# ``get_user`` a stand-in request with only a session. tests/realtime/test_versions.py holds it to this.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {"django": ("5.2", "6.0")}


DEFAULT_PORTS = {"http": 80, "https": 443}


class BrowserOriginValidator:
    """Whether a socket's ``Origin`` may use its cookies: same origin as the socket, or a trusted one."""

    def valid_origin(self, scope) -> bool:
        origin = _header(scope, b"origin")
        if origin is None:
            return True
        parsed = _parsed_origin(origin)
        if parsed is None:
            return False
        return parsed == self._own_origin(scope) or any(
            _origin_matches(parsed, trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS
        )

    def _own_origin(self, scope) -> tuple[str, str, int] | None:
        """(scheme, host, port) of the page that may open this socket: the socket's own, as a browser sees it."""
        host = _header(scope, b"host")
        if not host:
            return None
        allowed_hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed_hosts:
            allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]  # as Django's own host check in DEBUG
        domain, port = split_domain_port(host)
        if not domain or not validate_host(domain, allowed_hosts):
            return None
        scheme = "https" if scope.get("scheme") == "wss" or _proxy_says_https(scope) else "http"
        return scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme]


def _parsed_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port) of an ``Origin`` value; None for ``null`` or anything unreadable."""
    try:
        parsed = urlparse(origin)
        port = parsed.port
    except ValueError:
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
        return None
    return parsed.scheme, parsed.hostname.lower(), port or DEFAULT_PORTS[parsed.scheme]


def _origin_matches(origin: tuple[str, str, int], trusted: str) -> bool:
    """As Django's CSRF check reads ``CSRF_TRUSTED_ORIGINS``: exact, or ``scheme://*.domain`` for subdomains."""
    wildcard = "://*." in trusted
    wanted = _parsed_origin(trusted.replace("://*.", "://", 1) if wildcard else trusted)
    if wanted is None:
        return False
    scheme, host, port = origin
    if wildcard:
        return (scheme, port) == (wanted[0], wanted[2]) and host.endswith("." + wanted[1])
    return origin == wanted


def _proxy_says_https(scope) -> bool:
    """``SECURE_PROXY_SSL_HEADER`` (e.g. ``X-Forwarded-Proto: https``), as ``request.is_secure()`` reads it."""
    if not settings.SECURE_PROXY_SSL_HEADER:
        return False
    meta_name, expected = settings.SECURE_PROXY_SSL_HEADER
    header = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
    value = _header(scope, header)
    return value is not None and value.split(",", 1)[0].strip() == expected


def _header(scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == name:
            return value.decode("latin1")
    return None


# The scope's user of every socket without a session cookie (API clients, who send ``authenticate``):
# Django's AnonymousUser holds no state, so one serves them all.
ANONYMOUS_USER = AnonymousUser()


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
        self.origins = BrowserOriginValidator()

    async def __call__(self, scope, receive, send):
        return await (await self.application_for(scope))(scope, receive, send)

    async def application_for(self, scope):
        """The consumer for this socket, or a denier; the caller runs it (one coroutine less per connection)."""
        path = scope["path"][len(scope.get("root_path", "")) :]
        if path != self.path:
            raise ValueError(f"No route found for path {path!r}.")  # as URLRouter: the server answers 500
        if not self.origins.valid_origin(scope):
            return WebsocketDenier()
        session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
        scope["user"] = await database_call(_user_for_session, session_key) if session_key else ANONYMOUS_USER
        if scope["user"].is_authenticated:
            # The consumer keeps this sign-in session's tag, so signing out of it closes this socket.
            scope["session_key"] = session_key
        return self.consumer_class()


def _cookie(scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            cookies = parse_cookie(value.decode("latin1"))
            if name in cookies:
                return cookies[name]
    return None


def _user_for_session(session_key: str):
    """The user of a session, with Django's own checks (backend, session hash, is_active).

    The session hash includes the user's token generation
    (accounts.models.User.get_session_auth_hash): a session whose sessions
    were ended (password change or reset, deactivation, suspension) is flushed
    here and the socket is anonymous.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))
