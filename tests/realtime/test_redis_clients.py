"""The shared Redis clients belong to one process and, for async ones, to one event loop."""

from __future__ import annotations

import asyncio
import gc
import os
import weakref

import pytest

from core.redis import async_client, sync_client

from .forking import in_forked_child

pytestmark = pytest.mark.redis


async def _ping() -> bool:
    return await async_client().ping()


def test_each_event_loop_in_turn_gets_a_working_client(redis_url):
    for _ in range(20):  # every asyncio.run is a new loop, closed at its end
        assert asyncio.run(_ping()) is True


def test_the_client_of_a_closed_loop_is_let_go(redis_url):
    first_loop = asyncio.new_event_loop()
    assert first_loop.run_until_complete(_ping()) is True
    first_loop.close()
    released = weakref.ref(first_loop)
    del first_loop

    assert asyncio.run(_ping()) is True  # a client for the next loop
    gc.collect()

    assert released() is None


async def test_one_loop_keeps_one_client(redis_url):
    assert async_client() is async_client()


def test_a_forked_child_gets_a_sync_client_of_its_own(redis_url):
    parent_client = sync_client()
    parent_client.ping()

    def child() -> tuple[bool, bool, bool]:
        client = sync_client()
        return client is not parent_client, client.connection_pool.pid == os.getpid(), client.ping()

    assert in_forked_child(child) == (True, True, True)
    assert sync_client() is parent_client
    assert parent_client.ping() is True
