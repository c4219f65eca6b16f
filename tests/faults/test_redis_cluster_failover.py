"""A Redis Cluster master killed under a server while a room is busy: every send is acked, and a member
that syncs when told to ``resync`` has every message (realtime/cluster.py, docs/deploy.md)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.publishing import room_group
from tests.wsclient import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]

FAILOVER_SECONDS = 30  # a dead master's replica takes over after a few node timeouts (1 s in tests/redis_cluster.py)


async def send(client: Client, room_id: int, n: int) -> dict:
    return await client.request("send_message", {"room": room_id, "body": f"m{n}", "client_id": str(uuid.uuid4())})


async def catch_up(client: Client, room_id: int, have: int) -> list[int]:
    """What a client does on ``resync``: ``sync`` from where it is, page after page."""
    seqs: list[int] = []
    while True:
        answer = await client.request("sync", {"rooms": {str(room_id): have}})
        got = [message["seq"] for message in answer["data"]["messages"][str(room_id)]]
        seqs += got
        have = got[-1] if got else have
        if not answer["data"]["has_more"][str(room_id)]:
            return seqs


def contiguous(seqs: set[int]) -> int:
    """The last seq a client holds with none missing before it: where its ``sync`` starts."""
    have = 0
    while have + 1 in seqs:
        have += 1
    return have


async def test_a_member_that_syncs_after_a_masters_failover_has_every_message(
    start_server, cluster_redis_url, redis_cluster, ann, bob, group_room, settings
):
    settings.RATE_LIMIT_MESSAGES = 0  # the server's own setting (start_server passes it): send as fast as acked
    server = start_server(server="uvicorn-sansio")
    sender, member = await Client.open(server, ann), await Client.open(server, bob)
    group_channel = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{room_group(group_room.id)}"
    acks: list[dict] = []
    sending = True

    async def keep_sending() -> None:
        n = 0
        while sending:
            acks.append(await send(sender, group_room.id, n))
            n += 1

    sender_task = asyncio.ensure_future(keep_sending())
    try:
        async with asyncio.timeout(FAILOVER_SECONDS):
            while len(acks) < 10:
                await asyncio.sleep(0.01)
        await asyncio.to_thread(redis_cluster.fail_over_master, group_channel)
        seen: set[int] = set()
        async with asyncio.timeout(FAILOVER_SECONDS):
            while True:  # live messages until the process says it may have missed some
                frame = await member.events.get()
                if frame["type"] == "new_message":
                    seen.add(frame["data"]["message"]["seq"])
                elif frame["type"] == "resync":
                    assert frame["data"] == {"reason": "subscriptions_restored"}
                    break
        seen.update(await catch_up(member, group_room.id, contiguous(seen)))
        sent_before_stop = len(acks)
        async with asyncio.timeout(FAILOVER_SECONDS):
            while len(acks) < sent_before_stop + 10:  # and the room is live again
                await asyncio.sleep(0.01)
        sending = False
        await sender_task
        assert [frame["type"] for frame in acks] == ["ack"] * len(acks), [f for f in acks if f["type"] != "ack"]
        last = acks[-1]["data"]["message"]["seq"]
        async with asyncio.timeout(FAILOVER_SECONDS):
            while last not in seen:  # as a client does: live messages, and a sync on every resync
                frame = await member.events.get()
                if frame["type"] == "new_message":
                    seen.add(frame["data"]["message"]["seq"])
                elif frame["type"] == "resync":
                    seen.update(await catch_up(member, group_room.id, contiguous(seen)))
        while not member.events.empty():  # a resync already on its way is one the client acts on too
            if member.events.get_nowait()["type"] == "resync":
                seen.update(await catch_up(member, group_room.id, contiguous(seen)))
    finally:
        sending = False
        redis_cluster.restore()

    assert sorted(seen) == sorted(frame["data"]["message"]["seq"] for frame in acks)
    await sender.close()
    await member.close()
