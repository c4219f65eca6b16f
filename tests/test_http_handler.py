"""HTTP through the project's ASGI application: Django's middleware chain and view in one thread hop."""

import pytest
from channels.testing import HttpCommunicator

from config.asgi import application, django_asgi_app
from config.http import OneHopASGIHandler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def get(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"localhost"), *(headers or [])])
    return await communicator.get_response(timeout=10)


async def test_the_http_application_is_the_one_hop_handler():
    assert isinstance(django_asgi_app, OneHopASGIHandler)


async def test_a_page_gets_every_middleware_header():
    response = await get("/accounts/login/")
    headers = dict(response["headers"])
    assert response["status"] == 200
    assert b"default-src 'self'" in headers[b"Content-Security-Policy"]
    assert headers[b"X-Frame-Options"] == b"DENY"
    assert b"csrftoken=" in headers[b"Set-Cookie"]


async def test_an_api_error_keeps_its_status_and_json_body():
    response = await get("/api/v1/rooms/")
    assert response["status"] == 401
    assert b'"code"' in response["body"]

