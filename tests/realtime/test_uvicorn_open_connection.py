"""An open connection under uvicorn's sansio protocol keeps only its own state (realtime.uvicorn_sansio).

A real uvicorn server runs the application in the test's loop, so its
protocol objects and scopes can be looked at; a real WebSocket client talks
to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import orjson
import pytest
import pytest_asyncio
import uvicorn
from rest_framework_simplejwt.tokens import AccessToken
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from websockets.asyncio.client import connect

from realtime.consumer import SCOPE_KEYS_KEPT
from realtime.uvicorn_sansio import (
    OPEN_CONNECTION_STATE,
    SERVER_ATTRIBUTES,
    ProxyHeadersBeforeTheApp,
    share_server_attributes,
)
from tests.conftest import free_port
from tests.wsclient import Client

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.asynccontextmanager
async def _serving(**settings):
    from config.asgi import application

    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=free_port(),
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        **settings,
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    server.ws_url = f"ws://127.0.0.1:{config.port}/ws/chat/"
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


@pytest_asyncio.fixture
async def sansio_server():
    async with _serving() as server:
        yield server


@pytest_asyncio.fixture
async def pinging_server():
    """Pings every second; a ping unanswered for a second closes the connection."""
    async with _serving(ws_ping_interval=1, ws_ping_timeout=1) as server:
        yield server


def _open_protocol(server):
    [protocol] = [p for p in server.server_state.connections if getattr(p, "handshake_complete", False)]
    return protocol


async def test_an_open_connection_holds_none_of_its_servers_values_itself(sansio_server, ann):
    client = await Client.open(sansio_server, ann)
    protocol = _open_protocol(sansio_server)

    assert set(protocol.__dict__) & {*SERVER_ATTRIBUTES, *OPEN_CONNECTION_STATE} == set()
    assert protocol.config is sansio_server.config
    assert protocol.connections is sansio_server.server_state.connections
    assert (protocol.handshake_complete, protocol.close_sent, protocol.request) == (True, False, None)
    assert sys.getsizeof(protocol.__dict__) <= 600  # 1,584 bytes with all 37 attributes
    assert "server" not in protocol.__dict__ and protocol.server == ("127.0.0.1", sansio_server.config.port)
    await client.socket.close()


async def test_a_connection_opened_after_the_servers_date_changed_is_slimmed_too(sansio_server, ann, bob):
    first = await Client.open(sansio_server, ann)
    headers = sansio_server.server_state.default_headers
    async with asyncio.timeout(5):
        while sansio_server.server_state.default_headers is headers:  # renewed each second (its Date)
            await asyncio.sleep(0.05)
    second = await Client.open(sansio_server, bob)

    assert {type(protocol).__name__ for protocol in sansio_server.server_state.connections} == {"SharedSansIOProtocol"}
    await first.socket.close()
    await second.socket.close()


async def test_an_open_connections_scope_keeps_only_what_the_consumer_reads(sansio_server, ann):
    client = await Client.open(sansio_server, ann)
    protocol = _open_protocol(sansio_server)

    assert set(protocol.scope) == {"type", "client", "user"}
    assert set(protocol.scope) <= set(SCOPE_KEYS_KEPT)
    await client.socket.close()


async def test_an_idle_connections_parser_holds_no_frame_it_has_read(sansio_server, ann, group_room):
    client = await Client.open(sansio_server, ann)  # its authenticate frame carried a token
    await client.request("send_message", {"room": group_room.id, "body": "a body the parser read"})
    protocol = _open_protocol(sansio_server)

    assert protocol.conn.parser is None  # parked: started again when the next frame's data arrives
    await client.socket.close()


async def test_a_parked_parser_reads_a_frame_that_arrives_in_pieces(sansio_server, ann, group_room):
    client = await Client.open(sansio_server, ann)
    protocol = _open_protocol(sansio_server)
    data = b'{"type":"send_message","id":"p1","data":{"room":%d,"body":"in two pieces"}}' % group_room.id
    frame = bytes([0x81, 0x80 | len(data)]) + b"\x00\x00\x00\x00" + data  # a client's frame, masked with zeros

    protocol.data_received(frame[:9])
    assert protocol.conn.parser is not None  # half a frame: the parser holds its place
    protocol.data_received(frame[9:])
    [ack] = await client.collect("ack", 1)

    assert ack["id"] == "p1"
    await client.socket.close()


async def test_a_slimmed_connection_sends_acks_takes_events_and_closes(sansio_server, ann, bob, group_room):
    room = group_room
    sender = await Client.open(sansio_server, ann)
    reader = await Client.open(sansio_server, bob)

    ack = await sender.request("send_message", {"room": room.id, "body": "after the slimming"})
    [event] = await reader.collect("new_message", 1)

    assert ack["type"] == "ack"
    assert event["data"]["message"]["body"] == "after the slimming"
    await reader.socket.close()
    await sender.socket.close()
    async with asyncio.timeout(5):
        while sansio_server.server_state.connections:
            await asyncio.sleep(0.01)


async def test_a_consumers_own_ack_goes_out_as_a_ready_made_frame(sansio_server, ann):
    from realtime import uvicorn_sansio

    client = await Client.open(sansio_server, ann)
    ack = await client.request("ping", {})

    # The frame cache holds the last text written ready-made: the ack's, not passed through uvicorn's send.
    assert orjson.loads(uvicorn_sansio._last_text) == ack
    await client.socket.close()


async def test_an_open_connection_has_no_keepalive_timer_of_its_own(sansio_server, ann):
    client = await Client.open(sansio_server, ann)
    protocol = _open_protocol(sansio_server)
    wheel = protocol.keepalive_wheel

    assert (protocol.ping_timer, protocol.pong_timer) == (None, None)
    assert list(wheel.tick_of) == [protocol]
    await client.socket.close()
    async with asyncio.timeout(5):
        while sansio_server.server_state.connections:
            await asyncio.sleep(0.01)
    assert (wheel.tick_of, wheel.buckets, wheel.timer) == ({}, {}, None)  # a closed connection leaves it


async def test_the_servers_wheel_pings_an_idle_connection_again_and_again(pinging_server, ann):
    client = await Client.open(pinging_server, ann)  # websockets answers each ping with its pong
    protocol = _open_protocol(pinging_server)
    pings = []
    async with asyncio.timeout(10):
        while len(pings) < 3:
            if protocol.ping_sent_at and protocol.ping_sent_at not in pings:
                pings.append(protocol.ping_sent_at)
            await asyncio.sleep(0.05)

    assert 0.9 < pings[2] - pings[1] < 2.5  # the interval, to the wheel's tick
    assert protocol.ping_timer is None and protocol in protocol.keepalive_wheel.tick_of
    assert protocol.conn.parser is None  # the pongs it read left no parser behind
    await client.socket.close()


async def test_a_connection_that_answers_no_ping_is_closed_by_the_pong_timeout(pinging_server):
    reader, writer = await asyncio.open_connection("127.0.0.1", pinging_server.config.port)
    writer.write(
        b"GET /ws/chat/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    async with asyncio.timeout(10):  # under WS_AUTH_TIMEOUT: the keepalive closes it, not the sign-in wait
        await reader.readuntil(b"\r\n\r\n")
        received = await reader.read()  # to the server's close: it never reads a pong
    writer.close()

    opcodes = _server_frame_opcodes(received)
    assert opcodes[0] == 0x9 and opcodes[-1] == 0x8  # a ping, then the close
    assert received.endswith(b"\x03\xf3keepalive ping timeout")  # code 1011


def _server_frame_opcodes(data: bytes) -> list[int]:
    """The opcodes of the unmasked frames a server wrote (payloads under 126 bytes)."""
    opcodes, at = [], 0
    while at < len(data):
        opcodes.append(data[at] & 0x0F)
        at += 2 + (data[at + 1] & 0x7F)
    return opcodes


async def test_a_connection_opened_after_the_first_accept_awaits_no_proxy_headers_middleware(sansio_server, ann, bob):
    first = await Client.open(sansio_server, ann)  # its accept puts the rewrite before the application
    second = await Client.open(sansio_server, bob)

    chains = [_awaited_codes(task) for task in sansio_server.server_state.tasks]
    assert sorted(ProxyHeadersMiddleware.__call__.__code__ in chain for chain in chains) == [False, True]
    assert type(sansio_server.config.loaded_app) is ProxyHeadersBeforeTheApp
    await first.socket.close()
    await second.socket.close()


async def test_a_trusted_proxys_forwarded_client_address_still_reaches_the_scope(sansio_server, ann, bob):
    first = await Client.open(sansio_server, ann)
    socket = await connect(sansio_server.ws_url, additional_headers={"X-Forwarded-For": "203.0.113.9"})
    token = str(AccessToken.for_user(bob))
    await socket.send(orjson.dumps({"type": "authenticate", "data": {"token": token}}).decode())
    assert orjson.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "ready"

    clients = sorted(protocol.scope["client"][0] for protocol in sansio_server.server_state.connections)
    assert clients == ["127.0.0.1", "203.0.113.9"]  # the test's own peer, 127.0.0.1, is uvicorn's default trusted host
    await first.socket.close()
    await socket.close()


def _awaited_codes(task: asyncio.Task) -> list:
    """The code of every coroutine in ``task``'s await chain, outermost first."""
    codes, awaited = [], task.get_coro()
    while hasattr(awaited, "cr_code"):
        codes.append(awaited.cr_code)
        awaited = awaited.cr_await
    return codes


