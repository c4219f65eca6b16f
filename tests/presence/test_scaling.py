"""How presence scales: fixed queries per event, and the fan-out measured (figures printed, not asserted)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from chat import actions as chat_actions
from presence import actions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def large_rooms_at_once(settings):
    """These tests measure crowds: their rooms are made with all members at once, past the spam limits."""
    settings.ROOM_MEMBERS_ADD_MAX = 1000
    settings.RATE_LIMIT_MEMBER_ADDS = 0


def bulk_users(count: int) -> list:
    """Users without password hashing (hundreds of PBKDF2 hashes would dominate the run)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.bulk_create([User(username=f"crowd{n}", display_name=f"Crowd {n}") for n in range(count)])


@pytest.fixture
def crowd(ann):
    """Ann in a room with 150 others, and in a second room with 20 of them."""
    others = bulk_users(150)
    big = chat_actions.create_group_room(ann, name="All hands", members=[u.id for u in others])["id"]
    small = chat_actions.create_group_room(ann, name="Team", members=[u.id for u in others[:20]])["id"]
    return others, {big, small}


def test_an_offline_event_costs_three_queries_and_one_message_per_room(ann, crowd, django_assert_num_queries):
    others, rooms = crowd
    with django_assert_num_queries(3):  # upsert last_seen, rooms of the subject, the subject with presence
        messages = actions.went_offline({ann.id: datetime.now(UTC)})
    assert sorted(group for group, _ in messages) == sorted(f"room.{room}" for room in rooms)
    assert len({message["eid"] for _, message in messages}) == 1


def test_a_sweep_of_many_users_costs_the_same_three_queries(ann, crowd, django_assert_num_queries):
    others, _ = crowd
    now = datetime.now(UTC)
    with django_assert_num_queries(3):
        actions.went_offline({user.id: now for user in [ann, *others]})


def test_the_ready_snapshot_costs_one_query_and_the_co_member_lookup_one(ann, crowd, django_assert_num_queries):
    others, rooms = crowd
    with django_assert_num_queries(1):
        co_members = actions.co_member_ids(rooms)
    assert len(co_members) == 151
    with django_assert_num_queries(1):
        snapshot = actions.connection_snapshot(ann, co_members, [(min(rooms), others[0].id)])
    assert len(snapshot["presence"]) == 151
    assert snapshot["typing"][0]["user"]["id"] == others[0].id


@pytest.mark.redis
async def test_fan_out_figures_per_room_group_against_per_user_group(redis_url, capsys):
    """One presence event to M co-members, on the Redis channel layer.

    Per room group: one group_send; the layer pushes to the M channels in one
    Redis script. Per user group: M group_sends, each a round trip.
    """
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    lines = []
    for members in (10, 100, 1000):
        room = f"bench.room.{members}"
        channels = [await layer.new_channel() for _ in range(members)]
        for index, channel in enumerate(channels):
            await layer.group_add(room, channel)
            await layer.group_add(f"bench.user.{members}.{index}", channel)
        message = {"type": "presence.frame", "frame": "{}", "eid": "x", "exclude_user": None}
        started = time.perf_counter()
        await layer.group_send(room, message)
        per_room = time.perf_counter() - started
        started = time.perf_counter()
        for index in range(members):
            await layer.group_send(f"bench.user.{members}.{index}", message)
        per_user = time.perf_counter() - started
        lines.append(
            f"{members:>5} co-members: per room group {per_room * 1000:7.1f} ms,"
            f" per user group {per_user * 1000:7.1f} ms"
        )
        await layer.flush()
    with capsys.disabled():
        print("\nOne presence event, Redis core layer, this machine:\n" + "\n".join(lines))


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_connection_figures_with_a_thousand_co_members_online(redis_url, ann, capsys):
    """What one connection costs when 1000 users share a room with it and all are online (figures printed)."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from presence import realtime, store

    others = await sync_to_async(bulk_users)(1000)
    room = await sync_to_async(chat_actions.create_group_room)(ann, name="Everyone", members=[u.id for u in others])
    client = store.async_client()
    for user in others:  # connected through another, live, server process
        keys = (store.PROCS_KEY, f"{store.PREFIX}proc:other", f"{store.PREFIX}user:{user.id}")
        await client.eval(store._ADD, 3, *keys, "other", f"elsewhere.{user.id}", user.id, time.time() + 600)
    layer = get_channel_layer()

    class Consumer:  # the attributes the hooks read (a real consumer would also open a socket)
        user = ann
        room_ids = {room["id"]}
        channel_layer = layer

    consumer = Consumer()
    consumer.channel_name = await layer.new_channel()
    started = time.perf_counter()
    ready = await realtime.connection_opened(consumer)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    await realtime.connection_closed(consumer)
    closed = time.perf_counter() - started
    assert len(ready["presence"]) == 1001
    with capsys.disabled():
        print(
            f"\n1000 online co-members: connection_opened {opened * 1000:.0f} ms (ready lists 1001 presences,"
            f" {len(json.dumps(ready)) // 1024} KiB), connection_closed {closed * 1000:.0f} ms (1 group_send)"
        )
