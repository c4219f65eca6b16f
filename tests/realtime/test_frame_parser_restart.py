"""An open socket's parser lets go of what it has read (realtime.uvicorn_sansio.restart_frame_parser):
the handshake request, and each frame once the next is awaited.

Driven through websockets' own sans-I/O server protocol, as uvicorn drives it:
bytes in, events out.
"""

from __future__ import annotations

import gc
import weakref

from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

from realtime.uvicorn_sansio import restart_frame_parser

HANDSHAKE = (
    b"GET /ws/chat/ HTTP/1.1\r\nHost: confab.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Cookie: sessionid=" + b"x" * 400 + b"\r\n\r\n"
)


def _open_connection() -> tuple[ServerProtocol, weakref.ref]:
    conn = ServerProtocol()
    conn.receive_data(HANDSHAKE)
    [request] = conn.events_received()
    conn.send_response(conn.accept(request))
    conn.data_to_send()
    return conn, weakref.ref(request)


def _client_text(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])


def _held_then_freed_by_a_restart(conn: ServerProtocol, read: weakref.ref) -> bool:
    """Whether what ``read`` names is kept alive by the parser's suspended frame, and let go by a restart."""
    gc.collect()
    held = read() is not None
    restarted = restart_frame_parser(conn)
    gc.collect()
    return held and restarted and read() is None


def test_the_handshake_request_is_freed_once_the_parser_is_swapped():
    conn, request = _open_connection()

    assert _held_then_freed_by_a_restart(conn, request)


def test_frames_after_the_swap_are_read_as_before():
    conn, _ = _open_connection()
    restart_frame_parser(conn)

    second = _client_text("second")
    conn.receive_data(_client_text("first") + second[:3])
    conn.receive_data(second[3:])

    assert [frame.data for frame in conn.events_received()] == [b"first", b"second"]


def test_the_last_frame_read_is_freed_once_the_parser_restarts():
    conn, _ = _open_connection()
    restart_frame_parser(conn)
    conn.receive_data(_client_text("authenticate with a token"))
    [frame] = conn.events_received()
    last_frame = weakref.ref(frame)
    del frame

    assert _held_then_freed_by_a_restart(conn, last_frame)


def test_frames_after_each_restart_are_read_as_before():
    conn, _ = _open_connection()
    received = []
    for text in ("first", "second", "third"):
        assert restart_frame_parser(conn) is True
        conn.receive_data(_client_text(text))
        received += [frame.data for frame in conn.events_received()]

    assert received == [b"first", b"second", b"third"]


def test_a_half_read_frame_keeps_the_parser_it_is_in():
    conn, request = _open_connection()
    frame = _client_text("hello")
    conn.receive_data(frame[:4])

    assert restart_frame_parser(conn) is False
    conn.receive_data(frame[4:])

    assert [event.data for event in conn.events_received()] == [b"hello"]
    assert request() is not None


def test_a_connection_still_in_its_handshake_is_left_alone():
    conn = ServerProtocol()
    conn.receive_data(HANDSHAKE[:40])
    parser = conn.parser

    assert restart_frame_parser(conn) is False
    assert conn.parser is parser
