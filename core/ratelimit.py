"""Sliding-window limits, one counter for every process and every transport.

A sliding window: the timestamps of the recent events under a key, in a Redis
sorted set when Redis is configured (one atomic script, so two processes
cannot both take the last slot), else in this process's memory.
``take`` counts an event if the budget allows; ``wait_for`` only reads the
budget (for limits that count failures after the fact, like sign-in).
``check_send_rate`` is the per-user message limit built on them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict, deque

from django.conf import settings
from redis.exceptions import RedisError

from core.redis import sync_client

from .errors import ActionError
from .throttled_log import warn_once_per

logger = logging.getLogger(__name__)

_SLIDING_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

# The seconds until a slot frees when the window is full, else 0; counts nothing.
_PEEK = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""

_local_lock = threading.Lock()
_local_log: dict[str, deque[float]] = defaultdict(deque)
_counter = 0


def _local_wait(key: str, now: float, window: float, limit: int, *, count: bool) -> float:
    with _local_lock:
        log = _local_log[key]
        while log and log[0] <= now - window:
            log.popleft()
        if len(log) < limit:
            if count:
                log.append(now)
            return 0.0
        return log[0] + window - now


def _wait(key: str, limit: int, window: float, *, count: bool) -> float:
    global _counter
    now = time.time()
    client = sync_client()
    if client is None:
        return _local_wait(key, now, window, limit, count=count)
    try:
        if not count:
            return float(client.eval(_PEEK, 1, key, now, window, limit))
        _counter += 1
        member = f"{now:.6f}:{threading.get_ident()}:{_counter}"
        return float(client.eval(_SLIDING_WINDOW, 1, key, now, window, limit, member))
    except RedisError as error:
        # Fail open: the database, not Redis, decides whether chat works; a limit is skipped
        # for as long as Redis is away, and said so once in a while.
        warn_once_per(logger, "ratelimit", 30, "Rate limits skipped: Redis unavailable (%s)", error)
        return 0.0


def take(key: str, limit: int, window: float) -> int:
    """Count one event under ``key`` if fewer than ``limit`` happened in the last ``window`` seconds.

    Returns 0 when it was counted, else the whole seconds (at least 1) until
    a slot frees; nothing is counted then. A ``limit`` of 0 or less is no limit.
    """
    if limit <= 0:
        return 0
    return _whole_seconds(_wait(key, limit, float(window), count=True))


def wait_for(key: str, limit: int, window: float) -> int:
    """The seconds ``take`` would report for ``key`` now (0: there is room), counting nothing."""
    if limit <= 0:
        return 0
    return _whole_seconds(_wait(key, limit, float(window), count=False))


def _whole_seconds(wait: float) -> int:
    return max(1, math.ceil(wait)) if wait > 0 else 0


def check_send_rate(user_id: int) -> None:
    """Count one send for the user, or raise ``rate_limited`` with ``retry_after``."""
    limit = settings.RATE_LIMIT_MESSAGES
    window = settings.RATE_LIMIT_WINDOW
    retry_after = take(f"confab:rate:send:{user_id}", limit, window)
    if retry_after:
        raise ActionError(
            "rate_limited",
            f"Too many messages: at most {limit} every {int(window)} s. Try again in {retry_after} s.",
            retry_after=retry_after,
        )


def reset_local() -> None:
    with _local_lock:
        _local_log.clear()


def take_slot(bucket: str, subject: object, *, limit: int, window: float) -> float:
    """Count one event of ``subject`` in the sliding window ``bucket``; 0 when allowed, else the seconds to wait.

    The general form of ``check_send_rate``, for any per-subject budget
    (uploads, ...): the same Redis script across processes, the in-process
    log without Redis, and open (0) while Redis is unreachable. ``limit`` 0
    or below means no limit.
    """
    if limit <= 0:
        return 0.0
    return _wait(f"confab:rate:{bucket}:{subject}", limit, float(window), count=True)


def check_rate(bucket: str, subject: object, *, limit: int, window: float, what: str) -> None:
    """``take_slot``, raising ``rate_limited`` with ``retry_after`` (whole seconds) when the window is full.

    ``what`` names the counted thing in the message ("uploads").
    """
    wait = take_slot(bucket, subject, limit=limit, window=window)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise ActionError(
            "rate_limited",
            f"Too many {what}: at most {limit} every {int(window)} s. Try again in {retry_after} s.",
            retry_after=retry_after,
        )
