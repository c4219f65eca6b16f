"""Channel layers that hand events straight to the consumers of this process.

Channels' layers give every consumer a queue and the consumer a task that
waits on it: each delivered event was a queue put, a task wake-up and (on
Redis) its own msgpack decode, per recipient, and every idle connection kept
a queue, a task and its future. These layers add a direct path for consumers
that ``attach`` a callback to their channel (``ChatConsumer``): a group event
is decoded once per process and the callback is called for each local
member, in the order the events arrived. Channels without a callback keep the
ordinary queue and ``receive``, so any other consumer, and tests that listen
on a channel, work as before.

- ``LocalChannelLayer``: the embedded default (one process, no Redis).
- ``RedisFanOutChannelLayer``: Redis pub/sub, one PUBLISH per group event and
  one SUBSCRIBE per group per process (as ``RedisPubSubChannelLayer``), but no
  SUBSCRIBE per connection: a process's channel names share one inbox
  subscription, as ``RedisChannelLayer`` names them (``<prefix>specific.<process>!<id>``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from django.conf import settings

from core.publishing import resync_envelope
from core.throttled_log import warn_once_per

from .sequencer import Deliver, GroupSequencer

logger = logging.getLogger(__name__)

# What these layers were written against (lowest, first unsupported): they subclass channels_redis's
# RedisPubSubLoopLayer and RedisSingleShardConnection and Channels' InMemoryChannelLayer, and use their
# private parts (_shards, _get_shard, _receive_message, groups, channels, _clean_expired); redis-py 8
# times idle pub/sub readers out (requirements.txt). tests/realtime/test_versions.py holds the installed
# versions to these ranges: read the new internals before widening one.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {
    "channels": ("4.3", "4.4"),
    "channels-redis": ("4.3", "4.4"),
    "redis": ("7.4", "8"),
}

SWEEP_INTERVAL = 1.0  # seconds
RECONNECT_PAUSE = 0.5  # seconds between tries to read a lost pub/sub connection again

# Called (in the event loop) when a process's pub/sub subscriptions come back after a lost connection:
# whatever else lived in that Redis may be gone too (a restarted Redis keeps nothing), e.g. presence.
_restored_hooks: list[Callable[[], None]] = []


def when_subscriptions_restored(hook: Callable[[], None]) -> Callable[[], None]:
    """Register ``hook`` to run each time a process's channel-layer subscriptions are restored."""
    _restored_hooks.append(hook)
    return hook


def _call(deliver: Deliver, message: dict[str, Any]) -> None:
    """One recipient's callback; its failure must not stop the others' delivery."""
    try:
        deliver(message)
    except Exception:
        logger.exception("Delivery to a consumer failed")


