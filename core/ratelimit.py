"""Sliding-window rate limits, one counter for every process and every transport.

A sliding window: the timestamps of the recent events under a key, in a Redis
sorted set when Redis is configured (one atomic script, so two processes
cannot both take the last slot), else in this process's memory; while Redis
is unreachable every limit lets actions through (the database, not Redis,
decides whether chat works). ``BUDGETS`` holds the per-user limit of every
state change, taken by ``take_slots`` (several at once, all or none) in each
action's ``check_*``; ``take`` / ``wait_for`` / ``check_rate`` are the general
forms (sign-in failures, registrations, uploads).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from core.redis import sync_client

from .errors import ActionError
from .metrics import rate_limited
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


def reset_local() -> None:
    with _local_lock:
        _local_log.clear()


def check_rate(bucket: str, subject: object, *, limit: int, window: float, what: str) -> None:
    """``take`` for one subject of a bucket; ``rate_limited`` with ``retry_after`` (whole seconds) when full.

    ``what`` names the counted thing in the message ("uploads").
    """
    retry_after = take(f"confab:rate:{bucket}:{subject}", limit, window)
    if retry_after:
        rate_limited[bucket] += 1
        raise ActionError(
            "rate_limited",
            f"Too many {what}: at most {limit} every {int(window)} s. Try again in {retry_after} s.",
            retry_after=retry_after,
        )


def check_send_rate(user_id: int) -> None:
    """Count one send for the user, or raise ``rate_limited`` with ``retry_after``."""
    take_slots(user_id, send=1)


# --- Budgets: one sliding window per kind of state change -----------------------------------


@dataclass(frozen=True)
class Budget:
    """A per-user budget: at most ``settings.<limit_setting>`` actions every ``settings.<window_setting>``
    seconds (a limit of 0 switches it off); ``what`` names them in the refusal."""

    limit_setting: str
    window_setting: str
    what: str

    @property
    def limit(self) -> int:
        return int(getattr(settings, self.limit_setting))

    @property
    def window(self) -> float:
        return float(getattr(settings, self.window_setting))


# Every state change a user can repeat, each with a budget of its own (so editing one message over and
# over does not walk around the send limit). The check_* of each action takes its slot last, once
# everything else is valid: a refused action uses none.
BUDGETS: dict[str, Budget] = {
    "send": Budget("RATE_LIMIT_MESSAGES", "RATE_LIMIT_WINDOW", "messages"),
    "edit": Budget("RATE_LIMIT_EDITS", "RATE_LIMIT_EDITS_WINDOW", "edits"),
    "reaction": Budget("RATE_LIMIT_REACTIONS", "RATE_LIMIT_REACTIONS_WINDOW", "reactions"),
    "pin": Budget("RATE_LIMIT_PINS", "RATE_LIMIT_PINS_WINDOW", "pins and unpins"),
    "status": Budget("RATE_LIMIT_STATUS", "RATE_LIMIT_STATUS_WINDOW", "status changes"),
    "room": Budget("RATE_LIMIT_ROOMS", "RATE_LIMIT_ROOMS_WINDOW", "new rooms"),
    "member_add": Budget("RATE_LIMIT_MEMBER_ADDS", "RATE_LIMIT_MEMBER_ADDS_WINDOW", "members added"),
    "member_role": Budget("RATE_LIMIT_ROLE_CHANGES", "RATE_LIMIT_ROLE_CHANGES_WINDOW", "role changes"),
    "report": Budget("RATE_LIMIT_REPORTS", "RATE_LIMIT_REPORTS_WINDOW", "reports"),
    "moderation": Budget("RATE_LIMIT_MODERATION", "RATE_LIMIT_MODERATION_WINDOW", "moderation actions"),
    "room_mention": Budget("RATE_LIMIT_ROOM_MENTIONS", "RATE_LIMIT_ROOM_MENTIONS_WINDOW", "@room/@here mentions"),
    "invite": Budget("RATE_LIMIT_INVITES", "RATE_LIMIT_INVITES_WINDOW", "room invitations"),
    "invite_revoke": Budget("RATE_LIMIT_INVITE_REVOKES", "RATE_LIMIT_INVITE_REVOKES_WINDOW", "invitations revoked"),
    "invite_accept": Budget("RATE_LIMIT_INVITE_ACCEPTS", "RATE_LIMIT_INVITE_ACCEPTS_WINDOW", "invitations accepted"),
    "profile": Budget("RATE_LIMIT_PROFILE", "RATE_LIMIT_PROFILE_WINDOW", "profile changes"),
    "read": Budget("RATE_LIMIT_READS", "RATE_LIMIT_READS_WINDOW", "read marks"),
    "follow": Budget("RATE_LIMIT_FOLLOWS", "RATE_LIMIT_FOLLOWS_WINDOW", "thread follows and unfollows"),
    "server_invite": Budget("RATE_LIMIT_SERVER_INVITES", "RATE_LIMIT_SERVER_INVITES_WINDOW", "server invitations"),
    "integration": Budget("RATE_LIMIT_INTEGRATIONS", "RATE_LIMIT_INTEGRATIONS_WINDOW", "bots, tokens and webhooks"),
}

# Several budgets at once, all or nothing: each key is pruned to its window; if any would go over its
# limit nothing is taken and the longest wait is returned with that key's index (1-based), else every
# key gets its ``cost`` slots. ARGV: now, a unique member prefix, then window, limit, cost per key.
_TAKE_SLOTS = """
local now = tonumber(ARGV[1])
local prefix = ARGV[2]
local refused, wait = 0, 0
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 * i])
  local limit = tonumber(ARGV[3 * i + 1])
  local cost = tonumber(ARGV[3 * i + 2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count + cost > limit then
    local until_free = window
    if cost <= limit then
      local nth = redis.call('ZRANGE', key, count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
      until_free = tonumber(nth[2]) + window - now
    end
    if refused == 0 or until_free > wait then
      refused, wait = i, until_free
    end
  end
end
if refused > 0 then
  return {refused, tostring(wait)}
end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[3 * i])
  for n = 1, tonumber(ARGV[3 * i + 2]) do
    redis.call('ZADD', key, now, prefix .. ':' .. i .. ':' .. n)
  end
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return {0, '0'}
"""


def budget_key(user_id: int, name: str) -> str:
    """Where a user's use of a budget is counted. One hash tag per user: ``take_slots`` takes several
    budgets in one script, and a Redis Cluster runs a script only on keys of one slot."""
    return f"confab:rate:{{{user_id}}}:{name}"


def take_slots(user_id: int, **costs: int) -> None:
    """Take ``cost`` slots of each named budget (``take_slots(user.id, send=1, room_mention=1)``),
    all or none, or raise ``rate_limited`` with ``retry_after`` naming the budget that refused.
    Budgets switched off (limit 0) and costs of 0 are skipped."""
    global _counter
    wanted = [(name, BUDGETS[name], cost) for name, cost in costs.items() if cost > 0 and BUDGETS[name].limit > 0]
    if not wanted:
        return
    keys = [budget_key(user_id, name) for name, _, _ in wanted]
    now = time.time()
    client = sync_client()
    if client is None:
        refused, wait = _take_slots_local(keys, now, [(b.window, b.limit, cost) for _, b, cost in wanted])
    else:
        _counter += 1
        args: list[Any] = [now, f"{now:.6f}:{threading.get_ident()}:{_counter}"]
        for _, budget, cost in wanted:
            args += [budget.window, budget.limit, cost]
        try:
            refused, wait = client.eval(_TAKE_SLOTS, len(keys), *keys, *args)
        except RedisError as error:
            # Fail open, as check_send_rate: the database, not Redis, decides whether chat works.
            warn_once_per(logger, "ratelimit", 30, "Rate limits skipped: Redis unavailable (%s)", error)
            return
        refused, wait = int(refused), float(wait)
    if refused:
        name, budget, _ = wanted[refused - 1]
        rate_limited[name] += 1
        retry_after = max(1, math.ceil(wait))
        raise ActionError(
            "rate_limited",
            f"Too many {budget.what}: at most {budget.limit} every {int(budget.window)} s. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )


def _take_slots_local(keys: list[str], now: float, rules: list[tuple[float, int, int]]) -> tuple[int, float]:
    """``_TAKE_SLOTS`` in this process's memory: (index of the refusing key or 0, its wait)."""
    with _local_lock:
        refused, wait = 0, 0.0
        for index, (key, (window, limit, cost)) in enumerate(zip(keys, rules, strict=True), start=1):
            log = _local_log[key]
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) + cost > limit:
                until_free = window if cost > limit else log[len(log) + cost - limit - 1] + window - now
                if not refused or until_free > wait:
                    refused, wait = index, until_free
        if refused:
            return refused, wait
        for key, (_, _, cost) in zip(keys, rules, strict=True):
            _local_log[key].extend([now] * cost)
        return 0, 0.0


def check_budget_free(user_id: int, name: str) -> None:
    """``rate_limited`` now when ``take_slots(user_id, **{name: 1})`` would refuse; counts nothing.

    For actions whose checks are costly (decoding an image): refuse before the
    work, and still take the slot last with ``take_slots``, once all is valid.
    """
    budget = BUDGETS[name]
    retry_after = wait_for(budget_key(user_id, name), budget.limit, budget.window)
    if retry_after:
        rate_limited[name] += 1
        raise ActionError(
            "rate_limited",
            f"Too many {budget.what}: at most {budget.limit} every {int(budget.window)} s. "
            f"Try again in {retry_after} s.",
            retry_after=retry_after,
        )
