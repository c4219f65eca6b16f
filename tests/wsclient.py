"""A bare WebSocket client speaking the contract to a real server process."""

from __future__ import annotations

import asyncio

import orjson
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect


class Client:
    """A bare WebSocket client speaking the contract to a real server.

    One reader task per socket: acks resolve the request that carries their
    id, everything else is queued as an event.
    """

    def __init__(self, socket, ready):
        self.socket = socket
        self.ready = ready
        self.counter = 0
        self.pending: dict[str, asyncio.Future] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, server, user):
        socket = await connect(server.ws_url, max_size=2**22)
        token = str(AccessToken.for_user(user))
        await socket.send(orjson.dumps({"type": "authenticate", "data": {"token": token}}).decode())
        ready = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ready["type"] == "ready", ready
        return cls(socket, ready)

    async def _read(self):
        async for raw in self.socket:
            frame = orjson.loads(raw)
            future = self.pending.pop(frame.get("id"), None) if frame.get("id") else None
            if future is not None:
                future.set_result(frame)
            else:
                await self.events.put(frame)

    async def request(self, event_type, data):
        self.counter += 1
        request_id = f"r{self.counter}"
        self.pending[request_id] = asyncio.get_running_loop().create_future()
        await self.socket.send(orjson.dumps({"type": event_type, "id": request_id, "data": data}).decode())
        return await asyncio.wait_for(self.pending[request_id], 20)

    async def collect(self, event_type, count, timeout=20):
        frames = []
        async with asyncio.timeout(timeout):
            while len(frames) < count:
                frame = await self.events.get()
                if frame["type"] == event_type:
                    frames.append(frame)
        return frames

    async def close(self):
        await self.socket.close()
        self.reader.cancel()