class LocalChannelLayer(InMemoryChannelLayer):
    """The in-memory layer with direct delivery, sweeping expired messages at most once a second.

    Channels' ``InMemoryChannelLayer`` sweeps every channel and every group
    membership on each ``receive``: with 1,000 sockets that scan was most of
    what a delivery cost (620 us per delivery measured, and sends timed out
    at 10,000 deliveries/s).
    """

    _last_sweep = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.callbacks: dict[str, Deliver] = {}

    def attach(self, channel: str, deliver: Deliver) -> None:
        """Call ``deliver(message)`` for every message to ``channel`` instead of queueing it.

        Messages already queued for the channel go to ``deliver`` first, in order.
        """
        queue = self.channels.pop(channel, None)
        self.callbacks[channel] = deliver
        while queue is not None and not queue.empty():
            _, message = queue.get_nowait()
            _call(deliver, message)

    def detach(self, channel: str) -> None:
        self.callbacks.pop(channel, None)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        deliver = self.callbacks.get(channel)
        if deliver is None:
            await super().send(channel, message)
        else:
            _call(deliver, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        callbacks = self.callbacks
        for channel in list(self.groups.get(group, ())):
            deliver = callbacks.get(channel)
            if deliver is not None:
                # One dict for every recipient: consumers read events, they never change them.
                _call(deliver, message)
            else:
                try:
                    await super().send(channel, message)
                except Exception:  # ChannelFull: as Channels' layer, a full channel misses the event
                    pass

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = now
        super()._clean_expired()

    async def flush(self) -> None:
        await super().flush()
        self.callbacks = {}


class _FanOutShard(RedisSingleShardConnection):
    def _receive_message(self, message: dict[str, Any] | None) -> None:
        if message is not None:
            self.channel_layer.on_redis_message(message["channel"], message["data"])

    async def _do_receiving(self) -> None:
        """channels_redis's reader, noticing when its connection was lost and restored.

        redis-py reconnects a pub/sub connection and subscribes it again on the
        next read; what was published in between is gone. The first read that
        succeeds after a failure means the subscriptions are back: the layer
        tells every local socket to ``resync``. The outage is logged once, not
        once a second with a traceback.
        """
        lost = False
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    if lost:
                        lost = False
                        logger.warning("Channel-layer subscriptions restored on %s; local sockets resync", self.host)
                        self.channel_layer.on_subscriptions_restored()
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as error:  # noqa: BLE001 -- the connection is retried below
                if not lost:
                    lost = True
                    warn_once_per(logger, "pubsub", 30, "Channel-layer subscriptions lost on %s (%s)", self.host, error)
                await asyncio.sleep(RECONNECT_PAUSE)


class _FanOutLoopLayer(RedisPubSubLoopLayer):
    """``RedisPubSubLoopLayer`` (one per event loop) with process inboxes and direct delivery."""

    def __init__(
        self, hosts: Any = None, *args: Any, group_buckets: dict[str, int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(hosts, *args, **kwargs)
        self._shards = [_FanOutShard(host, self) for host in decode_hosts(hosts)]
        # Groups named with one of these prefixes share a Redis channel with the others of their bucket
        # (``_bucket_of``): prefix -> number of buckets.
        self.group_buckets = {prefix: count for prefix, count in (group_buckets or {}).items() if count > 0}
        self.bucketed: dict[str, str | set[str]] = {}  # a bucketed group -> its local channel(s), as ``groups``
        self.bucket_groups: dict[str, int] = {}  # a bucket's channel -> how many of its groups have local members
        # Short names (each connection keeps one): 48 random bits tell processes apart, a counter channels.
        self.process_token = uuid.uuid4().hex[:12]
        self._channel_ids = itertools.count(1)
        self.inboxes: set[str] = set()
        # Local channels without a callback -> their queue; attached channels are in `callbacks` only.
        self.channels: dict[str, asyncio.Queue] = {}
        self.callbacks: dict[str, Deliver] = {}
        # Groups whose messages carry a seq (rooms), once the first such message arrives.
        self.sequencers: dict[str, GroupSequencer] = {}

    def _inbox(self, channel: str) -> str | None:
        bang = channel.find("!")
        return channel[: bang + 1] if bang >= 0 else None

    async def new_channel(self, prefix: str = "specific.") -> str:
        inbox = f"{self.prefix}{prefix}{self.process_token}!"
        if inbox not in self.inboxes:
            await self._get_shard(inbox).subscribe(inbox)
            self.inboxes.add(inbox)
        channel = f"{inbox}{next(self._channel_ids)}"
        self.channels[channel] = asyncio.Queue()  # until a callback replaces it: nothing is lost before
        return channel

    def attach(self, channel: str, deliver: Deliver) -> None:
        """Call ``deliver(message)`` for every message to ``channel`` (of this process) instead of queueing it."""
        queue = self.channels.pop(channel, None)
        self.callbacks[channel] = deliver
        while queue is not None and not queue.empty():
            _call(deliver, queue.get_nowait())

    def detach(self, channel: str) -> None:
        self.callbacks.pop(channel, None)
        self.channels.pop(channel, None)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        inbox = self._inbox(channel)
        if inbox is None:
            await super().send(channel, message)
            return
        assert "__asgi_channel__" not in message
        payload = self.channel_layer.serialize({**message, "__asgi_channel__": channel})
        await self._get_shard(inbox).publish(inbox, payload)

    async def receive(self, channel: str) -> dict[str, Any]:
        if self._inbox(channel) is None:
            return await super().receive(channel)  # a general channel: its own subscription
        if channel in self.callbacks:
            raise RuntimeError(f"{channel} delivers to a callback; it cannot be received from")
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue()
        try:
            return await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # As RedisPubSubLoopLayer: a cancelled receive means the consumer is gone.
            self.channels.pop(channel, None)
            raise

    def on_redis_message(self, name: str | bytes, data: bytes) -> None:
        """A published message: decoded once, then to each local recipient in arrival order."""
        if isinstance(name, bytes):
            name = name.decode()
        if name in self.bucket_groups:
            message = self.channel_layer.deserialize(data)
            group = message.pop(BUCKET_GROUP_KEY, None)
            if group in self.bucketed:  # else a group of the bucket with no member in this process
                self._deliver_to(self._local(self.bucketed[group]), message)
        elif name in self.inboxes:
            message = self.channel_layer.deserialize(data)
            self._deliver(message.pop("__asgi_channel__"), message)
        elif name in self.groups:
            message = self.channel_layer.deserialize(data)
            sequencer = self.sequencers.get(name)
            if sequencer is None and "seq" in message:
                sequencer = self._sequencer(name)
            if sequencer is not None:
                sequencer.push(message)
            else:
                self._deliver_group(name, message)
        elif name in self.channels:  # a general channel subscribed by RedisPubSubLoopLayer.receive
            self.channels[name].put_nowait(data)

    def on_subscriptions_restored(self) -> None:
        """Tell every local socket it may have missed events while the subscriptions were down."""
        message = resync_envelope("subscriptions_restored")
        for channel in list(self.callbacks):
            self._deliver(channel, message)
        for hook in _restored_hooks:
            try:
                hook()
            except Exception:
                logger.exception("A subscriptions-restored hook failed")

    def _sequencer(self, group_channel: str) -> GroupSequencer:
        sequencer = self.sequencers.get(group_channel)
        if sequencer is None:
            sequencer = GroupSequencer(lambda message: self._deliver_group(group_channel, message))
            self.sequencers[group_channel] = sequencer
        return sequencer

    def expect_seq(self, group: str, next_seq: int) -> None:
        """Where a group's seqs stand, from a member that read it (the room's ``last_seq`` + 1).

        Without it the first message a process hears sets the start, and a
        higher seq that overtook a lower one on its way would go first.
        """
        group_channel = self._get_group_channel_name(group)
        if group_channel in self.groups:
            sequencer = self._sequencer(group_channel)
            if sequencer.next_seq is None:
                sequencer.next_seq = next_seq

    def publications(self, messages: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, bytes]] | None:
        """The channel and payload ``group_send(group, message)`` would PUBLISH for each (group, message), for a
        caller that publishes them from a script of its own on ``REDIS_URL``'s server (``presence.store``: a
        connect's record and its ``user_online`` in one round trip). None where the layer publishes elsewhere:
        on several servers (each group on the one its name hashes to), on a cluster (sharded channels), or not
        on ``REDIS_URL``.
        """
        if len(self._shards) != 1 or type(self._shards[0]) is not _FanOutShard:
            return None
        if self._shards[0].host.get("address") != settings.REDIS_URL:
            return None
        return [self._publication(group, message) for group, message in messages]

    def _publication(self, group: str, message: dict[str, Any]) -> tuple[str, bytes]:
        """The Redis channel a group's message is published on, and the payload."""
        bucket = self._bucket_of(group)
        if bucket is None:
            return self._get_group_channel_name(group), self.channel_layer.serialize(message)
        assert BUCKET_GROUP_KEY not in message
        return bucket, self.channel_layer.serialize({**message, BUCKET_GROUP_KEY: group})

    def _bucket_of(self, group: str) -> str | None:
        """The channel a group shares with the others of its bucket, or None: a channel of its own.

        A socket's user group had a channel of its own: a SUBSCRIBE with every
        connect (and an UNSUBSCRIBE with every close), a tenth of a connect's
        server CPU through redis-py and the reader of the confirmations. Shared
        by ``count`` buckets, a process subscribes at most ``count`` times, and
        each message names its group, so only that group's members get it. The
        cost moves to the other end: a process hears the messages of every group
        in a bucket it follows, and drops those without a local member (user
        groups carry a user's own events: a fraction of the rooms' traffic).
        """
        for prefix, count in self.group_buckets.items():
            if group.startswith(prefix):
                return f"{self.prefix}__bucket__{prefix}{zlib.crc32(group.encode()) % count}"
        return None

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        channel, payload = self._publication(group, message)
        await self._get_shard(channel).publish(channel, payload)

    def _deliver_group(self, group: str, message: dict[str, Any]) -> None:
        self._deliver_to(self._members(group), message)

    def _deliver_to(self, channels: tuple[str, ...] | list[str], message: dict[str, Any]) -> None:
        for channel in channels:
            self._deliver(channel, message)

    def _members(self, group_channel: str) -> tuple[str, ...] | list[str]:
        """The group's local channels, copied: a delivery may add or remove members."""
        return self._local(self.groups.get(group_channel))

    @staticmethod
    def _local(members: str | set[str] | None) -> tuple[str, ...] | list[str]:
        if members is None:
            return ()
        if type(members) is str:
            return (members,)
        return list(members)

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        deliver = self.callbacks.get(channel)
        if deliver is not None:
            # One dict for every recipient: consumers read events, they never change them.
            _call(deliver, message)
            return
        queue = self.channels.get(channel)
        if queue is not None:
            queue.put_nowait(dict(message))

    async def group_add(self, group: str, channel: str) -> None:
        """As ``RedisPubSubLoopLayer.group_add``, for queued and attached channels alike."""
        if channel not in self.channels and channel not in self.callbacks:
            raise RuntimeError(f"group_add() takes channels of this process; {channel!r} is not one")
        bucket = self._bucket_of(group)
        if bucket is not None:
            if _add_member(self.bucketed, group, channel):
                self.bucket_groups[bucket] = self.bucket_groups.get(bucket, 0) + 1
            # No round trip when this process follows the bucket already (the shard knows), only its lock:
            # a group_add that comes while the bucket's SUBSCRIBE is on its way still returns after it.
            await self._get_shard(bucket).subscribe(bucket)
            return
        group_channel = self._get_group_channel_name(group)
        _add_member(self.groups, group_channel, channel)
        await self._get_shard(group_channel).subscribe(group_channel)

    async def group_discard(self, group: str, channel: str) -> None:
        """As ``RedisPubSubLoopLayer.group_discard``, for members kept as in ``group_add``."""
        bucket = self._bucket_of(group)
        if bucket is not None:
            if _discard_member(self.bucketed, group, channel):
                left = self.bucket_groups[bucket] - 1
                if left:
                    self.bucket_groups[bucket] = left
                else:
                    del self.bucket_groups[bucket]
                    await self._get_shard(bucket).unsubscribe(bucket)
            return
        group_channel = self._get_group_channel_name(group)
        if not _discard_member(self.groups, group_channel, channel):
            return
        # Its last local member left: forget where its seqs were, and stop listening.
        sequencer = self.sequencers.pop(group_channel, None)
        if sequencer is not None and sequencer.timer is not None:
            sequencer.timer.cancel()
        await self._get_shard(group_channel).unsubscribe(group_channel)

    async def flush(self) -> None:
        await super().flush()
        self.callbacks = {}
        self.inboxes = set()
        self.bucketed = {}
        self.bucket_groups = {}
        for sequencer in self.sequencers.values():
            if sequencer.timer is not None:
                sequencer.timer.cancel()
        self.sequencers = {}


# Where a message on a shared (bucket) channel names its group.
BUCKET_GROUP_KEY = "__bucket_group__"


def _add_member(groups: dict[str, str | set[str]], group: str, channel: str) -> bool:
    """Add ``channel`` to ``groups[group]``; True when the group had no local member before.

    A group's local members: its one channel's name while it has one, a set of
    two or more. Every socket has a group of one (its user's): a set of one was
    0.2 KiB each.
    """
    members = groups.get(group)
    if members is None:
        groups[group] = channel
        return True
    if type(members) is str:
        if members != channel:
            groups[group] = {members, channel}
    else:
        members.add(channel)
    return False


def _discard_member(groups: dict[str, str | set[str]], group: str, channel: str) -> bool:
    """Take ``channel`` out of ``groups[group]``; True when it was the group's last local member (the
    group is then gone from ``groups``)."""
    members = groups.get(group)
    if members is None or (members != channel if type(members) is str else channel not in members):
        return False
    if type(members) is not str:
        members.discard(channel)
        if len(members) == 1:
            groups[group] = next(iter(members))
        return False
    del groups[group]
    return True


class RedisFanOutChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` delivering to attached consumers directly (see the module docstring).

    ``attach``, ``detach`` and ``expect_seq`` reach the running loop's layer
    through ``RedisPubSubChannelLayer.__getattr__``, as every name it does not proxy.
    """

    def _get_layer(self) -> _FanOutLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _FanOutLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
