"""The announcing floor app tells a room's open sockets of each new one, as Confab's ``user_online`` does.

Driven through its ASGI interface with in-memory sockets: the rule under test is which
sockets get the frame, not the server's writes (``test_bench_smoke`` runs it under uvicorn).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from bench import floor_app


class Socket:
    """One client socket: frames in through ``receive``, frames out collected."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.incoming.put_nowait({"type": "websocket.connect"})

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def frame_types(self) -> list[str]:
        return [json.loads(m["text"])["type"] for m in self.sent if m["type"] == "websocket.send"]


@pytest.fixture
def two_rooms(monkeypatch):
    monkeypatch.setattr(floor_app, "_ready_frame", '{"type":"ready","data":{"rooms":[]}}')
    monkeypatch.setattr(floor_app, "_room_count", 2)
    monkeypatch.setattr(floor_app, "_open_by_room", {})
    monkeypatch.setattr(floor_app, "_connects", 0)


async def open_socket(tasks: list[asyncio.Task], app=floor_app.announcing_application) -> Socket:
    socket = Socket()
    tasks.append(asyncio.ensure_future(app({"type": "websocket"}, socket.receive, socket.send)))
    socket.incoming.put_nowait({"type": "websocket.receive", "text": '{"type":"authenticate"}'})
    for _ in range(5):
        await asyncio.sleep(0)
    return socket


async def test_each_connect_tells_the_open_sockets_of_its_room_and_no_other(two_rooms):
    tasks: list[asyncio.Task] = []
    first_a, first_b, second_a, second_b, third_a = [await open_socket(tasks) for _ in range(5)]

    assert first_a.frame_types() == ["ready", "user_online", "user_online"]
    assert second_a.frame_types() == ["ready", "user_online"]
    assert third_a.frame_types() == ["ready"]
    assert first_b.frame_types() == ["ready", "user_online"]
    assert second_b.frame_types() == ["ready"]
    for task in tasks:
        task.cancel()


async def test_a_closed_socket_is_told_nothing_more(two_rooms):
    tasks: list[asyncio.Task] = []
    first_a, _first_b = await open_socket(tasks), await open_socket(tasks)
    first_a.incoming.put_nowait({"type": "websocket.disconnect"})
    await asyncio.wait_for(tasks[0], 1)
    third = await open_socket(tasks)  # the first socket's room again

    assert first_a.frame_types() == ["ready"]
    assert floor_app._open_by_room[0] == [third.send]
    for task in tasks[1:]:
        task.cancel()


async def test_the_plain_floor_app_answers_the_first_frame_with_ready_and_tells_no_one(two_rooms):
    tasks: list[asyncio.Task] = []
    first, second = [await open_socket(tasks, floor_app.application) for _ in range(2)]
    first.incoming.put_nowait({"type": "websocket.receive", "text": '{"type":"ping"}'})
    for _ in range(5):
        await asyncio.sleep(0)

    assert first.sent[0] == {"type": "websocket.accept"}
    assert first.frame_types() == ["ready"]
    assert second.frame_types() == ["ready"]
    for task in tasks:
        task.cancel()
