"""Redis killed and started again under a server: no false errors, and every member gets every message.

The database is the truth: a message committed while Redis is away is acked
(never ``server_error``), and members learn what they missed once Redis is
back, even in a room that has gone quiet (``ping`` acks carry each room's
``last_seq``; a process that restores its subscriptions sends ``resync``).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from core.publishing import resync_envelope
from tests.wsclient import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]


async def send(client: Client, room_id: int, body: str) -> dict:
    return await client.request("send_message", {"room": room_id, "body": body, "client_id": str(uuid.uuid4())})


async def catch_up(client: Client, room_id: int, have: int) -> list[int]:
    """What a client does on a ``ping`` ack that shows it behind: ``sync`` from where it is."""
    seqs: list[int] = []
    while True:
        answer = await client.request("sync", {"rooms": {str(room_id): have}})
        got = [message["seq"] for message in answer["data"]["messages"][str(room_id)]]
        seqs += got
        have = got[-1] if got else have
        if not answer["data"]["has_more"][str(room_id)]:
            return seqs


async def test_messages_sent_while_redis_is_down_are_acked_and_reach_a_quiet_room_after(
    start_server, private_redis, ann, bob, group_room, fault_report
):
    server = start_server(server="uvicorn-sansio", extra_env={"REDIS_URL": private_redis.url})
    sender, member = await Client.open(server, ann), await Client.open(server, bob)
    before = [await send(sender, group_room.id, f"before {n}") for n in range(3)]
    assert [frame["type"] for frame in before] == ["ack"] * 3
    live = [frame["data"]["message"]["seq"] for frame in await member.collect("new_message", 3)]

    private_redis.kill()
    during = [await send(sender, group_room.id, f"during {n}") for n in range(10)]
    assert [frame["type"] for frame in during] == ["ack"] * 10, during
    private_redis.start()
    restarted = time.monotonic()

    # The process restores its subscriptions and tells its sockets they may have missed events.
    [resync] = await member.collect("resync", 1, timeout=15)
    resync_after = time.monotonic() - restarted
    assert resync["data"] == {"reason": "subscriptions_restored"}
    # The room is quiet now: nothing more is sent. The member's next ping shows the room ahead of it.
    ping = await member.request("ping", {})
    assert ping["data"]["rooms"] == {str(group_room.id): 13}
    caught_up = await catch_up(member, group_room.id, max(live))
    assert sorted(set(live + caught_up)) == list(range(1, 14))
    fault_report(
        fault="Redis killed and restarted under a server, then the room goes quiet",
        acked=len(before) + len(during),
        server_errors=0,
        delivered=len(set(live + caught_up)),
        lost=13 - len(set(live + caught_up)),
        duplicated=len(live + caught_up) - len(set(live + caught_up)),
        recovery_seconds=round(resync_after, 2),
    )
    log = server.log()
    assert "server_error" not in log
    assert log.count("Traceback") == 0, log[-3000:]
    await sender.close()
    await member.close()


async def test_sends_after_redis_returns_are_delivered_live_again(start_server, private_redis, ann, bob, group_room):
    server = start_server(server="uvicorn-sansio", extra_env={"REDIS_URL": private_redis.url})
    sender, member = await Client.open(server, ann), await Client.open(server, bob)
    private_redis.kill()
    await send(sender, group_room.id, "while down")
    private_redis.start()

    # The layer reconnects and resubscribes on its own: within seconds a new message arrives live.
    delivered: set[int] = set()
    acked: list[int] = []
    async with asyncio.timeout(20):
        while not delivered & set(acked):
            acked.append((await send(sender, group_room.id, "after"))["data"]["message"]["seq"])
            try:
                frames = await member.collect("new_message", 1, timeout=1)
            except TimeoutError:
                continue
            delivered.update(frame["data"]["message"]["seq"] for frame in frames)
    await sender.close()
    await member.close()


async def test_the_layer_tells_its_sockets_to_resync_when_its_subscriptions_come_back(private_redis):
    from realtime.layers import RedisFanOutChannelLayer

    layer = RedisFanOutChannelLayer(hosts=[private_redis.url], prefix=f"outage{uuid.uuid4().hex[:6]}")
    received: list[dict] = []
    channel = await layer.new_channel()
    layer.attach(channel, received.append)
    await layer.group_add("room.1", channel)
    private_redis.kill()
    await asyncio.sleep(0.5)
    private_redis.start()

    async with asyncio.timeout(15):
        while not received:
            await asyncio.sleep(0.05)
    assert received == [resync_envelope("subscriptions_restored")]
    await layer.group_send("room.1", {"type": "chat.frame", "frame": "after", "exclude_user": None})
    async with asyncio.timeout(5):
        while len(received) < 2:
            await asyncio.sleep(0.05)
    assert received[1]["frame"] == "after"
    await layer.flush()


async def test_who_is_online_comes_back_with_redis_not_a_heartbeat_later(
    start_server, private_redis, ann, bob, cat, group_room
):
    from chat import actions

    await asyncio.to_thread(actions.add_member, ann, group_room.id, cat.id)
    server = start_server(server="uvicorn-sansio", extra_env={"REDIS_URL": private_redis.url})
    sender, member = await Client.open(server, ann), await Client.open(server, bob)
    private_redis.kill()
    private_redis.start()  # empty: the registry of who is online is gone
    await member.collect("resync", 1, timeout=15)

    # Well within the 20 s heartbeat: a newcomer's `ready` lists them online again.
    async with asyncio.timeout(5):
        while True:
            newcomer = await Client.open(server, cat)
            online = {entry["user"]["id"] for entry in newcomer.ready["data"]["presence"] if entry["online"]}
            await newcomer.close()
            if {ann.id, bob.id} <= online:
                break
            await asyncio.sleep(0.2)
    await sender.close()
    await member.close()
