"""The cluster channel layer (realtime/cluster.py) through a master's failover and a slot move.

A process's sharded subscriptions die with the master that held them. The
layer must find the slot's new master, subscribe again, and tell its local
sockets to ``resync``: a client that then syncs has everything, because what
was published while nobody listened is exactly what a sync reads back.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest
import pytest_asyncio
import redis

from core.publishing import resync_envelope
from realtime import cluster as cluster_layer
from realtime.cluster import RedisClusterFanOutChannelLayer

RESYNC_TIMEOUT = 30  # seconds: a failover takes a few node timeouts (1 s each in tests/redis_cluster.py)
ARRIVAL_TIMEOUT = 5
PUBLISH_RETRY_SECONDS = 30  # as PUBLISH_RETRY_SECONDS: how long a publisher keeps retrying one event


class Publisher(threading.Thread):
    """Another server process: publishes numbered events to a group as fast as it can, retrying each
    until Redis takes it (as realtime.publisher does), and records which Redis acknowledged, with when
    their first publish began: the moment the event was committed, from when a ``sync`` reads it back."""

    def __init__(self, url: str, prefix: str, group: str) -> None:
        super().__init__(daemon=True)
        self.url, self.prefix, self.group = url, prefix, group
        self.acked: list[tuple[int, float]] = []  # (n, when its publishing began), once Redis acknowledged it
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._publish())
        except BaseException as error:  # noqa: BLE001 -- reported by the test
            self.error = error

    async def _publish(self) -> None:
        layer = RedisClusterFanOutChannelLayer(hosts=[self.url], prefix=self.prefix)
        n = 0
        try:
            while not self.stop.is_set():
                committed = time.monotonic()
                deadline = committed + PUBLISH_RETRY_SECONDS
                while True:
                    try:
                        await asyncio.wait_for(layer.group_send(self.group, {"type": "test.event", "n": n}), 2)
                        break
                    except (redis.RedisError, OSError, TimeoutError):
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.05)
                self.acked.append((n, committed))
                n += 1
                await asyncio.sleep(0.002)
        finally:
            await layer.flush()


class Socket:
    """What a consumer's callback is handed, with when."""

    def __init__(self) -> None:
        self.frames: list[tuple[dict[str, Any], float]] = []
        self.resynced = asyncio.Event()

    def __call__(self, message: dict[str, Any]) -> None:
        self.frames.append((message, time.monotonic()))
        if message == resync_envelope("subscriptions_restored"):
            self.resynced.set()

    def numbers(self) -> list[int]:
        return [message["n"] for message, _ in self.frames if "n" in message]

    def resync_time(self) -> float:
        """When the first ``resync`` came."""
        return next(at for message, at in self.frames if "n" not in message)

    def last_resync_time(self) -> float:
        """When the last ``resync`` came: a client syncs on each, and its last sync reads back everything
        committed before it (a repair that lands on a slot's old owner during a move makes two)."""
        return [at for message, at in self.frames if "n" not in message][-1]


@pytest.fixture
def cluster(redis_cluster):
    yield redis_cluster
    redis_cluster.restore()


@pytest_asyncio.fixture
async def listening(cluster):
    """A process with one attached socket in group ``room.1``, and a publisher in another process."""
    prefix = f"failover{uuid.uuid4().hex[:8]}"
    layer = RedisClusterFanOutChannelLayer(hosts=[cluster.url], prefix=prefix)
    socket = Socket()
    channel = await layer.new_channel()
    layer.attach(channel, socket)
    await layer.group_add("room.1", channel)
    publisher = Publisher(cluster.url, prefix, "room.1")
    yield cluster, socket, publisher, f"{prefix}__group__room.1"
    publisher.stop.set()
    publisher.join(timeout=PUBLISH_RETRY_SECONDS + 5)
    await layer.flush()


async def wait_for_acks_after(publisher: Publisher, since: float, count: int) -> None:
    """Until ``count`` events committed after ``since`` were acknowledged."""
    async with asyncio.timeout(RESYNC_TIMEOUT):
        while after_resync_count(publisher, since) < count:
            assert publisher.error is None, publisher.error
            await asyncio.sleep(0.01)