def test_a_protocol_whose_value_is_not_its_servers_is_left_whole():
    config = object()
    shared = {name: object() for name in SERVER_ATTRIBUTES} | {"config": config}
    first = _protocol_like({**shared, **OPEN_CONNECTION_STATE, "transport": "one"})
    odd = _protocol_like({**shared, **OPEN_CONNECTION_STATE, "loop": object(), "transport": "two"})

    assert share_server_attributes(first) is True
    assert share_server_attributes(odd) is False
    assert odd.__dict__["transport"] == "two" and "loop" in odd.__dict__


def test_a_protocol_in_another_state_than_open_is_left_whole():
    shared = {name: object() for name in SERVER_ATTRIBUTES}
    closing = _protocol_like({**shared, **OPEN_CONNECTION_STATE, "close_sent": True})

    assert share_server_attributes(closing) is False
    assert closing.__dict__["close_sent"] is True


class _Protocol:
    """Stands in for uvicorn's protocol: a plain class with an instance dict."""


def _protocol_like(attributes: dict) -> _Protocol:
    protocol = _Protocol()
    protocol.__dict__.update(attributes)
    return protocol


def test_the_server_make_run_starts_parses_http_in_c():
    """``make run`` leaves uvicorn's ``--http`` on auto, which takes httptools when it is installed
    (requirements.txt): each socket's upgrade request parsed in C, not by h11 in Python."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert AutoHTTPProtocol is HttpToolsProtocol


# --- Presence changes held a moment to share a write (realtime.consumer.HeldEvents) ------------------------


class CountingTransport:
    """A connection's real transport, keeping what each ``write`` carried (each is one system call)."""

    def __init__(self, transport) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name):
        return getattr(self._transport, name)


