"""Reads from a streaming replica, with read-your-writes.

With ``DATABASE_REPLICA_URL`` set, ``settings.DATABASES`` has a ``replica``
alias and ``config.db_router.ReplicaRouter`` sends a query there only while
:func:`read_on_replica` runs a read: every other query (writes, transactions,
permission checks, everything not wrapped) goes to the primary. Reads are
opt-in because a replica is always a little behind, and most code reads what
it has just written.

A read goes to the replica only when the replica has already replayed every
row the answer depends on, checked by a *freshness probe* the caller gives:
one small query on the replica comparing row state with what the caller just
read on the primary (a room's ``last_seq`` and ``history_revision``; a row
version fingerprint of a user's memberships). A stale replica, a replica that
fails, or a caller inside a transaction on the primary, read from the primary
instead: the answer is always complete, only where it came from changes.

Bounded: connecting to the replica waits ``DATABASE_REPLICA_TIMEOUT`` at
most, a query on it ``DB_CALL_TIMEOUT`` (its ``statement_timeout``), and after
a failure the replica is left alone for ``DATABASE_REPLICA_RETRY_SECONDS`` so a
dead replica costs one timeout per interval, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.db.backends.utils import CursorWrapper

from core.metrics import counts
from core.throttled_log import warn_once_per

logger = logging.getLogger(__name__)

REPLICA = "replica"
T = TypeVar("T")

# The alias this context's reads go to; None: the router's default (the primary).
_read_alias: ContextVar[str | None] = ContextVar("confab_read_alias", default=None)
_lock = threading.Lock()
_down_until = 0.0


def read_alias() -> str | None:
    """Where the current context's reads go (``None``: the primary), for the router."""
    return _read_alias.get()


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_usable() -> bool:
    """Whether a read may try the replica now.

    Not inside a transaction on the primary (the transaction may hold writes
    the replica cannot see yet), and not while a recent failure benches it.
    """
    if not replica_configured():
        return False
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False
    return time.monotonic() >= _down_until


def bench_replica(error: BaseException) -> None:
    """Leave the replica alone for ``DATABASE_REPLICA_RETRY_SECONDS`` after it failed."""
    global _down_until
    with _lock:
        _down_until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
    counts.replica_failures += 1
    warn_once_per(logger, "replica-failed", 60, "replica failed, reading from the primary for a while: %s", error)
    try:
        connections[REPLICA].close()
    except DatabaseError:
        pass


def unbench_replica() -> None:
    """Forget a past failure (tests, and an operator's shell after fixing the replica)."""
    global _down_until
    with _lock:
        _down_until = 0.0


@contextmanager
def _reads_from(alias: str) -> Iterator[None]:
    token = _read_alias.set(alias)
    try:
        yield
    finally:
        _read_alias.reset(token)


def read_on_replica(is_fresh: Callable[[CursorWrapper], bool], read: Callable[[], T]) -> T:
    """``read()`` on the replica if ``is_fresh`` says it has caught up, else on the primary.

    ``is_fresh`` gets a cursor on the replica and answers whether the rows the
    read depends on are there in the state the primary has (or newer). Replay
    only moves forward, so what it saw stays true while ``read`` runs. If the
    replica fails, during the probe or the read, the read runs again on the
    primary: the caller gets a complete answer either way.
    """
    if not replica_usable():
        return read()
    try:
        with connections[REPLICA].cursor() as cursor:
            fresh = is_fresh(cursor)
    except (OperationalError, InterfaceError) as error:
        bench_replica(error)
        return read()
    if not fresh:
        counts.replica_stale += 1
        return read()
    try:
        with _reads_from(REPLICA):
            result = read()
    except (OperationalError, InterfaceError) as error:
        bench_replica(error)
        return read()
    counts.replica_reads += 1
    return result


def fingerprint_matches(sql: str, params: Any) -> Callable[[CursorWrapper], bool]:
    """A probe: ``sql`` (one row, one value) gives the same answer on the primary and on the replica.

    Meant for row-version fingerprints (``xmin`` is the same on a physical
    replica as on its primary, and changes with every update of the row), so
    the probe costs one small query on each side.
    """

    def probe(replica_cursor: CursorWrapper) -> bool:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(sql, params)
            on_primary = cursor.fetchone()
        replica_cursor.execute(sql, params)
        return replica_cursor.fetchone() == on_primary

    return probe