async def wait_for_acks(publisher: Publisher, count: int) -> None:
    async with asyncio.timeout(RESYNC_TIMEOUT):
        while len(publisher.acked) < count:
            assert publisher.error is None, publisher.error
            await asyncio.sleep(0.01)


async def test_after_its_master_fails_over_a_process_resubscribes_and_a_syncing_client_loses_nothing(listening):
    cluster, socket, publisher, group_channel = listening
    publisher.start()
    await wait_for_acks(publisher, 50)

    await asyncio.to_thread(cluster.fail_over_master, group_channel)
    await asyncio.wait_for(socket.resynced.wait(), RESYNC_TIMEOUT)
    resync_at = socket.resync_time()
    await wait_for_acks_after(publisher, resync_at, 50)
    publisher.stop.set()
    await asyncio.to_thread(publisher.join, PUBLISH_RETRY_SECONDS + 5)
    last = publisher.acked[-1][0]
    async with asyncio.timeout(ARRIVAL_TIMEOUT):
        while last not in socket.numbers():
            await asyncio.sleep(0.01)

    assert publisher.error is None
    resync_at = socket.last_resync_time()
    acked = [n for n, _ in publisher.acked]
    # A client syncs on each resync: its last sync reads back every event committed before it.
    synced = {n for n, at in publisher.acked if at <= resync_at}
    after_resync = [n for n, at in publisher.acked if at > resync_at]
    received = socket.numbers()
    assert sorted(set(received) | synced) == acked  # nothing lost for a client that syncs
    assert [n for n in received if n in set(after_resync)] == after_resync  # all, in order, once resubscribed
    assert len(received) == len(set(received))  # nothing twice


async def test_after_its_slot_moves_to_another_master_a_process_resubscribes_there_and_resyncs(listening):
    cluster, socket, publisher, group_channel = listening
    publisher.start()
    await wait_for_acks(publisher, 50)

    new_master = await asyncio.to_thread(cluster.move_slot, group_channel)
    await asyncio.wait_for(socket.resynced.wait(), RESYNC_TIMEOUT)
    resync_at = socket.resync_time()
    await wait_for_acks_after(publisher, resync_at, 50)
    publisher.stop.set()
    await asyncio.to_thread(publisher.join, PUBLISH_RETRY_SECONDS + 5)
    last = publisher.acked[-1][0]
    async with asyncio.timeout(ARRIVAL_TIMEOUT):
        while last not in socket.numbers():
            await asyncio.sleep(0.01)

    assert publisher.error is None
    assert cluster.master_of(group_channel) == new_master
    resync_at = socket.last_resync_time()
    after_resync = [n for n, at in publisher.acked if at > resync_at]
    assert [n for n in socket.numbers() if n in set(after_resync)] == after_resync
    assert sorted(set(socket.numbers()) | {n for n, at in publisher.acked if at <= resync_at}) == [
        n for n, _ in publisher.acked
    ]


async def test_a_master_that_hangs_is_given_up_after_unanswered_pings_and_its_replica_takes_the_subscriptions(
    listening, monkeypatch
):
    """A frozen master keeps its TCP connections open: only the layer's pings notice it is gone."""
    monkeypatch.setattr(cluster_layer, "PING_INTERVAL", 0.5)
    cluster, socket, publisher, group_channel = listening
    publisher.start()
    await wait_for_acks(publisher, 20)

    await asyncio.to_thread(cluster.hang_master, group_channel)
    await asyncio.wait_for(socket.resynced.wait(), RESYNC_TIMEOUT)
    resync_at = socket.resync_time()
    await wait_for_acks_after(publisher, resync_at, 20)
    publisher.stop.set()
    await asyncio.to_thread(publisher.join, PUBLISH_RETRY_SECONDS + 5)
    last = publisher.acked[-1][0]
    async with asyncio.timeout(ARRIVAL_TIMEOUT):
        while last not in socket.numbers():
            await asyncio.sleep(0.01)

    resync_at = socket.last_resync_time()
    after_resync = [n for n, at in publisher.acked if at > resync_at]
    assert [n for n in socket.numbers() if n in set(after_resync)] == after_resync


