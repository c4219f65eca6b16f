"""The pipelined Redis connection (``core.redis_pipeline``): many commands on one connection, against a real Redis.

Its faults (a Redis that stops answering, one that dies, a full pipeline) are
in ``tests/faults/test_redis_pipeline_faults.py``.
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from redis import exceptions as errors

from core.redis import async_client, async_pipeline
from core.redis_pipeline import PipelinedRedis, pack_command
from presence import store

pytestmark = pytest.mark.redis

# Every kind of reply a script can give: integers, bulk strings, nil (false), nested arrays, a status.
SHAPES = """
return {1, -7, 'text', ARGV[1], false, {KEYS[1], {ARGV[2], 3}}, redis.status_reply('FINE'), ''}
"""


async def test_a_script_reply_is_what_redis_pys_client_returns(redis_url):
    args = (SHAPES, 1, "the-key", "héllo", 2.5)

    assert await async_pipeline().eval(*args) == await async_client().eval(*args)


async def test_arguments_are_encoded_as_redis_py_encodes_them(redis_url):
    echo = "return ARGV"
    args = ("text", "ünï", b"\x00\xff", 12, -3, 0.1, 1e100)

    assert await async_pipeline().eval(echo, 0, *args) == await async_client().eval(echo, 0, *args)


def test_an_argument_of_another_type_is_refused_before_anything_is_sent():
    for value in (None, True, [1], {"a": 1}):
        with pytest.raises(TypeError, match="bytes, str, int or float"):
            pack_command(("SET", "key", value))


async def test_commands_sent_at_once_each_get_their_own_reply_on_one_connection(redis_url):
    pipeline = async_pipeline()
    await pipeline.execute("PING")
    connection = pipeline._replies

    replies = await asyncio.gather(*(pipeline.eval("return ARGV[1]", 0, n) for n in range(500)))

    assert replies == [str(n).encode() for n in range(500)]
    assert pipeline._replies is connection and not connection.lost


async def test_an_error_inside_an_array_is_returned_in_it_as_redis_py_returns_it(redis_url):
    script = "return {1, redis.error_reply('inner'), 'after'}"

    ours, theirs = await async_pipeline().eval(script, 0), await async_client().eval(script, 0)

    assert [type(item) for item in ours] == [type(item) for item in theirs] == [int, errors.ResponseError, bytes]
    assert str(ours[1]) == str(theirs[1]) == "inner"


async def test_an_error_reply_raises_and_the_next_command_still_gets_its_own_reply(redis_url):
    pipeline = async_pipeline()

    with pytest.raises(errors.ResponseError, match="boom"):
        await pipeline.eval("return redis.error_reply('boom')", 0)
    assert await pipeline.eval("return 5", 0) == 5


async def test_a_caller_that_gave_up_leaves_the_replies_of_the_others_matched(redis_url):
    pipeline = async_pipeline()
    await pipeline.eval("return 0", 0)  # connected
    abandoned = asyncio.ensure_future(pipeline.eval("return 'abandoned'", 0))
    await asyncio.sleep(0)  # written, its reply not yet read
    abandoned.cancel()

    assert await pipeline.eval("return 'mine'", 0) == b"mine"
    assert abandoned.cancelled()


async def test_the_url_s_database_is_selected(redis_url, settings):
    settings.REDIS_URL = redis_url.rsplit("/", 1)[0] + "/14"
    try:
        await async_pipeline().execute("SET", "pipeline-db-check", "14")
        assert await async_client().get("pipeline-db-check") == b"14"
        await async_client().delete("pipeline-db-check")
    finally:
        await async_client().aclose()


async def test_a_password_the_server_refuses_fails_the_command_with_redis_pys_error(redis_url):
    import redis.asyncio as aioredis

    port = int(redis_url.split(":")[2].split("/")[0])
    with pytest.raises(errors.RedisError) as theirs:
        await aioredis.Redis(port=port, password="wrong").ping()

    with pytest.raises(errors.RedisError) as ours:
        await PipelinedRedis("127.0.0.1", port, password="wrong").execute("PING")

    assert type(ours.value) is type(theirs.value)
    assert isinstance(ours.value, errors.AuthenticationError)


async def test_a_redis_that_is_not_there_fails_the_command_with_connection_error():
    from tests.conftest import free_port

    pipeline = PipelinedRedis("127.0.0.1", free_port(), connect_timeout=2)

    with pytest.raises(errors.ConnectionError, match="Could not connect"):
        await pipeline.execute("PING")


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://127.0.0.1:7000", "rediss://127.0.0.1:6379/0", "unix:///tmp/redis.sock?db=0"],
)
async def test_urls_only_redis_pys_client_serves_have_no_pipeline(settings, url):
    settings.REDIS_URL = url

    assert async_pipeline() is None


async def test_one_loop_keeps_one_pipeline(redis_url):
    assert async_pipeline() is async_pipeline()


def test_each_event_loop_gets_a_pipeline_of_its_own_and_a_closed_loops_is_let_go(redis_url):
    async def pipeline_answering():
        pipeline = async_pipeline()
        assert await pipeline.execute("PING") == b"PONG"
        pipeline.close()
        return pipeline

    first_loop = asyncio.new_event_loop()
    first = first_loop.run_until_complete(pipeline_answering())
    first_loop.close()
    released = weakref.ref(first_loop)
    del first_loop

    assert asyncio.run(pipeline_answering()) is not first
    gc.collect()
    assert released() is None


async def test_a_connect_and_a_close_of_a_socket_go_through_the_pipeline(redis_url):
    pipeline = async_pipeline()

    recorded = await store.add_connection_and_ask(1, "conn-1", [2, 3])
    assert recorded.came_online and pipeline._replies is not None
    pipeline.close()  # the close must connect it again to be answered

    assert await store.remove_connection(1, "conn-1") is True
    assert pipeline._replies is not None and not pipeline._replies.lost


async def test_a_connection_already_lost_refuses_a_command_instead_of_leaving_it_unanswered(redis_url):
    pipeline = async_pipeline()
    await pipeline.execute("PING")
    replies = pipeline._replies
    pipeline.close()

    with pytest.raises(errors.ConnectionError, match="was not sent"):
        replies.send(pack_command(("PING",)))
    assert not replies.waiting


async def test_a_connection_being_made_when_the_pipeline_is_closed_is_not_kept(redis_url):
    pipeline = async_pipeline()
    pipeline.close()  # nothing open yet
    waiting = asyncio.ensure_future(pipeline.execute("PING"))
    await asyncio.sleep(0)  # the connection is being made
    pipeline.close()

    with pytest.raises(errors.ConnectionError):
        await waiting
    assert pipeline._replies is None
    assert await pipeline.execute("PING") == b"PONG"  # the next command connects again
