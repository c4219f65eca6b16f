"""The fan-out channel layer on a Redis Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE).

Plain PUBLISH on a cluster is broadcast to every node, so each node carries
every room's traffic and adding nodes adds no pub/sub capacity. Sharded
pub/sub keeps a channel on the shard that owns its hash slot: a room's group
channel (``<prefix>__group__room.<id>``) lives on one shard chosen by the
room, a process's inbox on one chosen by the process.

Each process publishes with SPUBLISH through a cluster client (which follows
MOVED and refreshes its view of the slots), and holds one SSUBSCRIBE
connection per master that owns a slot of a channel it listens to: only the
groups its sockets are in. When such a connection fails (the master died and
its replica was promoted), answers MOVED, or Redis drops a subscription
(``sunsubscribe`` after its slot moved to another shard), the layer reads the
slots again, subscribes every channel it needs on its current owner, and
tells every local socket to ``resync``, as ``RedisFanOutChannelLayer`` does
when its single pub/sub connection comes back: whatever was published in
between is gone, and clients catch up with ``sync``.

Bounded: connecting waits ``CONNECT_TIMEOUT``, a subscription's confirmation
``SUBSCRIBE_TIMEOUT``; an idle connection is pinged every ``PING_INTERVAL``
and given up after ``PINGS_UNANSWERED`` unanswered pings; a repair retries
every ``RECONNECT_PAUSE`` until the cluster answers (the layer cannot work
without it, and each try is itself bounded).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from channels_redis.utils import _wrap_close
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from core.redis import ClosedTransportSafeConnection, async_cluster_client, cluster_nodes
from core.throttled_log import warn_once_per

from .layers import RECONNECT_PAUSE, RedisFanOutChannelLayer, _FanOutLoopLayer

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds
SUBSCRIBE_TIMEOUT = 5.0  # seconds for Redis to confirm an SSUBSCRIBE
PING_INTERVAL = 5.0  # seconds of silence on a subscription connection before a PING
PINGS_UNANSWERED = 2  # silent intervals in a row before the connection is given up
SUBSCRIBE_ATTEMPTS = 3  # repairs one subscribe may wait through before it fails
COMMAND_TIMEOUT = 1.0  # seconds for a node to answer a command (below PUBLISH_TIMEOUT, so the client sees it)


class SubscriptionLost(RedisError):
    """Redis dropped a subscription this process did not give up (its slot moved)."""


class _NodeSubscriber:
    """One SSUBSCRIBE connection to one master, and the channels subscribed on it."""

    def __init__(self, owner: ShardedPubSub, host: str, port: int) -> None:
        self.owner = owner
        self.name = f"{host}:{port}"
        self.connection = ClosedTransportSafeConnection(host=host, port=port, socket_connect_timeout=CONNECT_TIMEOUT)
        self.channels: set[str] = set()
        self.confirming: dict[str, asyncio.Future[None]] = {}
        # SUNSUBSCRIBEs sent and not yet answered: their answers are not Redis dropping the channel,
        # even when the channel was subscribed again meanwhile (a socket that left and came back).
        self.leaving: Counter[str] = Counter()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.wait_for(self.connection.connect(), CONNECT_TIMEOUT)
        self.task = asyncio.create_task(self._read(), name=f"ssubscribe {self.name}")

    async def subscribe(self, channel: str) -> None:
        """SSUBSCRIBE ``channel``, returning once Redis confirmed it (a later SPUBLISH reaches us)."""
        self.channels.add(channel)
        future = self.confirming.get(channel)
        if future is None:
            future = self.confirming[channel] = asyncio.get_running_loop().create_future()
            await self.connection.send_command("SSUBSCRIBE", channel)
        await asyncio.wait_for(asyncio.shield(future), SUBSCRIBE_TIMEOUT)

    async def unsubscribe(self, channel: str) -> None:
        if channel in self.channels:
            self.channels.discard(channel)
            self.leaving[channel] += 1
            await self.connection.send_command("SUNSUBSCRIBE", channel)

    async def _read(self) -> None:
        silent = 0
        try:
            while True:
                response = await self.connection.read_response(timeout=PING_INTERVAL)
                if response is None:
                    silent += 1
                    if silent > PINGS_UNANSWERED:
                        raise TimeoutError(f"{self.name} answered no PING")
                    await self.connection.send_command("PING")
                    continue
                silent = 0
                kind = response[0]
                if kind == b"smessage":
                    self.owner.layer.on_redis_message(response[1], response[2])
                elif kind == b"ssubscribe":
                    future = self.confirming.pop(response[1].decode(), None)
                    if future is not None and not future.done():
                        future.set_result(None)
                elif kind == b"sunsubscribe":
                    channel = response[1].decode()
                    if self.leaving[channel] > 0:
                        self.leaving[channel] -= 1
                        if not self.leaving[channel]:
                            del self.leaving[channel]
                    elif channel in self.channels:
                        raise SubscriptionLost(f"{self.name} dropped {channel} (its slot moved)")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 -- the owner repairs every subscription
            self._fail(error)
            self.owner.lost(self, error)

    def _fail(self, error: BaseException) -> None:
        for future in self.confirming.values():
            if not future.done():
                future.set_exception(error)
        self.confirming.clear()

    async def close(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 -- closing anyway
                pass
        self._fail(ConnectionError("closed"))
        await self.connection.disconnect(nowait=True)


class ShardedPubSub:
    """Stands in for channels_redis's shard connections: SPUBLISH and per-master SSUBSCRIBE on a cluster."""

    def __init__(self, layer: _ClusterLoopLayer, nodes: list[tuple[str, int]]) -> None:
        self.layer = layer
        self.nodes = nodes
        self.wanted: set[str] = set()
        self.subscribers: dict[str, _NodeSubscriber] = {}
        self._client: RedisCluster | None = None
        self._lock = asyncio.Lock()
        self._repair: asyncio.Task[None] | None = None
        # A connection of the repair's own failed or dropped a channel: the repair goes round again.
        self._lost_during_repair = False
        self._refresh: asyncio.Task[None] | None = None

    @property
    def client(self) -> RedisCluster:
        if self._client is None:
            self._client = async_cluster_client(self.nodes, connect_timeout=CONNECT_TIMEOUT, timeout=COMMAND_TIMEOUT)
        return self._client

    async def publish(self, channel: str, message: bytes) -> None:
        """SPUBLISH on the master of ``channel``'s slot.

        A failed or cancelled publish (the caller's PUBLISH_TIMEOUT is shorter
        than the client's own retries) reads the slots again in the background:
        otherwise a client whose every try is cut short never learns that a
        hung master was replaced, and the caller's retries all go to it.
        """
        try:
            await self.client.execute_command("SPUBLISH", channel, message)
        except BaseException:
            self._refresh_slots_soon()
            raise

    def _refresh_slots_soon(self) -> None:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._refresh_slots(), name="cluster slots refresh")

    async def _refresh_slots(self) -> None:
        try:
            await asyncio.wait_for(self.client.nodes_manager.initialize(), CONNECT_TIMEOUT * 2)
        except Exception as error:  # noqa: BLE001 -- the next failed publish tries again
            warn_once_per(logger, "cluster-slots", 30, "Cluster slots not refreshed (%s)", error)

    async def subscribe(self, channel: str) -> None:
        """SSUBSCRIBE ``channel`` on its slot's master; after ``SUBSCRIBE_ATTEMPTS`` failures, raise."""
        self.wanted.add(channel)
        if self._repair is None and any(
            channel in s.channels and channel not in s.confirming for s in self.subscribers.values()
        ):
            return  # another socket of this process is in the group already: no round trip
        for attempt in range(SUBSCRIBE_ATTEMPTS):
            try:
                if self._repair is not None and not self._repair.done():
                    # The repair subscribes everything wanted, this channel too; wait for it, boundedly.
                    await asyncio.wait_for(asyncio.shield(self._repair), SUBSCRIBE_TIMEOUT)
                    if channel in self._subscribed():
                        return
                async with self._lock:
                    subscriber = await self._subscriber_for(channel)
                await subscriber.subscribe(channel)
                return
            except (RedisError, RedisClusterException, OSError, TimeoutError) as error:
                if attempt == SUBSCRIBE_ATTEMPTS - 1:
                    self.wanted.discard(channel)
                    raise
                self._start_repair(error)

    async def unsubscribe(self, channel: str) -> None:
        self.wanted.discard(channel)
        for subscriber in list(self.subscribers.values()):
            if channel in subscriber.channels:
                try:
                    await subscriber.unsubscribe(channel)
                except (RedisError, OSError) as error:
                    self.lost(subscriber, error)

    def _subscribed(self) -> set[str]:
        return set().union(*(s.channels for s in self.subscribers.values())) - {
            c for s in self.subscribers.values() for c in s.confirming
        }

    async def _subscriber_for(self, channel: str) -> _NodeSubscriber:
        client = self.client
        if not client.nodes_manager.slots_cache:
            await client.initialize()
        node = client.nodes_manager.get_node_from_slot(client.keyslot(channel))
        subscriber = self.subscribers.get(node.name)
        if subscriber is None:
            subscriber = _NodeSubscriber(self, node.host, node.port)
            await subscriber.start()
            self.subscribers[node.name] = subscriber
        return subscriber

    def lost(self, subscriber: _NodeSubscriber, error: BaseException) -> None:
        """A subscription connection failed or lost a channel: resubscribe everything, then resync."""
        warn_once_per(logger, "cluster-pubsub", 30, "Sharded subscriptions lost on %s (%s)", subscriber.name, error)
        self._lost_during_repair = True
        self._start_repair(error)

    def _start_repair(self, error: BaseException) -> None:
        if self._repair is None or self._repair.done():
            self._repair = asyncio.create_task(self._repair_all(), name="sharded pub/sub repair")

    async def _repair_all(self) -> None:
        """Subscribe every wanted channel on its slot's master afresh, until one round loses nothing.

        A round that confirmed everything is not enough: a slot that moves again
        while it subscribes (a resharding assigns a slot on each node in turn)
        drops a channel the round already confirmed, and that connection's loss,
        reported while this repair still runs, would otherwise start no repair.
        """
        while True:
            try:
                async with self._lock:
                    for subscriber in list(self.subscribers.values()):
                        await subscriber.close()
                    self.subscribers.clear()
                    self._lost_during_repair = False  # what was lost so far was on the connections just closed
                    await self.client.nodes_manager.initialize()  # the slots as the cluster now assigns them
                    subscribers = [(await self._subscriber_for(channel), channel) for channel in sorted(self.wanted)]
                await asyncio.gather(*(subscriber.subscribe(channel) for subscriber, channel in subscribers))
                if self._lost_during_repair:
                    continue
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 -- retried until the cluster answers
                warn_once_per(logger, "cluster-pubsub-repair", 30, "Sharded subscriptions not back yet (%s)", error)
                await asyncio.sleep(RECONNECT_PAUSE)
        logger.warning("Sharded subscriptions restored on %d masters; local sockets resync", len(self.subscribers))
        self._repair = None
        self.layer.on_subscriptions_restored()

    async def flush(self) -> None:
        self.wanted.clear()
        for task in (self._repair, self._refresh):
            if task is not None:
                task.cancel()
        self._repair = self._refresh = None
        for subscriber in list(self.subscribers.values()):
            await subscriber.close()
        self.subscribers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class _ClusterLoopLayer(_FanOutLoopLayer):
    """``_FanOutLoopLayer`` whose every channel and group goes through one ``ShardedPubSub``."""

    def __init__(self, hosts: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(["redis://127.0.0.1:6379"], *args, **kwargs)  # channels_redis's shards, replaced below
        nodes = [node for host in hosts or [] for node in cluster_nodes(host)]
        self.sharded = ShardedPubSub(self, nodes)
        self._shards = [self.sharded]

    def _get_shard(self, channel_or_group_name: str) -> ShardedPubSub:
        return self.sharded


class RedisClusterFanOutChannelLayer(RedisFanOutChannelLayer):
    """``RedisFanOutChannelLayer`` on a Redis Cluster (``REDIS_URL=redis+cluster://host:port,host:port``)."""

    def _get_layer(self) -> _ClusterLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _ClusterLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
