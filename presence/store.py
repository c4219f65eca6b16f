"""Which users are connected right now, and who is typing: Redis or in-process.

Presence is per user: a user is online while the set of their live
connections is not empty, in any process. Each transition of that set
between empty and not empty is observed by exactly one caller (an atomic
script in Redis, a lock in-process), so exactly one ``user_online`` and one
``user_offline`` are sent per real change, however many tabs and processes.

Liveness scales with processes, not sockets: a connection is recorded once
when it opens and removed when it closes, tagged with the id of its server
process. Each process refreshes its own deadline (a sorted set of process
ids scored by deadline) from one background task; a process that dies
without closing its sockets (SIGKILL, OOM, power loss) stops refreshing, and
the next sweep by any other process (or ``manage.py sweep_presence``)
removes its connections and reports the users left with none.

Redis layout (prefix ``confab:{presence}:``). The scripts touch several of
these keys, and the sweep and the online checks build the keys they read: on a Redis Cluster the hash tag
``{presence}`` puts them all in one slot, so every script runs on one shard
(presence is then one shard's work: a write per connect and disconnect and
one per process per heartbeat, not per message).
- ``procs``: sorted set, process id -> deadline (unix seconds).
- ``proc:<pid>``: hash, connection id -> user id (what a sweep must undo).
- ``user:<uid>``: hash, connection id -> process id (online iff not empty).
- ``typing:<room>``: sorted set, user id -> deadline of their typing state. In the same slot, so a
  connect's one script also reads who is typing in its rooms (a round trip fewer per connect).

Without ``REDIS_URL`` everything lives in this process (the embedded,
single-process mode): a dead process takes its connections with it, so there
is nothing to sweep.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings

from core.redis import async_client, async_pipeline, sync_client

PREFIX = "confab:{presence}:"
PROCS_KEY = PREFIX + "procs"
TYPING_PREFIX = PREFIX + "typing:"

_process_id: tuple[int, str] | None = None  # (the pid it was made for, the id)


def process_id() -> str:
    """This server process's id; every connection it serves is tagged with it.

    Made on first use in each process, not at import: workers forked from a
    server that imported this module first would otherwise share one id, and
    each would take the others' connections for its own (a worker's refresh
    reconciles them away, its retirement removes them).
    """
    global _process_id
    pid = os.getpid()
    if _process_id is None or _process_id[0] != pid:
        _process_id = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _process_id[1]


def _proc_key(pid: str) -> str:
    return f"{PREFIX}proc:{pid}"


USER_KEY_PREFIX = PREFIX + "user:"


def _user_key(user_id: int) -> str:
    return f"{USER_KEY_PREFIX}{user_id}"


def _typing_key(room_id: int) -> str:
    return f"{TYPING_PREFIX}{room_id}"


def process_deadline(now: float | None = None) -> float:
    """When this process counts as dead unless it refreshes again.

    ``PRESENCE_TTL`` bounds the time from a crash to its users going
    offline: the last refresh happened at most one heartbeat before the
    crash, and a sweep runs at most one heartbeat after the deadline, so the
    deadline is ``TTL - HEARTBEAT`` after each refresh (never less than one
    heartbeat, so a late refresh is not a false death).
    """
    now = time.time() if now is None else now
    slack = max(settings.PRESENCE_TTL - settings.PRESENCE_HEARTBEAT, settings.PRESENCE_HEARTBEAT)
    return now + slack


# --- Redis scripts -------------------------------------------------------------

# KEYS: procs, proc:<pid>, user:<uid>; ARGV: pid, conn, uid, deadline. Records the connection; `before`
# is how many the user had.
_RECORD_CONNECTION = """
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
local before = redis.call('HLEN', KEYS[3])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
"""

# As _RECORD_CONNECTION. Returns 1 if the user came online.
_ADD = (
    _RECORD_CONNECTION
    + """
