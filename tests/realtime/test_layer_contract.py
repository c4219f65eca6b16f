"""What both custom channel layers promise the consumers: one contract, run on each.

``LocalChannelLayer`` (in memory, the embedded default) and
``RedisFanOutChannelLayer`` (Redis pub/sub, production) must behave alike
wherever a consumer can tell: channel names, sends, groups, order, and the
direct delivery of ``attach``. What only one of them promises (the local
layer's expiry and capacity, the Redis layer's seq order across processes)
is at the end.

Absence is shown without waiting for time to pass: a marker sent after the
message that must not arrive does arrive, on the same path and in order, so
anything sent before it would have come first.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

from realtime import sequencer
from realtime.cluster import RedisClusterFanOutChannelLayer
from realtime.layers import LocalChannelLayer, RedisFanOutChannelLayer

# A wait for what must arrive, so a broken layer fails the test instead of hanging it (never reached when it works).
ARRIVAL_TIMEOUT = 5


class Recorder:
    """A callback for ``attach`` that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def __call__(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), ARRIVAL_TIMEOUT)

    async def take(self, count: int) -> list[dict[str, Any]]:
        return [await self.next() for _ in range(count)]

    def waiting(self) -> list[dict[str, Any]]:
        """What was delivered and not yet taken."""
        return [self.queue.get_nowait() for _ in range(self.queue.qsize())]


class Harness:
    """One layer under test, with what a test needs around it.

    On Redis, a SUBSCRIBE that was sent is not yet one Redis has processed: a
    PUBLISH on another connection could overtake it. ``channel`` and ``join``
    return once Redis reports the subscription, as a consumer's later events
    rely on (they come after a round trip).
    """

    def __init__(self, kind: str, layer: Any, redis_url: str | None = None, prefix: str = "") -> None:
        self.kind = kind
        self.layer = layer
        self.redis_url = redis_url
        self.prefix = prefix

    async def channel(self) -> str:
        channel = await self.layer.new_channel()
        await self._subscribed(channel[: channel.index("!") + 1])  # the process's inbox (realtime.layers)
        return channel

    async def join(self, group: str, channel: str) -> None:
        await self.layer.group_add(group, channel)
        await self._subscribed(f"{self.prefix}__group__{group}")  # channels_redis's pub/sub name for a group

    async def receive(self, channel: str) -> dict[str, Any]:
        return await asyncio.wait_for(self.layer.receive(channel), ARRIVAL_TIMEOUT)

    async def _subscribed(self, name: str) -> None:
        if self.redis_url is None or self.kind == "cluster":
            return  # the cluster layer's subscribe returns only once Redis confirmed the SSUBSCRIBE
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            async with asyncio.timeout(ARRIVAL_TIMEOUT):
                while (await client.pubsub_numsub(name))[0][1] == 0:
                    await asyncio.sleep(0.005)
        finally:
            await client.aclose()


def redis_layer(redis_url: str, prefix: str) -> RedisFanOutChannelLayer:
    """The production Redis layer (config/settings.py) with a prefix of its own: pub/sub ignores database numbers.
    On a ``redis+cluster://`` URL, the cluster layer (realtime/cluster.py), as settings choose it."""
    if redis_url.startswith("redis+cluster://"):
        return RedisClusterFanOutChannelLayer(hosts=[redis_url], prefix=prefix)
    return RedisFanOutChannelLayer(hosts=[redis_url], prefix=prefix)


def redis_kind(request, kind: str) -> tuple[str, str]:
    if kind == "cluster":
        return "cluster", request.getfixturevalue("redis_cluster").url
    return "redis", request.getfixturevalue("redis_url")


@pytest.fixture(params=["local", "redis", "cluster"])
def layer_kind(request) -> tuple[str, str | None]:
    if request.param != "local":
        return redis_kind(request, request.param)
    return "local", None


