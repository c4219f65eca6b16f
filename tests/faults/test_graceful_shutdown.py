"""SIGTERM under load: every request with an id is answered once, then sockets close with 1012."""

from __future__ import annotations

import asyncio
import signal
import uuid

import orjson
import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chat.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]

CLIENTS = 6
IN_FLIGHT = 4  # requests each client keeps open


class LoadClient:
    """Sends ``send_message`` requests, IN_FLIGHT at a time, until the server refuses (then stops, as clients do)."""

    def __init__(self, socket, room_id: int) -> None:
        self.socket = socket
        self.room_id = room_id
        self.sent: list[str] = []
        self.answers: dict[str, list[dict]] = {}
        self.refused = asyncio.Event()
        self.close_code: int | None = None

    @classmethod
    async def open(cls, server, user, room_id: int) -> LoadClient:
        socket = await connect(server.ws_url, max_size=2**22)
        await socket.send(
            orjson.dumps({"type": "authenticate", "data": {"token": str(AccessToken.for_user(user))}}).decode()
        )
        assert orjson.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "ready"
        return cls(socket, room_id)

    async def run(self) -> None:
        slots = asyncio.Semaphore(IN_FLIGHT)
        reader = asyncio.ensure_future(self._read(slots))
        try:
            while not self.refused.is_set():
                await slots.acquire()
                if self.refused.is_set():
                    break
                request_id = f"s{len(self.sent)}"
                self.sent.append(request_id)
                body = {"room": self.room_id, "body": request_id, "client_id": str(uuid.uuid4())}
                await self.socket.send(orjson.dumps({"type": "send_message", "id": request_id, "data": body}).decode())
        except ConnectionClosed:
            pass
        await reader

    async def _read(self, slots: asyncio.Semaphore) -> None:
        try:
            async for raw in self.socket:
                frame = orjson.loads(raw)
                if frame["type"] in ("ack", "error") and frame.get("id"):
                    self.answers.setdefault(frame["id"], []).append(frame)
                    if frame["type"] == "error" and frame["data"]["code"] == "unavailable":
                        self.refused.set()
                    slots.release()
        except ConnectionClosed:
            pass
        self.close_code = self.socket.close_code
        self.refused.set()
        slots.release()


async def test_sigterm_answers_every_request_then_closes_with_1012(
    start_server, redis_url, ann, bob, group_room, fault_report
):
    server = start_server(server="uvicorn-sansio", extra_env={"RATE_LIMIT_MESSAGES": "0"})
    clients = [await LoadClient.open(server, user, group_room.id) for user in [ann, bob] * (CLIENTS // 2)]
    runs = [asyncio.ensure_future(client.run()) for client in clients]
    await asyncio.sleep(1.5)  # under load

    server.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        await asyncio.gather(*runs)
    assert await asyncio.to_thread(server.process.wait, 30) is not None

    for client in clients:
        assert client.close_code == 1012
        assert {request_id: len(client.answers.get(request_id, [])) for request_id in client.sent} == {
            request_id: 1 for request_id in client.sent
        }
        codes = {frame["data"]["code"] for [frame] in client.answers.values() if frame["type"] == "error"}
        assert codes == {"unavailable"}
    acked = {
        frame["data"]["message"]["client_id"]
        for client in clients
        for [frame] in client.answers.values()
        if frame["type"] == "ack"
    }
    stored = set(await sync_to_async(list)(Message.objects.values_list("client_id", flat=True)))
    assert acked and {uuid.UUID(client_id) for client_id in acked} <= stored
    assert "SIGTERM: draining" in server.log()
    sent = sum(len(client.sent) for client in clients)
    fault_report(
        fault="SIGTERM under load",
        requests=sent,
        acked=len(acked),
        refused_unavailable=sent - len(acked),
        unanswered=0,
        answered_twice=0,
        acked_and_stored=len(acked),
    )