async def _open_counted(server, user) -> tuple[Client, CountingTransport]:
    """``user``'s socket, its writes counted from just after its ``ready``."""
    before = set(server.server_state.connections)
    client = await Client.open(server, user)
    [protocol] = [p for p in server.server_state.connections if p not in before]
    counting = protocol.transport = CountingTransport(protocol.transport)
    return client, counting


@pytest.fixture
def four_members(ann, bob, cat, make_user):
    """A room of Ann, Bob, Cat and Dan."""
    from chat import actions
    from chat.models import Room

    dan = make_user("dan")
    room = Room.objects.get(pk=actions.create_group_room(ann, name="Four", members=[bob.id, cat.id, dan.id])["id"])
    return room, dan


def _writes_of(counting: CountingTransport, word: bytes) -> list[bytes]:
    return [data for data in counting.writes if word in data]


async def test_presence_changes_within_the_hold_reach_a_socket_in_one_write(
    sansio_server, settings, four_members, bob, cat
):
    settings.WS_EVENT_HOLD_SECONDS = 1.0
    _, dan = four_members
    reader, counting = await _open_counted(sansio_server, bob)
    await Client.open(sansio_server, cat)
    await Client.open(sansio_server, dan)

    online = await reader.collect("user_online", 2)

    assert {event["data"]["user"]["id"] for event in online} == {cat.id, dan.id}
    assert len(_writes_of(counting, b"user_online")) == 1


