"""Shared Redis clients, one pool per process and per flavour (sync, async).

Every Redis-backed store (rate limits, presence, typing, history cache) gets
its client here, so timeouts and pool sizes are set in one place. None when
``REDIS_URL`` is unset: callers then use their in-process stores.
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed

_sync_client: redis.Redis | None = None
_async_clients: dict[int, aioredis.Redis] = {}


def sync_client() -> redis.Redis | None:
    global _sync_client
    if not settings.REDIS_URL:
        return None
    if _sync_client is None:
        _sync_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
    return _sync_client


def async_client() -> aioredis.Redis | None:
    """A client bound to the running event loop (asyncio pools cannot cross loops)."""
    if not settings.REDIS_URL:
        return None
    loop_id = id(asyncio.get_running_loop())
    client = _async_clients.get(loop_id)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5, health_check_interval=30)
        _async_clients[loop_id] = client
    return client


def reset_clients() -> None:
    """Forget clients (tests switch REDIS_URL between runs)."""
    global _sync_client
    _sync_client = None
    _async_clients.clear()


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        reset_clients()


setting_changed.connect(_on_setting_changed)
