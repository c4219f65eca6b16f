"""Open sockets close when their sessions end: password change, deletion, deactivation, sign-out."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from config.asgi import application
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)

OLD = "correct-horse-battery"


@database_sync_to_async
def call(function, *args, **kwargs):
    return function(*args, **kwargs)


async def closed_with(socket, text: str) -> None:
    """The socket is told why (an ``error`` frame) and closed with 4403."""
    error = await receive_until(socket, "error")
    assert error["data"] == {"code": "forbidden", "message": text}
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def still_open(socket) -> None:
    await socket.send_json_to({"type": "ping", "id": "p"})
    assert (await receive_until(socket, "ack", request_id="p"))["id"] == "p"


async def page_socket(browser: Client) -> WebsocketCommunicator:
    """A socket opened by the browser page: its session cookie, no token."""
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"cookie", cookie.encode())])
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
    return socket


async def token_socket(access: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "authenticate", "data": {"token": access}})
    assert (await socket.receive_json_from(timeout=5))["type"] == "ready"
    return socket


def sign_in(username: str) -> dict:
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": OLD}, format="json").json()


def signed_in_browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


async def test_a_password_change_closes_every_socket_of_the_user(ws_connect, api_for, bob):
    first, second = await ws_connect(bob), await ws_connect(bob)
    response = await call(
        api_for(bob).post,
        "/api/v1/auth/password/",
        {"old_password": OLD, "new_password": "a-brand-new-passphrase"},
        format="json",
    )
    assert response.status_code == 204

    for socket in (first, second):
        await closed_with(socket, "Your password was changed. Sign in again.")


async def test_deleting_a_user_in_the_admin_closes_their_sockets(ws_connect, make_user, bob):
    socket = await ws_connect(bob)
    admin = await call(signed_in_browser, await call(make_user, "root", is_staff=True, is_superuser=True))

    response = await call(admin.post, f"/admin/accounts/user/{bob.id}/delete/", {"post": "yes"})
    assert response.status_code == 302

    await closed_with(socket, "Your account was deleted.")


async def test_setting_is_active_false_directly_closes_the_sockets(ws_connect, bob):
    socket = await ws_connect(bob)
    bob.is_active = False
    await call(bob.save)

    await closed_with(socket, "Your account was deactivated.")


async def test_signing_out_of_the_page_closes_that_browsers_socket_only(ws_connect, bob):
    browser = await call(signed_in_browser, bob)
    page = await page_socket(browser)
    phone = await ws_connect(bob)

    response = await call(browser.post, "/accounts/logout/")
    assert response.status_code == 302

    await closed_with(page, "You signed out.")
    await still_open(phone)


async def test_signing_out_through_the_api_closes_that_token_sessions_socket_only(bob):
    laptop_tokens, phone_tokens = await call(sign_in, "bob"), await call(sign_in, "bob")
    laptop, phone = await token_socket(laptop_tokens["access"]), await token_socket(phone_tokens["access"])

    response = await call(
        APIClient().post, "/api/v1/auth/logout/", {"refresh": laptop_tokens["refresh"]}, format="json"
    )
    assert response.status_code == 204

    await closed_with(laptop, "You signed out.")
    await still_open(phone)
    await phone.disconnect()


async def test_a_token_of_an_ended_session_cannot_open_a_socket(api_for, bob):
    tokens = await call(sign_in, "bob")
    await call(
        api_for(bob).post,
        "/api/v1/auth/password/",
        {"old_password": OLD, "new_password": "a-brand-new-passphrase"},
        format="json",
    )
    socket = WebsocketCommunicator(application, "/ws/chat/")
    await socket.connect()

    await socket.send_json_to({"type": "authenticate", "data": {"token": tokens["access"]}})

    error = await receive_until(socket, "error")
    assert error["data"]["code"] == "unauthenticated"
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_socket_follows_no_channel_group_of_its_sign_in_session(bob):
    """Ending a session tells the user's group which session ended: a group per session was a Redis
    subscription and a round trip on every connect."""
    from channels.layers import get_channel_layer

    tokens = await call(sign_in, "bob")
    socket = await token_socket(tokens["access"])
    layer = get_channel_layer()

    followed = [name for name, members in layer.groups.items() if members]

    assert not [name for name in followed if "session" in name]
    await socket.disconnect()
