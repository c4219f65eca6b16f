"""Who of many users is online: one Redis script per slice of ``ONLINE_CHECK_SLICE`` users, never one long script."""

from __future__ import annotations

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
    """The key counts of the online-check scripts Redis ran during ``run()`` (from its slow log, set to log all)."""
    client = sync_client()
    kept = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 10_000)  # the scripts' own EXISTS calls are logged too
    client.slowlog_reset()
    try:
        run()
        entries = client.slowlog_get(10_000)
    finally:
        for name, value in kept.items():
            client.config_set(name, value)
    # An entry is the command's words joined by spaces: the script's text, then the number of keys.
    scripts = [entry["command"] for entry in entries if entry["command"].lower().startswith(b"eval")]
    return sorted(int(text.split(b"return flags", 1)[1].split()[0]) for text in scripts if b"return flags" in text)


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
        came_online, online = await store.add_connection_and_ask(899_999, "conn.asking", asked)

        assert came_online is True
        assert online == set(many_users)
        assert await store.online_user_ids([899_999]) == {899_999}
    finally:
        await store.remove_connection(899_999, "conn.asking")


async def test_a_second_connection_of_an_online_user_is_not_news_and_sees_the_first(backend):
    try:
        assert await store.add_connection_and_ask(899_998, "conn.first", []) == (True, set())
        assert await store.add_connection_and_ask(899_998, "conn.second", [899_998]) == (False, {899_998})
    finally:
        await store.remove_connection(899_998, "conn.first")
        await store.remove_connection(899_998, "conn.second")
