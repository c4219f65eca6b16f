"""Who of many users is online: one Redis script per slice of ``ONLINE_CHECK_SLICE`` users, never one long script."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.redis import sync_client
from presence import store

pytestmark = pytest.mark.redis


def _record_online(user_ids: list[int]) -> None:
    client = sync_client()
    pid = "elsewhere:1:online-check"
    for user_id in user_ids:
        keys = (store.PROCS_KEY, f"{store.PREFIX}proc:{pid}", f"{store.PREFIX}user:{user_id}")
        client.eval(store._ADD, 3, *keys, pid, f"conn.{user_id}", user_id, time.time() + 600)


def _online_scripts_seen(run) -> list[int]:
    """How many users each online-check script Redis ran during ``run()`` asked about (from its slow log,
    set to log all: a script's own ``EXISTS`` calls are logged before the script)."""
    client = sync_client()
    kept = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 10_000)
    client.slowlog_reset()
    try:
        run()
        entries = client.slowlog_get(10_000)
    finally:
        for name, value in kept.items():
            client.config_set(name, value)
    asked_per_script, asked = [], 0
    for entry in sorted(entries, key=lambda entry: entry["id"]):
        command = entry["command"]
        if command.startswith(b"EXISTS "):
            asked += 1
        elif command.lower().startswith(b"eval") and b"EXISTS" in command:
            asked_per_script.append(asked)
            asked = 0
    return sorted(asked_per_script)


@pytest.fixture
def many_users(redis_url):
    online = list(range(900_001, 900_001 + 2 * store.ONLINE_CHECK_SLICE + 3, 2))
    _record_online(online)
    yield online
    sync_client().delete(*[f"{store.PREFIX}user:{user_id}" for user_id in online])


def test_an_online_check_past_one_slice_answers_for_every_user(many_users):
    asked = list(range(900_001, 900_001 + 2 * store.ONLINE_CHECK_SLICE + 3))

    assert store.online_user_ids_sync(asked) == set(many_users)


def test_an_online_check_runs_one_script_per_slice(many_users):
    asked = list(range(900_001, 900_001 + 2 * store.ONLINE_CHECK_SLICE + 3))
    slice_ = store.ONLINE_CHECK_SLICE

    assert _online_scripts_seen(lambda: store.online_user_ids_sync(asked)) == [3, slice_, slice_]


async def test_the_async_online_check_slices_the_same_way(many_users):
    asked = list(range(900_001, 900_001 + 2 * store.ONLINE_CHECK_SLICE + 3))

    assert await store.online_user_ids(asked) == set(many_users)


async def test_a_connect_records_itself_and_asks_about_every_user_past_one_slice(many_users):
    asked = list(range(900_001, 900_001 + 2 * store.ONLINE_CHECK_SLICE + 3))
    try:
        came_online, online, *_ = await store.add_connection_and_ask(899_999, "conn.asking", asked)

        assert came_online is True
        assert online == set(many_users)
        assert await store.online_user_ids([899_999]) == {899_999}
    finally:
        await store.remove_connection(899_999, "conn.asking")


async def test_a_second_connection_of_an_online_user_is_not_news_and_sees_the_first(backend):
    try:
        assert await store.add_connection_and_ask(899_998, "conn.first", []) == (True, set(), [], False)
        assert await store.add_connection_and_ask(899_998, "conn.second", [899_998]) == (False, {899_998}, [], False)
    finally:
        await store.remove_connection(899_998, "conn.first")
        await store.remove_connection(899_998, "conn.second")


def test_a_connect_names_three_keys_whatever_how_many_co_members_it_asks_about(redis_url):
    """The ids asked about travel in one argument (packing a key per co-member cost a connect 70 us)."""
    asked = list(range(900_001, 900_101))

    async def connect_and_leave():
        from core.redis import async_client

        try:
            await store.add_connection_and_ask(899_997, "conn.keys", asked)
            await store.remove_connection(899_997, "conn.keys")
        finally:
            await async_client().aclose()

    client = sync_client()
    kept = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 10_000)  # the script's own EXISTS calls are logged too
    client.slowlog_reset()
    try:
        asyncio.run(connect_and_leave())
        # Each entry's words as sent (id, time, duration, words, ...): the script's text is cut short.
        entries = client.execute_command("SLOWLOG", "GET", 10_000)
    finally:
        for name, value in kept.items():
            client.config_set(name, value)
    connects = [entry[3] for entry in entries if entry[3][0] == b"EVAL" and b"ZADD" in entry[3][1]]

    assert [words[2] for words in connects] == [b"3"]