@pytest_asyncio.fixture
async def harness(layer_kind) -> AsyncIterator[Harness]:
    kind, redis_url = layer_kind
    if kind == "local":
        built = Harness(kind, LocalChannelLayer(capacity=100, expiry=60))
    else:
        prefix = f"contract{uuid.uuid4().hex[:8]}"
        built = Harness(kind, redis_layer(redis_url, prefix), redis_url, prefix)
    yield built
    await built.layer.flush()


def message(n: int | str, **fields: Any) -> dict[str, Any]:
    return {"type": "test.event", "n": n, **fields}


def numbers(messages: list[dict[str, Any]]) -> list[Any]:
    return [m["n"] for m in messages]


# --- Channels ---------------------------------------------------------------------------------------


async def test_new_channels_have_distinct_valid_process_local_names(harness):
    names = [await harness.layer.new_channel() for _ in range(50)]

    assert len(set(names)) == 50
    for name in names:
        assert BaseChannelLayer().require_valid_channel_name(name)
        assert "!" in name  # a process-local channel, as Channels names them


async def test_a_message_sent_to_a_channel_is_received_from_it(harness):
    channel = await harness.channel()

    await harness.layer.send(channel, message(1, body="hello"))

    assert await harness.receive(channel) == message(1, body="hello")


async def test_messages_sent_to_a_channel_are_received_in_the_order_sent(harness):
    channel = await harness.channel()

    for n in range(10):
        await harness.layer.send(channel, message(n))

    assert [(await harness.receive(channel))["n"] for _ in range(10)] == list(range(10))


async def test_a_message_to_one_channel_is_not_received_by_another(harness):
    first, second = await harness.channel(), await harness.channel()

    await harness.layer.send(first, message("for first"))
    await harness.layer.send(second, message("for second"))

    assert (await harness.receive(second))["n"] == "for second"
    assert (await harness.receive(first))["n"] == "for first"


# --- Groups -----------------------------------------------------------------------------------------


async def test_a_group_message_reaches_each_member_exactly_once(harness):
    members = [await harness.channel() for _ in range(3)]
    for channel in members:
        await harness.join("room.1", channel)

    await harness.layer.group_send("room.1", message("event"))
    for channel in members:
        await harness.layer.send(channel, message("marker"))

    for channel in members:
        assert [(await harness.receive(channel))["n"] for _ in range(2)] == ["event", "marker"]


async def test_a_group_message_does_not_reach_channels_outside_the_group(harness):
    member, outsider = await harness.channel(), await harness.channel()
    await harness.join("room.1", member)

    await harness.layer.group_send("room.1", message("event"))
    await harness.layer.send(outsider, message("marker"))

    assert (await harness.receive(member))["n"] == "event"
    assert (await harness.receive(outsider))["n"] == "marker"


async def test_a_discarded_channel_gets_no_more_group_messages(harness):
    leaving, staying = await harness.channel(), await harness.channel()
    await harness.join("room.1", leaving)
    await harness.join("room.1", staying)

    await harness.layer.group_discard("room.1", leaving)
    await harness.layer.group_send("room.1", message("after"))
    await harness.layer.send(leaving, message("marker"))

    assert (await harness.receive(staying))["n"] == "after"
    assert (await harness.receive(leaving))["n"] == "marker"


async def test_discarding_a_channel_that_is_not_a_member_is_harmless(harness):
    member, stranger = await harness.channel(), await harness.channel()
    await harness.join("room.1", member)

    await harness.layer.group_discard("room.1", stranger)
    await harness.layer.group_discard("room.2", stranger)  # a group nobody joined
    await harness.layer.group_send("room.1", message("still here"))

    assert (await harness.receive(member))["n"] == "still here"


async def test_a_channel_that_joins_a_group_twice_gets_each_message_once(harness):
    member = await harness.channel()
    await harness.join("room.1", member)
    await harness.join("room.1", member)

    await harness.layer.group_send("room.1", message("event"))
    await harness.layer.send(member, message("marker"))

    assert [(await harness.receive(member))["n"] for _ in range(2)] == ["event", "marker"]


