"""The WebSocket origin check: the whole origin (scheme, host, port), as Django's CSRF check reads it."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def opens(origin: str | None, host: str = "localhost:8000", scheme: str = "ws", **headers: str) -> bool:
    sent = [(b"host", host.encode())]
    if origin is not None:
        sent.append((b"origin", origin.encode()))
    sent += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=sent)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


async def test_the_sockets_own_origin_opens():
    assert await opens("http://localhost:8000") is True


async def test_the_same_host_on_another_port_is_refused():
    assert await opens("http://localhost:9999") is False


async def test_the_same_host_with_another_scheme_is_refused():
    assert await opens("https://localhost:8000") is False


async def test_https_pages_open_wss_sockets_on_the_default_port():
    assert await opens("https://localhost", host="localhost", scheme="wss") is True


async def test_the_proxys_forwarded_proto_makes_the_origin_https():
    assert await opens("https://localhost", host="localhost", x_forwarded_proto="https") is True


async def test_a_host_outside_allowed_hosts_is_refused_even_when_the_origin_matches_it():
    assert await opens("http://evil.example", host="evil.example") is False


async def test_an_opaque_null_origin_is_refused():
    assert await opens("null") is False


async def test_a_trusted_origin_opens(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    assert await opens("https://chat.example.com") is True


async def test_a_trusted_wildcard_origin_opens_its_subdomains_only(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    assert await opens("https://eu.example.com") is True
    assert await opens("https://example.com.evil.net") is False


async def test_a_client_without_origin_is_not_a_browser_and_opens():
    assert await opens(None) is True