def test_who_is_online_and_typing_is_answered_alike_on_one_redis_and_on_a_cluster(any_redis):
    online = [900_201, 900_203]

    async def main():
        from core.redis import async_client

        try:
            for user_id in online:
                await store.add_connection(user_id, f"conn.{user_id}")
            await store.typing_start(990_010, online[0])
            came_online, seen, typing, _ = await store.add_connection_and_ask(
                900_200, "conn.asker", range(900_201, 900_205), [990_010, 990_011]
            )
            # Ten times: a script that named no key would go to a random slot each call, and on a cluster
            # of three masters would reach the {presence} node by luck a third of the time.
            answers = [await store.online_user_ids(range(900_200, 900_205)) for _ in range(10)]
            return came_online, seen, typing, answers
        finally:
            await store.typing_stop(990_010, online[0])
            for user_id in online:
                await store.remove_connection(user_id, f"conn.{user_id}")
            await store.remove_connection(900_200, "conn.asker")
            await async_client().aclose()

    assert asyncio.run(main()) == (True, set(online), [(990_010, online[0])], [{900_200, *online}] * 10)


def _commands_sent_while(run) -> list[str]:
    """The commands clients sent Redis while ``run()`` ran, as MONITOR shows them (those a script
    itself calls left out), up to a marker sent after it."""
    client = sync_client()
    with client.monitor() as monitor:
        run()
        client.echo("monitor-end")
        commands = []
        while (seen := monitor.next_command())["command"] != "ECHO monitor-end":
            if seen["client_type"] != "lua":
                commands.append(seen["command"].split(" ", 1)[0].upper())
    return commands


TYPING_ROOMS = [990_001, 990_002, 990_003]


def test_a_connect_reads_who_types_in_its_rooms_within_its_one_script(redis_url):
    """A round trip fewer per connect: the typists of its rooms come back with its own record."""

    async def type_then_connect():
        from core.redis import async_client

        try:
            await store.typing_start(TYPING_ROOMS[0], 900_301)
            await store.typing_start(TYPING_ROOMS[2], 900_302)
            await store.typing_start(TYPING_ROOMS[2], 900_303)
            return await store.add_connection_and_ask(900_300, "conn.typing", [900_301], TYPING_ROOMS)
        finally:
            await store.remove_connection(900_300, "conn.typing")
            for room_id, user_id in [
                (TYPING_ROOMS[0], 900_301),
                (TYPING_ROOMS[2], 900_302),
                (TYPING_ROOMS[2], 900_303),
            ]:
                await store.typing_stop(room_id, user_id)
            await async_client().aclose()

    found = []
    sent = _commands_sent_while(lambda: found.append(asyncio.run(type_then_connect())))

    came_online, online, typing, _ = found[0]
    assert (came_online, online) == (True, set())
    assert sorted(typing) == [(TYPING_ROOMS[0], 900_301), (TYPING_ROOMS[2], 900_302), (TYPING_ROOMS[2], 900_303)]
    # Three typing_starts, the connect, its removal and three typing_stops: no read of its own for typing.
    assert [command for command in sent if command in {"EVAL", "EVALSHA", "ZRANGEBYSCORE"}] == ["EVAL"] * 8


async def test_a_connect_in_more_rooms_than_one_slice_reads_the_typists_of_every_room(redis_url, monkeypatch):
    monkeypatch.setattr(store, "ONLINE_CHECK_SLICE", 2)
    try:
        await store.typing_start(TYPING_ROOMS[2], 900_311)
        recorded = await store.add_connection_and_ask(900_310, "conn.rooms", [], TYPING_ROOMS)
    finally:
        await store.remove_connection(900_310, "conn.rooms")
        await store.typing_stop(TYPING_ROOMS[2], 900_311)

    assert recorded.typing == [(TYPING_ROOMS[2], 900_311)]


def _published_while(channel: str, run) -> list[bytes]:
    """What was published on ``channel`` while ``run()`` ran (a subscriber of its own, on the same Redis)."""
    pubsub = sync_client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    try:
        pubsub.get_message(timeout=1)  # the subscription's confirmation
        run()
        received = []
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            received.append(message["data"])
        return received
    finally:
        pubsub.close()


def test_a_connect_publishes_the_announcement_it_is_given_only_when_its_user_comes_online(redis_url):
    """The user_online goes out from the script that records the connection: exactly once per real
    transition, with no round trip of its own."""
    announce = [("test.announce.room", b"user 900_400 online")]

    async def two_tabs():
        from core.redis import async_client

        try:
            first = await store.add_connection_and_ask(900_400, "conn.tab1", [], (), announce)
            second = await store.add_connection_and_ask(900_400, "conn.tab2", [], (), announce)
            return first.announced, second.announced
        finally:
            await store.remove_connection(900_400, "conn.tab1")
            await store.remove_connection(900_400, "conn.tab2")
            await async_client().aclose()

    outcome = []
    published = _published_while("test.announce.room", lambda: outcome.append(asyncio.run(two_tabs())))

    assert outcome == [(True, False)]
    assert published == [b"user 900_400 online"]


def test_a_connect_sends_no_publish_of_its_own_for_its_announcement(redis_url):
    async def connect():
        from core.redis import async_client

        try:
            await store.add_connection_and_ask(900_410, "conn.quiet", [], (), [("test.announce.quiet", b"online")])
        finally:
            await store.remove_connection(900_410, "conn.quiet")
            await async_client().aclose()

    sent = _commands_sent_while(lambda: asyncio.run(connect()))

    assert "PUBLISH" not in sent
    assert sent.count("EVAL") == 2  # the connect's script and the removal's