async def test_the_member_left_alone_in_a_group_still_gets_its_messages(harness):
    first, second = await harness.channel(), await harness.channel()
    await harness.join("room.1", first)
    await harness.join("room.1", second)

    await harness.layer.group_discard("room.1", second)
    await harness.layer.group_discard("room.1", second)  # again: still harmless
    await harness.layer.group_send("room.1", message("to the one left"))
    await harness.layer.send(second, message("marker"))

    assert (await harness.receive(first))["n"] == "to the one left"
    assert (await harness.receive(second))["n"] == "marker"


async def test_a_group_emptied_and_joined_again_delivers_to_its_new_member(harness):
    leaving, joining = await harness.channel(), await harness.channel()
    await harness.join("room.1", leaving)
    await harness.layer.group_discard("room.1", leaving)

    await harness.join("room.1", joining)
    await harness.layer.group_send("room.1", message("after"))
    await harness.layer.send(leaving, message("marker"))

    assert (await harness.receive(joining))["n"] == "after"
    assert (await harness.receive(leaving))["n"] == "marker"


async def test_group_messages_arrive_in_the_order_sent_at_each_member(harness):
    queued, attached, recorder = await harness.channel(), await harness.channel(), Recorder()
    harness.layer.attach(attached, recorder)
    await harness.join("room.1", queued)
    await harness.join("room.1", attached)

    for n in range(20):
        await harness.layer.group_send("room.1", message(n))

    assert [(await harness.receive(queued))["n"] for _ in range(20)] == list(range(20))
    assert numbers(await recorder.take(20)) == list(range(20))


# --- Direct delivery: attach / detach -------------------------------------------------------------


async def test_an_attached_channel_gets_its_messages_through_its_callback(harness):
    channel, recorder = await harness.channel(), Recorder()
    harness.layer.attach(channel, recorder)
    await harness.join("room.1", channel)

    await harness.layer.send(channel, message("direct"))
    await harness.layer.group_send("room.1", message("group"))

    # A channel's own messages and a group's travel apart (on a cluster, through different shards): no
    # order holds between the two, only that both arrive, whole.
    received = await recorder.take(2)
    assert sorted(received, key=lambda m: m["n"]) == [message("direct"), message("group")]


async def test_messages_queued_before_attach_are_handed_to_the_callback_first_in_order(harness):
    channel, witness, recorder = await harness.channel(), await harness.channel(), Recorder()
    for n in range(3):
        await harness.layer.send(channel, message(n))
    await harness.layer.send(witness, message("marker"))
    assert (await harness.receive(witness))["n"] == "marker"  # so the three before it are queued

    harness.layer.attach(channel, recorder)
    handed_over = recorder.waiting()
    await harness.layer.send(channel, message(3))

    assert numbers(handed_over) == [0, 1, 2]
    assert numbers([await recorder.next()]) == [3]


async def test_a_detached_channel_gets_nothing_more(harness):
    detached, attached = await harness.channel(), await harness.channel()
    gone, witness = Recorder(), Recorder()
    harness.layer.attach(detached, gone)
    harness.layer.attach(attached, witness)
    await harness.join("room.1", detached)
    await harness.join("room.1", attached)

    harness.layer.detach(detached)
    await harness.layer.send(detached, message("direct"))
    await harness.layer.group_send("room.1", message("group"))

    assert numbers([await witness.next()]) == ["group"]  # sent after the direct one, on the same path
    assert gone.waiting() == []


async def test_a_failing_callback_does_not_stop_the_other_recipients(harness):
    failing, attached, queued, recorder = *[await harness.channel() for _ in range(3)], Recorder()

    def fail(message: dict[str, Any]) -> None:
        raise RuntimeError("this consumer is broken")

    harness.layer.attach(failing, fail)
    harness.layer.attach(attached, recorder)
    for channel in (failing, attached, queued):
        await harness.join("room.1", channel)

    await harness.layer.group_send("room.1", message(1))
    await harness.layer.group_send("room.1", message(2))

    assert numbers(await recorder.take(2)) == [1, 2]
    assert [(await harness.receive(queued))["n"] for _ in range(2)] == [1, 2]


# --- LocalChannelLayer: expiry and capacity -------------------------------------------------------