async def test_a_channel_dropped_again_while_the_repair_confirms_the_rest_is_subscribed_once_more(
    redis_cluster, monkeypatch
):
    """A resharding assigns the slot on each node in turn: the new owner drops the channel the repair has
    just subscribed there, while the repair still waits for the process's other channels."""
    prefix = f"redrop{uuid.uuid4().hex[:8]}"
    group_channel = f"{prefix}__group__room.1"
    layer = RedisClusterFanOutChannelLayer(hosts=[redis_cluster.url], prefix=prefix)
    sender = RedisClusterFanOutChannelLayer(hosts=[redis_cluster.url], prefix=prefix)
    socket = Socket()
    dropped_again = asyncio.Event()
    confirm = cluster_layer._NodeSubscriber.subscribe

    async def confirm_then_drop_once(subscriber: Any, channel: str) -> None:
        await confirm(subscriber, channel)
        pubsub = subscriber.owner
        if channel == group_channel and pubsub._repair is not None and not dropped_again.is_set():
            async with asyncio.timeout(ARRIVAL_TIMEOUT):
                while pubsub._subscribed() != pubsub.wanted:  # the round has confirmed every channel
                    await asyncio.sleep(0.01)
            await asyncio.to_thread(redis_cluster.drop_channels_of_slot, group_channel)
            async with asyncio.timeout(ARRIVAL_TIMEOUT):
                await subscriber.task  # its reader saw the ``sunsubscribe`` and reported the loss
            dropped_again.set()

    try:
        channel = await layer.new_channel()
        layer.attach(channel, socket)
        await layer.group_add("room.1", channel)
        monkeypatch.setattr(cluster_layer._NodeSubscriber, "subscribe", confirm_then_drop_once)
        await asyncio.to_thread(redis_cluster.drop_channels_of_slot, group_channel)
        await asyncio.wait_for(dropped_again.wait(), RESYNC_TIMEOUT)
        await asyncio.wait_for(socket.resynced.wait(), RESYNC_TIMEOUT)
        await sender.group_send("room.1", {"type": "test.event", "n": 1})
        async with asyncio.timeout(ARRIVAL_TIMEOUT):
            while not socket.numbers():
                await asyncio.sleep(0.01)
    finally:
        await sender.flush()
        await layer.flush()

    # One resync, once the repair has every channel back: a client syncs once.
    assert [message for message, _ in socket.frames] == [
        resync_envelope("subscriptions_restored"),
        {"type": "test.event", "n": 1},
    ]


async def test_a_socket_that_leaves_a_group_and_joins_again_causes_no_resync(redis_cluster):
    layer = RedisClusterFanOutChannelLayer(hosts=[redis_cluster.url], prefix=f"rejoin{uuid.uuid4().hex[:8]}")
    socket = Socket()
    try:
        channel = await layer.new_channel()
        layer.attach(channel, socket)
        for _ in range(20):  # the last socket of a room on this process reconnecting, over and over
            await layer.group_add("room.1", channel)
            await layer.group_discard("room.1", channel)
        await layer.group_add("room.1", channel)
        await layer.group_send("room.1", {"type": "test.event", "n": 1})
        async with asyncio.timeout(ARRIVAL_TIMEOUT):
            while not socket.frames:
                await asyncio.sleep(0.01)
    finally:
        await layer.flush()

    assert [message for message, _ in socket.frames] == [{"type": "test.event", "n": 1}]


async def test_subscribing_on_an_unreachable_cluster_fails_after_its_attempts_instead_of_waiting(
    free_port_nobody_uses, monkeypatch
):
    monkeypatch.setattr(cluster_layer, "SUBSCRIBE_TIMEOUT", 0.2)
    layer = RedisClusterFanOutChannelLayer(hosts=[f"redis+cluster://127.0.0.1:{free_port_nobody_uses}"], prefix="gone")
    try:
        with pytest.raises((redis.RedisError, redis.exceptions.RedisClusterException, TimeoutError)):
            await asyncio.wait_for(layer.new_channel(), RESYNC_TIMEOUT)
    finally:
        await layer.flush()


@pytest.fixture
def free_port_nobody_uses() -> int:
    from tests.conftest import free_port

    return free_port()


def after_resync_count(publisher: Publisher, resync_at: float) -> int:
    return sum(1 for _, at in publisher.acked if at > resync_at)
