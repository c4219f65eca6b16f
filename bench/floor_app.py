"""The least an authenticated connect costs on Confab's server stack: the floor under Confab's own work.

``python -m bench connections --app bench.floor_app:application`` serves this
instead of Confab, with the same server, options, cores and generator. Per
connect it accepts the upgrade, reads the client's ``authenticate`` frame and
answers one ``ready`` frame, made once, naming every seeded room (the generator
checks its room is there); then it keeps the socket open. No token check, no
database, no Redis, no presence, no other socket told: what it costs per connect
is uvicorn's HTTP parse and WebSocket handshake, one frame each way and the
socket's close, which Confab cannot spend less than. Its server CPU per
connect, measured in the same sitting as Confab's, shows how much of a connect
is Confab's own work (``docs/benchmarks.md``, "A connect's floor").

``bench.floor_app:announcing_application`` does the same and, like Confab's
``user_online``, tells the sockets already open in the new socket's room: one
frame of the size of Confab's, made once and written to each of them the way
Confab writes a delivered event (``realtime.uvicorn_sansio.write_text_frame``).
Sockets take the seeded rooms in turn, so with rooms of 100 a connect tells 49.5
sockets on average, as Confab's connects do in the same run. Still no token
check, database, Redis or presence store: it is the least a connect costs on
this stack for a server that announces a user coming online to a room.

Only the room ids are read, once, at the first connect (in a thread: the
database is not touched on the event loop).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson

_ready_frame: str | None = None
_room_count = 0
_reading: asyncio.Lock | None = None
# A frame shaped and sized like Confab's ``user_online`` (a presence object with its user).
_ONLINE_FRAME = orjson.dumps(
    {
        "type": "user_online",
        "data": {
            "user": {
                "id": 123456,
                "username": "floor-user-0001",
                "display_name": "Floor User 0001",
                "avatar_url": None,
                "avatar_small_url": None,
                "is_bot": False,
            },
            "online": True,
            "status": "online",
            "status_text": "",
            "status_expires_at": None,
            "last_seen": "2026-12-03T12:00:00.000000Z",
        },
    }
).decode()


def _seeded_room_ids() -> list[int]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from chat.models import Room

    return list(Room.objects.order_by("id").values_list("id", flat=True))


async def _ready() -> str:
    global _ready_frame, _reading, _room_count
    if _ready_frame is None:
        _reading = _reading or asyncio.Lock()
        async with _reading:
            if _ready_frame is None:
                rooms = [{"id": room_id} for room_id in await asyncio.to_thread(_seeded_room_ids)]
                _room_count = max(1, len(rooms))
                _ready_frame = orjson.dumps({"type": "ready", "data": {"rooms": rooms}}).decode()
    return _ready_frame


async def _serve_other(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def application(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] != "websocket":
        await _serve_other(scope, receive, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    answered = False
    while (await receive())["type"] != "websocket.disconnect":
        if not answered:
            answered = True
            await send({"type": "websocket.send", "text": await _ready()})


_open_by_room: dict[int, list[Any]] = {}
_connects = 0


async def _tell(recipients: list[Any]) -> None:
    from realtime.uvicorn_sansio import write_text_frame

    for send in recipients:
        protocol = getattr(send, "__self__", None)
        sansio = type(protocol).__module__ == "uvicorn.protocols.websockets.websockets_sansio_impl"
        if not (sansio and write_text_frame(protocol, _ONLINE_FRAME)):  # as Confab: the server's send otherwise
            await send({"type": "websocket.send", "text": _ONLINE_FRAME})


async def announcing_application(scope: dict[str, Any], receive, send) -> None:
    global _connects
    if scope["type"] != "websocket":
        await _serve_other(scope, receive, send)
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    room: list[Any] | None = None
    try:
        while (await receive())["type"] != "websocket.disconnect":
            if room is None:
                ready = await _ready()
                room = _open_by_room.setdefault(_connects % _room_count, [])
                _connects += 1
                await send({"type": "websocket.send", "text": ready})
                await _tell(list(room))
                room.append(send)
    finally:
        if room is not None:
            room.remove(send)