async def test_local_an_expired_message_is_swept_before_it_is_received():
    layer = LocalChannelLayer(expiry=-1)  # every message is past its expiry when it is queued
    channel = await layer.new_channel()
    await layer.send(channel, message("expired"))
    layer.expiry = 60
    await layer.send(channel, message("fresh"))

    assert await asyncio.wait_for(layer.receive(channel), ARRIVAL_TIMEOUT) == message("fresh")


async def test_local_a_channel_whose_message_expired_leaves_its_groups():
    """As Channels' in-memory layer: a channel that did not read its messages in time is taken for gone."""
    layer = LocalChannelLayer(expiry=-1)
    idle, member = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room.1", idle)
    await layer.send(idle, message("never read"))
    layer.expiry = 60
    await layer.group_add("room.1", member)

    await layer.group_send("room.1", message("event"))  # sweeps first
    await layer.send(idle, message("marker"))

    assert (await layer.receive(idle))["n"] == "marker"
    assert (await layer.receive(member))["n"] == "event"


async def test_local_a_full_channel_refuses_a_send():
    layer = LocalChannelLayer(capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, message(1))
    await layer.send(channel, message(2))

    with pytest.raises(ChannelFull):
        await layer.send(channel, message(3))


async def test_local_a_full_channel_misses_a_group_message_the_others_still_get():
    layer = LocalChannelLayer(capacity=1)
    full, member = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room.1", full)
    await layer.group_add("room.1", member)
    await layer.send(full, message("unread"))

    await layer.group_send("room.1", message("event"))

    assert (await layer.receive(member))["n"] == "event"
    assert (await layer.receive(full))["n"] == "unread"
    await layer.send(full, message("marker"))
    assert (await layer.receive(full))["n"] == "marker"


async def test_local_an_attached_channel_is_never_full():
    layer, recorder = LocalChannelLayer(capacity=1), Recorder()
    channel = await layer.new_channel()
    layer.attach(channel, recorder)

    for n in range(5):
        await layer.send(channel, message(n))

    assert numbers(recorder.waiting()) == [0, 1, 2, 3, 4]


# --- RedisFanOutChannelLayer: several processes, seq order ---------------------------------------


@pytest.fixture(params=["redis", "cluster"])
def redis_kind_and_url(request) -> tuple[str, str]:
    return redis_kind(request, request.param)


async def harness_of(kind: str, redis_url: str, build: Callable[[str, str], Any]) -> AsyncIterator[Harness]:
    """A harness on the layer ``build(redis_url, prefix)`` makes, with a prefix of its own; flushed after."""
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    built = Harness(kind, build(redis_url, prefix), redis_url, prefix)
    yield built
    await built.layer.flush()


@pytest_asyncio.fixture
async def redis_harness(redis_kind_and_url) -> AsyncIterator[Harness]:
    async for built in harness_of(*redis_kind_and_url, redis_layer):
        yield built


@pytest.fixture
def patient_sequencer(monkeypatch) -> None:
    """An early seq waits for the one before it as long as a test waits for anything: how long the machine
    takes to publish the missing one is not what these tests are about (test_group_sequencer.py covers the wait)."""
    monkeypatch.setattr(sequencer, "SEQ_GAP_WAIT", ARRIVAL_TIMEOUT)


async def in_other_process(harness: Harness, publish: Callable[[Any], Awaitable[None]]) -> None:
    """``publish(layer)`` from another layer instance on its own event loop and thread: another server process
    as far as Redis and the layers can tell (its own connections, subscriptions and channel names)."""

    async def run() -> None:
        layer = redis_layer(harness.redis_url, harness.prefix)
        try:
            await publish(layer)
        finally:
            await layer.flush()

    await asyncio.to_thread(asyncio.run, run())


async def test_redis_a_message_sent_from_another_process_reaches_the_channel(redis_harness):
    channel = await redis_harness.channel()

    async def publish(layer) -> None:
        await layer.send(channel, message("from afar"))

    await in_other_process(redis_harness, publish)

    assert await redis_harness.receive(channel) == message("from afar")


