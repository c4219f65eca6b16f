"""The pipelined Redis connection under faults: a Redis paused (SIGSTOP) or killed for real, and a full pipeline.

Every wait is bounded: a paused Redis fails the waiting commands after the
timeout, a dead one at once, and past ``max_pending`` a command is refused
before it is written. No command is sent twice.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis
from redis import exceptions as errors

from core.redis_pipeline import PipelinedRedis

pytestmark = pytest.mark.redis


def _pipeline(private_redis, **options) -> PipelinedRedis:
    return PipelinedRedis("127.0.0.1", private_redis.port, **options)


def _paused(private_redis):
    private_redis.process.send_signal(signal.SIGSTOP)


def _resumed(private_redis):
    private_redis.process.send_signal(signal.SIGCONT)


async def test_a_redis_that_stops_answering_fails_every_waiting_command_after_the_timeout(private_redis):
    pipeline = _pipeline(private_redis, timeout=0.5)
    await pipeline.execute("PING")
    _paused(private_redis)
    try:
        waiting = [asyncio.ensure_future(pipeline.execute("INCR", "counter")) for _ in range(3)]
        results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)
    finally:
        _resumed(private_redis)

    assert [type(result) for result in results] == [errors.TimeoutError] * 3
    assert "did not answer within 0.5 s" in str(results[0])


async def test_after_a_timeout_the_connection_is_kept_and_what_follows_runs_after_the_late_command(private_redis):
    pipeline = _pipeline(private_redis, timeout=0.5)
    await pipeline.execute("SET", "counter", 0)
    connection = pipeline._replies
    _paused(private_redis)
    try:
        with pytest.raises(errors.TimeoutError):
            await asyncio.wait_for(pipeline.execute("INCR", "counter"), 5)
    finally:
        _resumed(private_redis)

    # The late command ran once when Redis came back, before the next one on the same connection; its reply
    # was dropped, and nothing was sent again.
    assert await pipeline.execute("GET", "counter") == b"1"
    assert pipeline._replies is connection and not connection.lost


async def test_a_command_sent_after_late_ones_fails_after_its_own_timeout(private_redis):
    pipeline = _pipeline(private_redis, timeout=0.3, drop_after=60)
    await pipeline.execute("PING")
    _paused(private_redis)
    try:
        with pytest.raises(errors.TimeoutError):
            await asyncio.wait_for(pipeline.execute("PING"), 5)
        with pytest.raises(errors.TimeoutError, match="within 0.3 s"):  # not after the drop, a minute on
            await asyncio.wait_for(pipeline.execute("PING"), 5)
    finally:
        _resumed(private_redis)


async def test_a_connection_that_answers_nothing_for_drop_after_is_dropped_and_the_next_command_reconnects(
    private_redis,
):
    pipeline = _pipeline(private_redis, timeout=0.2, drop_after=0.6)
    await pipeline.execute("PING")
    connection = pipeline._replies
    _paused(private_redis)
    try:
        with pytest.raises(errors.TimeoutError):
            await asyncio.wait_for(pipeline.execute("PING"), 5)
        await asyncio.sleep(0.8)
        assert connection.lost
    finally:
        _resumed(private_redis)

    assert await pipeline.execute("PING") == b"PONG"
    assert pipeline._replies is not connection


async def test_a_killed_redis_fails_the_waiting_commands_at_once_with_connection_error(private_redis):
    pipeline = _pipeline(private_redis, timeout=30)
    await pipeline.execute("PING")
    _paused(private_redis)  # so the commands are still waiting when it dies
    waiting = [asyncio.ensure_future(pipeline.execute("PING")) for _ in range(3)]
    await asyncio.sleep(0.05)
    private_redis.kill()

    results = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)

    assert [type(result) for result in results] == [errors.ConnectionError] * 3


async def test_a_command_after_redis_came_back_connects_again(private_redis):
    pipeline = _pipeline(private_redis)
    await pipeline.execute("PING")
    private_redis.kill()
    await asyncio.sleep(0.1)  # the connection's loss is seen
    with pytest.raises(errors.ConnectionError):
        await pipeline.execute("PING")

    private_redis.start()

    assert await pipeline.execute("PING") == b"PONG"


async def test_past_max_pending_a_command_is_refused_before_it_is_written(private_redis):
    pipeline = _pipeline(private_redis, timeout=30, max_pending=2)
    await pipeline.execute("SET", "counter", 0)
    _paused(private_redis)
    try:
        waiting = [asyncio.ensure_future(pipeline.execute("INCR", "counter")) for _ in range(2)]
        await asyncio.sleep(0.05)

        with pytest.raises(errors.ConnectionError, match="2 Redis commands wait already"):
            await pipeline.execute("INCR", "counter")
    finally:
        _resumed(private_redis)

    assert await asyncio.wait_for(asyncio.gather(*waiting), 5) == [1, 2]
    assert redis.Redis(port=private_redis.port).get("counter") == b"2"  # the refused one never ran


async def test_connecting_to_a_redis_that_does_not_answer_gives_up_after_the_connect_timeout(private_redis):
    _paused(private_redis)  # the kernel accepts the connection; nothing answers SELECT
    try:
        pipeline = PipelinedRedis("127.0.0.1", private_redis.port, db=1, connect_timeout=0.5)
        with pytest.raises(errors.ConnectionError, match=r"Could not connect .* \(timed out\)"):
            await asyncio.wait_for(pipeline.execute("PING"), 5)
    finally:
        _resumed(private_redis)