if before == 0 then return 1 end
return 0
"""
)

# Asks which users are online: one argument holds their ids joined by commas (``_packed_ids``), and each
# id's user:<uid> key is made here. One argument, not a key per user: a connect asks about every
# co-member, and packing a hundred keys cost the server process a third of the call's CPU (`python -m
# bench connect-steps`, presence_ask: 324 -> 210 us in rooms of 100, docs/benchmarks.md). A script may
# build keys it was not given only where they share the slot of the keys it was: every presence key
# carries the {presence} hash tag (as _SWEEP's do), so on a Redis Cluster the script still runs on the
# one node that holds them all. Appends a 1 or 0 per id to `answer`. The key is _user_key's, from
# USER_KEY_PREFIX (as _SWEEP's, from PREFIX and 'user:').
_ASK = """
for uid in string.gmatch(ARGV[%(argv)d], '[^,]+') do answer[#answer + 1] = redis.call('EXISTS', '%(prefix)s' .. uid) end
return answer
"""

# Reads who is typing in rooms: ARGV[%(argv)d] holds the room ids joined by commas, ARGV[%(argv)d + 1] the
# time now. Appends, for each room in turn, how many users type there and then their ids. The key is
# _typing_key's, from TYPING_PREFIX (in the {presence} slot, as every key this script builds).
_TYPING_IN = """
for room in string.gmatch(ARGV[%(argv)d], '[^,]+') do
  local typists = redis.call('ZRANGEBYSCORE', '%(prefix)s' .. room, '(' .. ARGV[%(argv)d + 1], '+inf')
  answer[#answer + 1] = #typists
  for i = 1, #typists do answer[#answer + 1] = typists[i] end
end
"""

# KEYS: procs, proc:<pid>, user:<uid>; ARGV: as _ADD, then the ids asked about (_ASK), then the rooms
# whose typists it reads and the time now (_TYPING_IN), then channel and payload pairs to PUBLISH if the
# user came online (its user_online, as the channel layer would publish it). A connect records itself,
# announces itself, asks about its co-members and reads who is typing in its rooms in one call: returns
# whether the user came online, the typists of each room, then a flag per user asked about.
_ADD_AND_ASK = (
    _RECORD_CONNECTION
    + """
local answer = {0}
if before == 0 then
  answer[1] = 1
  for i = 8, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
end
"""
    + _TYPING_IN % {"argv": 6, "prefix": TYPING_PREFIX}
    + _ASK % {"argv": 5, "prefix": USER_KEY_PREFIX}
)

# KEYS: proc:<pid>, user:<uid>; ARGV: conn. Returns 1 if the user went offline.
_REMOVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HDEL', KEYS[2], ARGV[1]) == 1 and redis.call('HLEN', KEYS[2]) == 0 then return 1 end
return 0
"""

# KEYS: procs, proc:<pid>; ARGV: pid, deadline. Pushes the deadline forward; returns how many
# connections Redis holds for this process (the caller compares with its own count).
_REFRESH = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return redis.call('HLEN', KEYS[2])
"""

# KEYS: procs; ARGV: now, prefix. Removes every connection of every process past its deadline.
# Returns a flat list: user id, deadline of the dead process, for each user left with no connection.
_SWEEP = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES')
local offline = {}
for d = 1, #dead, 2 do
  local pkey = ARGV[2] .. 'proc:' .. dead[d]
  local conns = redis.call('HGETALL', pkey)
  for i = 1, #conns, 2 do
    local ukey = ARGV[2] .. 'user:' .. conns[i + 1]
    if redis.call('HDEL', ukey, conns[i]) == 1 and redis.call('HLEN', ukey) == 0 then
      table.insert(offline, conns[i + 1])
      table.insert(offline, dead[d + 1])
    end
  end
  redis.call('DEL', pkey)
  redis.call('ZREM', KEYS[1], dead[d])
end
return offline
"""

# KEYS: procs (only to route the script to the {presence} slot); ARGV: the ids asked about (_ASK). Returns 1
# or 0 per id: the user has a connection. One command, not a pipeline of EXISTS: packing and parsing a
# hundred commands cost the server process more than Redis took to answer them.
_ONLINE = "local answer = {}\n" + _ASK % {"argv": 1, "prefix": USER_KEY_PREFIX}

# KEYS: procs, proc:<pid>; ARGV: pid. A process with no connection left leaves the registry.
_RETIRE = """
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: typing:<room>; ARGV: uid, deadline, stale before, key ttl ms. Returns 1 if the user was not typing.
# States long past their deadline (their process died before its timer ended them) are dropped here;
# recent ones are left to their timer, which announces the stop.
_TYPING_START = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if previous then return 0 end
return 1
"""

# KEYS: typing:<room>; ARGV: uid, deadline ('' for any). Returns 1 if a typing state was removed.
# With a deadline, only that exact state is removed: a later typing_start (another tab, another
# process) replaced it, and its own timer will end it.
_TYPING_STOP = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
if ARGV[2] ~= '' and tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""


# --- Process-local state -----------------------------------------------------------


@dataclass(slots=True)  # one per connection: no instance dict
class LocalConnection:
    user_id: int
    consumer: weakref.ref
    last_ping: float | None = None


class _Local:
    """This process's own state; also the whole store when Redis is not configured."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Connections served by this process (both modes): what the ticker refreshes and reconciles.
        self.connections: dict[str, LocalConnection] = {}
        # In-process mode only: user id -> connection ids, room id -> user id -> typing deadline.
        self.by_user: dict[int, set[str]] = {}
        self.typing: dict[int, dict[int, float]] = {}
        # Typing expiry timers of this process: (room, user) -> (deadline, asyncio.TimerHandle).
        self.typing_timers: dict[tuple[int, int], Any] = {}
        # The background ticker of this process (asyncio.Task) and when it last wrote last_seen.
        self.ticker: Any = None
        self.last_seen_written: float = 0.0


local = _Local()


def reset_local() -> None:
    """Forget every in-process state (tests call this before each test)."""
    with local.lock:
        timers = list(local.typing_timers.values())
        ticker = local.ticker
        local.connections.clear()
        local.by_user.clear()
        local.typing.clear()
        local.typing_timers.clear()
        local.ticker = None
        local.last_seen_written = 0.0
    for _, handle in timers:
        handle.cancel()
    if ticker is not None and not ticker.done():
        try:
            ticker.cancel()
        except RuntimeError:  # its event loop is already closed
            pass


# --- Connections ---------------------------------------------------------------------


def register_local(conn_id: str, user_id: int, consumer: Any) -> None:
    with local.lock:
        local.connections[conn_id] = LocalConnection(user_id, weakref.ref(consumer))


def unregister_local(conn_id: str) -> LocalConnection | None:
    with local.lock:
        return local.connections.pop(conn_id, None)


def local_connection_count() -> int:
    return len(local.connections)


def local_user_ids() -> set[int]:
    with local.lock:
        return {conn.user_id for conn in local.connections.values()}


def orphaned_local_connections() -> list[tuple[str, int]]:
    """Connections whose consumer object is gone without ``connection_closed`` (a failed disconnect)."""
    with local.lock:
        return [(conn_id, conn.user_id) for conn_id, conn in local.connections.items() if conn.consumer() is None]


async def add_connection(user_id: int, conn_id: str) -> bool:
    """Record a live connection; True if the user had none before (came online)."""
    client = async_client()
    if client is None:
        with local.lock:
            conns = local.by_user.setdefault(user_id, set())
            before = len(conns)
            conns.add(conn_id)
            return before == 0
    this = process_id()
    keys = _record_keys(this, user_id)
    return bool(await client.eval(_ADD, 3, *keys, this, conn_id, user_id, process_deadline()))


def _record_keys(pid: str, user_id: int) -> tuple[str, str, str]:
    """The keys ``_RECORD_CONNECTION`` writes, in its order."""
    return PROCS_KEY, _proc_key(pid), _user_key(user_id)


class ConnectionRecorded(NamedTuple):
    """What ``add_connection_and_ask`` did and learnt: the user came online, who of those asked about is,
    who types, and whether it published the announcement it was given."""

    came_online: bool
    online: set[int]
    typing: list[tuple[int, int]]  # (room, user), as ``typing_in_rooms``
    announced: bool = False


def _socket_script_client(client: Any) -> Any:
    """Where a socket's connect and close send their script: the loop's pipelined connection
    (``core.redis_pipeline``: half the CPU of redis-py's for the connect's script) where the URL allows one, else
    ``client``."""
    return async_pipeline() or client


async def add_connection_and_ask(
    user_id: int,
    conn_id: str,
    user_ids: Iterable[int],
    typing_rooms: Iterable[int] = (),
    announce: Iterable[tuple[str, bytes]] = (),
) -> ConnectionRecorded:
    """``add_connection``, ``online_user_ids(user_ids)`` and ``typing_in_rooms(typing_rooms)``: one round trip
    for up to ``ONLINE_CHECK_SLICE`` users and as many rooms (a connect's whole presence read).

    ``announce``: (channel, payload) pairs published on this Redis, in the same script, if and only if the
    user came online (``announced``). Without Redis nothing is published: the caller announces.
    """
    user_ids = list(user_ids)
    rooms = sorted(typing_rooms)
    client = async_client()
    if client is None:
        came_online = await add_connection(user_id, conn_id)
        return ConnectionRecorded(came_online, _online_local(user_ids), await typing_in_rooms(rooms))
    announce = [part for publication in announce for part in publication]
    first, rest = user_ids[:ONLINE_CHECK_SLICE], user_ids[ONLINE_CHECK_SLICE:]
    rooms_now, rooms_later = rooms[:ONLINE_CHECK_SLICE], rooms[ONLINE_CHECK_SLICE:]
    this = process_id()
    keys = _record_keys(this, user_id)
    answer = await _socket_script_client(client).eval(
        _ADD_AND_ASK,
        len(keys),
        *keys,
        this,
        conn_id,
        user_id,
        process_deadline(),
        _packed_ids(first),
        _packed_ids(rooms_now),
        time.time(),
        *announce,
    )
    typing, at = [], 1
    for room_id in rooms_now:
        count = int(answer[at])
        typing += [(room_id, int(typist)) for typist in answer[at + 1 : at + 1 + count]]
        at += 1 + count
    online = _flagged(first, answer[at:])
    if rest:
        online |= await online_user_ids(rest)
    if rooms_later:
        typing += await typing_in_rooms(rooms_later)
    came_online = bool(answer[0])
    return ConnectionRecorded(came_online, online, typing, came_online and bool(announce))


async def remove_connection(user_id: int, conn_id: str) -> bool:
    """Forget a connection; True if it was the user's last one (went offline)."""
    client = async_client()
    if client is None:
        with local.lock:
            conns = local.by_user.get(user_id)
            if not conns or conn_id not in conns:
                return False
            conns.discard(conn_id)
            if conns:
                return False
            del local.by_user[user_id]
            return True
    return bool(
        await _socket_script_client(client).eval(_REMOVE, 2, _proc_key(process_id()), _user_key(user_id), conn_id)
    )


async def refresh_process() -> tuple[list[int], list[int]]:
    """Push this process's deadline forward (one call for all its sockets).

    When Redis does not hold exactly this process's connections (its data was
    lost, or a stall past the deadline got the process swept), reconcile:
    returns (users back online, users gone offline) for the caller to announce.
    """
    client = async_client()
    if client is None:
        return [], []
    this = process_id()
    held = await client.eval(_REFRESH, 2, PROCS_KEY, _proc_key(this), this, process_deadline())
    if int(held) == local_connection_count():
        return [], []
    return await _reconcile(client)


async def _reconcile(client) -> tuple[list[int], list[int]]:
    """Make Redis hold exactly the connections this process serves.

    Race-free by construction: the local registry is read after Redis (a
    connection is registered locally before its ``add_connection`` and
    unregistered before its ``remove_connection``), and each fix is the same
    atomic, idempotent script the hooks use, so a transition is still
    reported exactly once whoever gets there first.
    """
    recorded = {conn.decode(): int(uid) for conn, uid in (await client.hgetall(_proc_key(process_id()))).items()}
    with local.lock:
        live = {conn_id: conn.user_id for conn_id, conn in local.connections.items()}
    back = [uid for conn_id, uid in live.items() if conn_id not in recorded and await add_connection(uid, conn_id)]
    gone = [uid for conn_id, uid in recorded.items() if conn_id not in live and await remove_connection(uid, conn_id)]
    return back, gone


async def retire_process() -> None:
    """This process serves no connection any more: leave the registry (if still empty)."""
    client = async_client()
    if client is not None:
        this = process_id()
        await client.eval(_RETIRE, 2, PROCS_KEY, _proc_key(this), this)


def _parse_sweep(flat: list) -> dict[int, float]:
    """User id -> the dead process's deadline (its last sign of life is a bit before)."""
    return {int(flat[i]): float(flat[i + 1]) for i in range(0, len(flat), 2)}


async def sweep() -> dict[int, float]:
    """Remove the connections of dead processes; returns the users left offline with the deadline missed."""
    client = async_client()
    if client is None:
        return {}
    return _parse_sweep(await client.eval(_SWEEP, 1, PROCS_KEY, time.time(), PREFIX))


def sweep_sync() -> dict[int, float]:
    """``sweep`` for synchronous callers (the management command)."""
    client = sync_client()
    if client is None:
        return {}
    return _parse_sweep(client.eval(_SWEEP, 1, PROCS_KEY, time.time(), PREFIX))


# Users asked about per script call: one script runs alone on its Redis, so a user in rooms of many
# thousands is asked about in slices (about half a millisecond each), never in one long script.
ONLINE_CHECK_SLICE = 500


async def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    """Which of these users have at least one recorded connection (a round trip per ``ONLINE_CHECK_SLICE``)."""
    user_ids = list(user_ids)
    if not user_ids:
        return set()
    client = async_client()
    if client is None:
        return _online_local(user_ids)
    flags = []
    for piece in _slices(user_ids):
        flags += await client.eval(_ONLINE, 1, PROCS_KEY, _packed_ids(piece))
    return _flagged(user_ids, flags)


def online_user_ids_sync(user_ids: Iterable[int]) -> set[int]:
    """``online_user_ids`` for synchronous callers (REST views, commands)."""
    user_ids = list(user_ids)
    if not user_ids:
        return set()
    client = sync_client()
    if client is None:
        return _online_local(user_ids)
    flags = []
    for piece in _slices(user_ids):
        flags += client.eval(_ONLINE, 1, PROCS_KEY, _packed_ids(piece))
    return _flagged(user_ids, flags)


def _slices(user_ids: list[int]) -> list[list[int]]:
    return [user_ids[start : start + ONLINE_CHECK_SLICE] for start in range(0, len(user_ids), ONLINE_CHECK_SLICE)]


def _packed_ids(user_ids: list[int]) -> str:
    """Ids as the scripts' ``_ASK`` reads them: one argument, decimal ids joined by commas."""
    return ",".join(map(str, map(int, user_ids)))  # no generator: a connect packs about a hundred


def _flagged(user_ids: list[int], flags: list[int]) -> set[int]:
    return {user_id for user_id, flag in zip(user_ids, flags, strict=True) if flag}


def _online_local(user_ids: list[int]) -> set[int]:
    with local.lock:
        return {user_id for user_id in user_ids if local.by_user.get(user_id)}


# --- Typing -----------------------------------------------------------------------------


async def typing_start(room_id: int, user_id: int) -> tuple[bool, float]:
    """Start or extend a typing state; returns (it is new, its deadline)."""
    now = time.time()
    deadline = round(now + settings.TYPING_TTL, 6)
    client = async_client()
    if client is None:
        with local.lock:
            room = local.typing.setdefault(room_id, {})
            previous = room.get(user_id)
            room[user_id] = deadline
            return previous is None, deadline
    # The key outlives the deadline so the expiry timer always finds its own state to end.
    grace = settings.TYPING_TTL + 5
    key_ttl_ms = int((settings.TYPING_TTL + grace) * 1000)
    new = await client.eval(_TYPING_START, 1, _typing_key(room_id), user_id, repr(deadline), now - grace, key_ttl_ms)
    return bool(new), deadline


async def typing_stop(room_id: int, user_id: int, deadline: float | None = None) -> bool:
    """End a typing state (only the one with this deadline, if given); True if one ended."""
    client = async_client()
    if client is None:
        with local.lock:
            room = local.typing.get(room_id, {})
            current = room.get(user_id)
            if current is None or (deadline is not None and current != deadline):
                return False
            del room[user_id]
            if not room:
                local.typing.pop(room_id, None)
            return True
    marker = "" if deadline is None else repr(deadline)
    return bool(await client.eval(_TYPING_STOP, 1, _typing_key(room_id), user_id, marker))


async def typing_in_rooms(room_ids: set[int] | list[int]) -> list[tuple[int, int]]:
    """(room, user) pairs typing now in these rooms (one round trip)."""
    room_ids = sorted(room_ids)
    if not room_ids:
        return []
    now = time.time()
    client = async_client()
    if client is None:
        with local.lock:
            return [
                (room_id, user_id)
                for room_id in room_ids
                for user_id, deadline in local.typing.get(room_id, {}).items()
                if deadline > now
            ]
    async with client.pipeline(transaction=False) as pipe:
        for room_id in room_ids:
            pipe.zrangebyscore(_typing_key(room_id), f"({now}", "+inf")
        results = await pipe.execute()
    return [(room_id, int(user_id)) for room_id, users in zip(room_ids, results, strict=True) for user_id in users]