async def test_redis_group_messages_of_two_processes_reach_each_member_once_in_each_ones_order(redis_harness):
    queued, attached, recorder = await redis_harness.channel(), await redis_harness.channel(), Recorder()
    redis_harness.layer.attach(attached, recorder)
    await redis_harness.join("room.1", queued)
    await redis_harness.join("room.1", attached)
    start = threading.Barrier(2)  # both publish at once

    def publisher(name: str) -> Callable[[Any], Awaitable[None]]:
        async def publish(layer) -> None:
            await asyncio.to_thread(start.wait)
            for n in range(25):
                await layer.group_send("room.1", message(f"{name}{n}", by=name))

        return publish

    await asyncio.gather(
        in_other_process(redis_harness, publisher("a")), in_other_process(redis_harness, publisher("b"))
    )

    for received in ([await redis_harness.receive(queued) for _ in range(50)], await recorder.take(50)):
        for name in ("a", "b"):
            assert numbers([m for m in received if m["by"] == name]) == [f"{name}{n}" for n in range(25)]


async def test_redis_seqs_published_out_of_order_by_two_processes_are_delivered_in_seq_order(
    redis_harness, patient_sequencer
):
    channel, recorder = await redis_harness.channel(), Recorder()
    redis_harness.layer.attach(channel, recorder)
    await redis_harness.join("room.1", channel)
    redis_harness.layer.expect_seq("room.1", 1)  # the room's last_seq + 1, as a connecting member read it

    def publisher(seq: int) -> Callable[[Any], Awaitable[None]]:
        async def publish(layer) -> None:
            await layer.group_send("room.1", message(f"seq {seq}", seq=seq))

        return publish

    await in_other_process(redis_harness, publisher(2))  # its publish overtook the other's
    await in_other_process(redis_harness, publisher(1))

    assert [m["seq"] for m in await recorder.take(2)] == [1, 2]


async def test_redis_without_a_known_start_seqs_after_the_first_heard_are_delivered_in_order(
    redis_harness, patient_sequencer
):
    channel = await redis_harness.channel()
    await redis_harness.join("room.1", channel)

    for seq in (5, 7, 6, 8):
        await redis_harness.layer.group_send("room.1", message(f"seq {seq}", seq=seq))

    assert [(await redis_harness.receive(channel))["seq"] for _ in range(4)] == [5, 6, 7, 8]


async def test_redis_events_without_seq_are_not_held_behind_a_group_in_order(redis_harness):
    channel = await redis_harness.channel()
    await redis_harness.join("room.1", channel)

    await redis_harness.layer.group_send("room.1", message("typing"))
    await redis_harness.layer.group_send("room.1", message("seq 1", seq=1))
    await redis_harness.layer.group_send("room.1", message("presence"))

    assert [(await redis_harness.receive(channel))["n"] for _ in range(3)] == ["typing", "seq 1", "presence"]


async def test_redis_a_group_of_one_local_member_keeps_its_channel_name_not_a_set(redis_harness):
    """Every socket is alone in its user's group: a set per such group was 0.2 KiB per idle socket."""
    first, second = await redis_harness.channel(), await redis_harness.channel()
    await redis_harness.join("user.1", first)
    await redis_harness.join("room.1", first)
    await redis_harness.join("room.1", second)
    groups = redis_harness.layer.groups  # the running loop's layer (RedisPubSubChannelLayer passes it on)

    assert groups[f"{redis_harness.prefix}__group__user.1"] == first
    assert groups[f"{redis_harness.prefix}__group__room.1"] == {first, second}
    await redis_harness.layer.group_discard("room.1", first)
    assert groups[f"{redis_harness.prefix}__group__room.1"] == second


