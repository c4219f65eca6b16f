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

Only the room ids are read, once, at the first connect (in a thread: the
database is not touched on the event loop).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson

_ready_frame: str | None = None
_reading: asyncio.Lock | None = None


def _seeded_room_ids() -> list[int]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from chat.models import Room

    return list(Room.objects.order_by("id").values_list("id", flat=True))


async def _ready() -> str:
    global _ready_frame, _reading
    if _ready_frame is None:
        _reading = _reading or asyncio.Lock()
        async with _reading:
            if _ready_frame is None:
                rooms = [{"id": room_id} for room_id in await asyncio.to_thread(_seeded_room_ids)]
                _ready_frame = orjson.dumps({"type": "ready", "data": {"rooms": rooms}}).decode()
    return _ready_frame


async def application(scope: dict[str, Any], receive, send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    answered = False
    while (await receive())["type"] != "websocket.disconnect":
        if not answered:
            answered = True
            await send({"type": "websocket.send", "text": await _ready()})