async def test_with_no_hold_each_presence_change_is_written_at_once(sansio_server, settings, four_members, bob, cat):
    settings.WS_EVENT_HOLD_SECONDS = 0
    _, dan = four_members
    reader, counting = await _open_counted(sansio_server, bob)
    await Client.open(sansio_server, cat)
    await Client.open(sansio_server, dan)

    await reader.collect("user_online", 2)

    assert len(_writes_of(counting, b"user_online")) == 2


async def test_an_event_that_cannot_wait_takes_the_held_ones_with_it_in_order(
    sansio_server, settings, four_members, ann, bob
):
    settings.WS_EVENT_HOLD_SECONDS = 5  # longer than the test waits for anything below
    room, _ = four_members
    reader, counting = await _open_counted(sansio_server, bob)
    sender = await Client.open(sansio_server, ann)  # Ann's user_online is held at Bob's socket

    await sender.request("send_message", {"room": room.id, "body": "now"})
    first, second = [await asyncio.wait_for(reader.events.get(), 3) for _ in range(2)]

    assert (first["type"], first["data"]["user"]["id"]) == ("user_online", ann.id)
    assert (second["type"], second["data"]["message"]["body"]) == ("new_message", "now")
    assert len(_writes_of(counting, b"user_online")) == 1
    assert b"new_message" in _writes_of(counting, b"user_online")[0]


async def test_a_socket_holding_as_many_events_as_it_may_writes_them_at_once(
    sansio_server, settings, monkeypatch, four_members, bob, cat
):
    from realtime import consumer

    settings.WS_EVENT_HOLD_SECONDS = 5
    monkeypatch.setattr(consumer, "HELD_EVENTS_MAX", 2)
    _, dan = four_members
    reader, counting = await _open_counted(sansio_server, bob)
    await Client.open(sansio_server, cat)
    await Client.open(sansio_server, dan)

    online = await reader.collect("user_online", 2, timeout=3)

    assert len(online) == 2
    assert len(_writes_of(counting, b"user_online")) == 1


async def test_a_connects_ready_and_the_ack_of_its_authenticate_go_out_in_one_write(sansio_server, bob):
    before = set(sansio_server.server_state.connections)
    socket = await connect(sansio_server.ws_url)
    [protocol] = [p for p in sansio_server.server_state.connections if p not in before]
    counting = protocol.transport = CountingTransport(protocol.transport)
    token = str(AccessToken.for_user(bob))

    await socket.send(orjson.dumps({"type": "authenticate", "id": "a1", "data": {"token": token}}).decode())
    ready, ack = [orjson.loads(await asyncio.wait_for(socket.recv(), 10)) for _ in range(2)]
    await socket.close()

    assert (ready["type"], ack["type"], ack["id"], ack["data"]["user"]["id"]) == ("ready", "ack", "a1", bob.id)
    [write] = _writes_of(counting, b'"ready"')
    assert b'"ack"' in write