async def test_redis_the_last_local_member_leaving_a_group_unsubscribes_this_process(redis_url):
    # One Redis (PUBSUB NUMSUB counts classic subscriptions; the cluster layer's are sharded).
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    redis_harness = Harness("redis", redis_layer(redis_url, prefix), redis_url, prefix)
    member = await redis_harness.channel()
    await redis_harness.join("room.1", member)
    client = aioredis.Redis.from_url(redis_harness.redis_url)
    name = f"{redis_harness.prefix}__group__room.1"
    try:
        await redis_harness.layer.group_discard("room.1", member)
        async with asyncio.timeout(ARRIVAL_TIMEOUT):
            while (await client.pubsub_numsub(name))[0][1] != 0:
                await asyncio.sleep(0.005)
        assert name not in redis_harness.layer.groups
    finally:
        await client.aclose()
        await redis_harness.layer.flush()


# --- RedisFanOutChannelLayer: a group message published by someone else's script --------------------------


async def test_redis_a_publication_published_by_another_client_reaches_the_group_as_group_send_would(
    redis_url, settings
):
    """``publications`` are what ``group_send`` would PUBLISH (presence publishes a connect's user_online from
    its own script with it): published by any client on that Redis, it reaches the members as a group_send."""
    settings.REDIS_URL = redis_url
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    harness = Harness("redis", redis_layer(redis_url, prefix), redis_url, prefix)
    member, recorder = await harness.channel(), Recorder()
    harness.layer.attach(member, recorder)
    await harness.join("room.7", member)
    client = aioredis.Redis.from_url(redis_url)
    try:
        [(channel, payload)] = harness.layer.publications([("room.7", message("scripted"))])
        await client.publish(channel, payload)

        assert await recorder.next() == message("scripted")
    finally:
        await client.aclose()
        await harness.layer.flush()


async def test_redis_a_layer_on_another_server_than_redis_url_hands_no_publications(redis_url, settings):
    settings.REDIS_URL = "redis://elsewhere.invalid:6379/0"
    layer = redis_layer(redis_url, "contract-elsewhere")

    assert layer.publications([("room.7", message(1))]) is None


async def test_redis_a_layer_on_several_servers_hands_no_publications(redis_url, settings):
    settings.REDIS_URL = redis_url
    layer = RedisFanOutChannelLayer(hosts=[redis_url, redis_url.rsplit("/", 1)[0] + "/1"], prefix="contract-two")

    assert layer.publications([("room.7", message(1))]) is None


async def test_cluster_the_layer_hands_no_publications(redis_cluster, settings):
    """Its channels are sharded: a script on the presence node cannot publish to another slot's channel."""
    settings.REDIS_URL = redis_cluster.url
    layer = redis_layer(redis_cluster.url, "contract-cluster")

    assert layer.publications([("room.7", message(1))]) is None


# --- RedisFanOutChannelLayer: groups sharing bucket channels (group_buckets) ------------------------------

BUCKETS = {"user.": 4}


def bucketed_layer(redis_url: str, prefix: str) -> RedisFanOutChannelLayer:
    """The layer as settings build it (USER_GROUP_BUCKETS), with four buckets so groups share them."""
    if redis_url.startswith("redis+cluster://"):
        return RedisClusterFanOutChannelLayer(hosts=[redis_url], prefix=prefix, group_buckets=BUCKETS)
    return RedisFanOutChannelLayer(hosts=[redis_url], prefix=prefix, group_buckets=BUCKETS)


@pytest_asyncio.fixture
async def bucketed(redis_kind_and_url) -> AsyncIterator[Harness]:
    async for built in harness_of(*redis_kind_and_url, bucketed_layer):
        yield built


def groups_sharing_a_bucket(layer, count: int) -> list[str]:
    """``count`` user groups whose messages go out on one and the same bucket channel."""
    by_bucket: dict[str, list[str]] = {}
    for user_id in range(1, 1000):
        group = f"user.{user_id}"
        by_bucket.setdefault(layer._bucket_of(group), []).append(group)
    return next(groups[:count] for groups in by_bucket.values() if len(groups) >= count)


async def join_bucketed(harness: Harness, group: str, channel: str) -> None:
    await harness.layer.group_add(group, channel)
    await harness._subscribed(harness.layer._bucket_of(group))


