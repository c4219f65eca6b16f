"""Several real server processes behind one Redis and one database behave as one server."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from chat import actions
from chat.models import Message
from tests.wsclient import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.servers]


async def test_a_message_sent_to_one_process_reaches_a_client_of_the_other(
    start_server, any_redis, ann, bob, group_room
):
    first, second = start_server(), start_server()
    ann_client = await Client.open(first, ann)
    bob_client = await Client.open(second, bob)
    ack = await ann_client.request(
        "send_message", {"room": group_room.id, "body": "across", "client_id": str(uuid.uuid4())}
    )
    assert ack["type"] == "ack"
    [event] = await bob_client.collect("new_message", 1)
    assert event["data"]["message"] == ack["data"]["message"]
    await ann_client.close()
    await bob_client.close()


async def test_parallel_sends_through_two_processes_get_gap_free_seqs(
    start_server, any_redis, settings, make_user, ann, group_room
):
    settings.RATE_LIMIT_MESSAGES = 0
    senders = [ann] + [await database_sync_to_async(make_user)() for _ in range(5)]
    for user in senders[1:]:
        await database_sync_to_async(actions.add_member)(ann, group_room.id, user.id)
    servers = [start_server(), start_server()]
    clients = [await Client.open(servers[n % 2], user) for n, user in enumerate(senders)]
    per_sender = 15
    total = per_sender * len(senders)

    async def burst(client):
        # Requests in flight together, not one after another.
        return await asyncio.gather(
            *(
                client.request("send_message", {"room": group_room.id, "body": f"m{n}", "client_id": str(uuid.uuid4())})
                for n in range(per_sender)
            )
        )

    watcher = await Client.open(servers[0], senders[1])
    watching = asyncio.ensure_future(watcher.collect("new_message", total))
    acks = [frame for frames in await asyncio.gather(*(burst(c) for c in clients)) for frame in frames]
    assert all(frame["type"] == "ack" for frame in acks), [f for f in acks if f["type"] != "ack"][:3]
    # Seqs 1-5 are the "Ann added ..." lines, written before the servers started.
    lines = len(senders) - 1
    sent_seqs = list(range(lines + 1, lines + total + 1))
    assert sorted(frame["data"]["message"]["seq"] for frame in acks) == sent_seqs
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(room=group_room).order_by("seq").values_list("seq", flat=True))
    )()
    assert stored == list(range(1, lines + total + 1))
    received = await watching
    assert sorted(frame["data"]["message"]["seq"] for frame in received) == sent_seqs
    for client in [*clients, watcher]:
        await client.close()


@pytest.mark.parametrize(
    "server,redis_kind",
    [("uvicorn-sansio", "redis"), ("uvicorn", "redis"), ("daphne", "redis"), ("uvicorn-sansio", "cluster")],
)
async def test_every_client_of_two_processes_gets_every_message_once_in_order(
    server, redis_kind, request, start_server, settings, make_user, ann, group_room
):
    """Direct delivery (realtime.layers, realtime.cluster) and the slimmed sansio connection (realtime.socket)
    on real servers."""
    request.getfixturevalue("redis_url" if redis_kind == "redis" else "cluster_redis_url")
    settings.RATE_LIMIT_MESSAGES = 0
    members = [ann] + [await database_sync_to_async(make_user)() for _ in range(5)]
    for user in members[1:]:
        await database_sync_to_async(actions.add_member)(ann, group_room.id, user.id)
    servers = [start_server(server=server), start_server(server=server)]
    clients = [await Client.open(servers[n % 2], user) for n, user in enumerate(members)]
    per_sender = 10
    total = per_sender * 2
    watching = [asyncio.ensure_future(client.collect("new_message", total)) for client in clients]

    async def burst(client):
        return await asyncio.gather(
            *(
                client.request("send_message", {"room": group_room.id, "body": f"m{n}", "client_id": str(uuid.uuid4())})
                for n in range(per_sender)
            )
        )

    # One sender on each process: their publishes may reach Redis out of seq order, and each process
    # puts them back in order before its sockets (realtime.layers.GroupSequencer).
    acks = [frame for frames in await asyncio.gather(burst(clients[0]), burst(clients[1])) for frame in frames]
    assert all(frame["type"] == "ack" for frame in acks)
    lines = len(members) - 1  # the "Ann added ..." lines, seqs 1-5
    for received in await asyncio.gather(*watching):
        assert [frame["data"]["message"]["seq"] for frame in received] == list(range(lines + 1, lines + total + 1))
    # Typing reaches the others once, not the typist.
    await clients[2].request("typing_start", {"room": group_room.id})
    for client in clients[3:]:
        [typing] = await client.collect("user_typing", 1)
        assert typing["data"]["user"]["id"] == members[2].id
    for client in clients:
        await client.close()