async def test_redis_a_bucketed_groups_message_reaches_its_members_and_no_other_group_of_the_bucket(bucketed):
    mine, other = groups_sharing_a_bucket(bucketed.layer, 2)
    member, stranger = await bucketed.channel(), await bucketed.channel()
    member_got, stranger_got = Recorder(), Recorder()
    bucketed.layer.attach(member, member_got)
    bucketed.layer.attach(stranger, stranger_got)
    await join_bucketed(bucketed, mine, member)
    await join_bucketed(bucketed, other, stranger)

    await bucketed.layer.group_send(mine, message("for me"))
    await bucketed.layer.group_send(other, message("for the other"))

    assert await member_got.next() == message("for me")
    assert await stranger_got.next() == message("for the other")
    assert member_got.waiting() == [] and stranger_got.waiting() == []


async def test_redis_the_groups_of_a_bucket_share_one_subscription(redis_url):
    """What bucketing is for: a process follows a bucket once, not once per user group (one classic Redis:
    PUBSUB CHANNELS lists classic subscriptions)."""
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    harness = Harness("redis", bucketed_layer(redis_url, prefix), redis_url, prefix)
    groups = groups_sharing_a_bucket(harness.layer, 5)
    client = aioredis.Redis.from_url(redis_url)
    try:
        for group in groups:
            await join_bucketed(harness, group, await harness.channel())

        subscribed = {name.decode() for name in await client.pubsub_channels(f"{prefix}*")}
        assert subscribed - {name for name in subscribed if name.endswith("!")} == {harness.layer._bucket_of(groups[0])}
    finally:
        await client.aclose()
        await harness.layer.flush()


async def test_redis_a_bucket_is_left_when_its_last_local_group_is(redis_url):
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    harness = Harness("redis", bucketed_layer(redis_url, prefix), redis_url, prefix)
    first, second = groups_sharing_a_bucket(harness.layer, 2)
    one, two = await harness.channel(), await harness.channel()
    await join_bucketed(harness, first, one)
    await join_bucketed(harness, second, two)
    bucket = harness.layer._bucket_of(first)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await harness.layer.group_discard(first, one)
        assert (await client.pubsub_numsub(bucket))[0][1] == 1  # the second group still wants it
        await harness.layer.group_discard(second, two)
        async with asyncio.timeout(ARRIVAL_TIMEOUT):
            while (await client.pubsub_numsub(bucket))[0][1] != 0:
                await asyncio.sleep(0.005)
        assert harness.layer.bucket_groups == {}
    finally:
        await client.aclose()
        await harness.layer.flush()


async def test_redis_a_bucketed_groups_message_from_another_process_reaches_its_member_once(bucketed):
    group, other_group = groups_sharing_a_bucket(bucketed.layer, 2)
    member, recorder = await bucketed.channel(), Recorder()
    bucketed.layer.attach(member, recorder)
    await join_bucketed(bucketed, group, member)

    async def publish(_) -> None:
        layer = bucketed_layer(bucketed.redis_url, bucketed.prefix)
        try:
            await layer.group_send(other_group, message("not mine"))
            await layer.group_send(group, message("mine"))
        finally:
            await layer.flush()

    await in_other_process(bucketed, publish)

    assert await recorder.next() == message("mine")
    await asyncio.sleep(0.05)
    assert recorder.waiting() == []


async def test_redis_a_bucketed_groups_publication_published_by_another_client_reaches_it(redis_url, settings):
    settings.REDIS_URL = redis_url
    prefix = f"contract{uuid.uuid4().hex[:8]}"
    harness = Harness("redis", bucketed_layer(redis_url, prefix), redis_url, prefix)
    member, recorder = await harness.channel(), Recorder()
    harness.layer.attach(member, recorder)
    await join_bucketed(harness, "user.7", member)
    client = aioredis.Redis.from_url(redis_url)
    try:
        [(channel, payload)] = harness.layer.publications([("user.7", message("scripted"))])
        assert channel == harness.layer._bucket_of("user.7")
        await client.publish(channel, payload)

        assert await recorder.next() == message("scripted")
    finally:
        await client.aclose()
        await harness.layer.flush()
