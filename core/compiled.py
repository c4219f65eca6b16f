"""Querysets compiled to SQL once per process, then run with another caller's id.

Building and compiling a queryset with subqueries cost the ORM more than the
database took to run it: on every connect, the room list and the unread
counts were 3 ms of CPU, nearly all of it in ``add_q``, ``resolve_expression``
and ``as_sql`` (profiled in-process, 400 ``ready`` loads). For the queries every
connect runs, ``CompiledQuery`` builds the queryset once with a marker in place
of the caller's id, compiles it, and each run executes that SQL with the marker
swapped for the real id. The queryset stays the one definition of the query;
only its compilation is kept.

Rows come back as the ``values_list`` queryset would give them: the
compiler's converters (SQLite's timestamps, JSON) are kept with the SQL.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import QuerySet

# Stand for the caller's values while compiling: no row has a negative id, and no client made this UUID.
MARKER = -7_314_159_265
UUID_MARKER = uuid.UUID("00000000-7314-4159-8265-358979323846")
STR_MARKER = "\x1fconfab-compiled-marker-7314159265"  # no client sends a unit separator in a key
# For a column that holds no negative number (a seq): Django turns a comparison with a value outside
# the column's range into an empty or an unconditional one, so its marker must lie inside every range.
NATURAL_MARKER = 2_031_415_926


def attnames(model) -> list[str]:
    """A model's concrete columns by attribute name: what ``values_list`` asks for and ``from_db`` takes back."""
    return [field.attname for field in model._meta.concrete_fields]


class CompiledQuery:
    """A ``values_list`` queryset taking ids (and UUIDs or strings), compiled at its first run on each database.

    ``build`` takes one marker per argument: ints (``MARKER``, ``MARKER - 1``
    ...) unless ``kinds`` says ``uuid``, ``str`` or ``natural`` (a whole number
    compared with a column that holds no negative one, such as a seq) for an argument.
    """

    def __init__(self, build: Callable[..., QuerySet], kinds: tuple[str, ...] = ("int",)) -> None:
        self._build = build
        self._markers = tuple(
            {"uuid": UUID_MARKER, "str": f"{STR_MARKER}{index}", "natural": NATURAL_MARKER + index}.get(
                kind, MARKER - index
            )
            for index, kind in enumerate(kinds)
        )
        self._compiled: dict[str, _Compiled] = {}
        self._model: Any = None

    def compile(self, using: str = DEFAULT_DB_ALIAS) -> _Compiled:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiler = self._build(*self._markers).query.get_compiler(using)
            sql, params = compiler.as_sql()
            slots = []
            for position, param in enumerate(params):
                for argument, marker in enumerate(self._markers):
                    if param == marker:
                        slots.append((position, argument, False))
                    elif isinstance(marker, uuid.UUID) and param == marker.hex:  # how SQLite stores a UUID
                        slots.append((position, argument, True))
            if {argument for _, argument, _ in slots} != set(range(len(self._markers))):
                raise ValueError("The queryset does not use every value it was built with.")
            converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
            compiled = self._compiled[using] = _Compiled(compiler, sql, tuple(params), tuple(slots), converters)
        return compiled

    def database(self) -> str:
        """Where ``rows`` reads now: where the database routers send reads of the queryset's model."""
        if self._model is None:
            self._model = self._build(*self._markers).model
        return router.db_for_read(self._model) or DEFAULT_DB_ALIAS

    def rows(self, *values: Any, using: str | None = None) -> list[tuple[Any, ...]]:
        """The queryset's rows for ``values`` in place of the markers it was built with, read where
        the database routers send reads of its model (as the queryset would be) unless ``using`` says."""
        if using is None:
            using = self.database()
        compiled = self.compile(using)
        read_ahead = _read_ahead.get()
        rows = read_ahead.pop((self, using, values), None) if read_ahead is not None else None
        if rows is None:
            # The driver's own cursor: a prepared statement on PostgreSQL, the ``?`` form made once on SQLite
            # (``fetch_one_prepared`` says why; here a quarter of each query's CPU, measured in-process).
            rows = _run_prepared(connections[using], compiled.sql, compiled.params_for(values), fetch_all=True)
        if compiled.converters:
            return [tuple(row) for row in compiled.compiler.apply_converters(rows, compiled.converters)]
        return rows


def instances_from_row(row: tuple[Any, ...] | list[Any], models: tuple[type, ...], using: str) -> list[Any]:
    """Model instances from a row holding each model's ``attnames`` columns in turn (columns after
    theirs are the caller's), as ``from_db`` builds them for a queryset read from ``using``."""
    instances, start = [], 0
    for model in models:
        names = attnames(model)
        instances.append(model.from_db(using, names, row[start : start + len(names)]))
        start += len(names)
    return instances


@dataclass(frozen=True)
class _Compiled:
    compiler: Any  # the SQLCompiler, for its converters
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int, bool], ...]  # (where in params, which argument, written as hex)
    converters: dict[int, Any]

    def params_for(self, values: tuple[Any, ...]) -> list[Any]:
        """The statement's parameters with ``values`` in place of the markers it was compiled with."""
        params = list(self.params)
        for position, argument, as_hex in self.slots:
            params[position] = values[argument].hex if as_hex else values[argument]
        return params


Read = tuple[CompiledQuery, tuple[Any, ...]]  # a compiled query and the values of one run

# The rows ``read_together`` read ahead, by (query, database, values), until a ``rows`` call takes them.
_read_ahead: ContextVar[dict[tuple[CompiledQuery, str, tuple[Any, ...]], list[Any]] | None] = ContextVar(
    "compiled_read_ahead", default=None
)


@contextlib.contextmanager
def read_together(reads: Iterable[Read]) -> Iterator[None]:
    """Run ``reads`` in one round trip to PostgreSQL; inside the block, ``query.rows(*values)`` of each
    is answered with the rows read (once), with no statement of its own.

    A token connect is five small reads, and on this project's machine each
    round trip cost the worker thread 80-190 µs of CPU in the driver and the
    kernel whatever the statement (``SELECT 1`` included): more than the reads
    themselves. In a pipeline (psycopg's pipeline mode) the statements go out
    together and their results come back together; each still ends its own
    transaction (a sync after each), holding its locks no longer than it would
    alone, and is still logged (query counts see them all). A read that
    ``rows`` would send elsewhere (another database, or the replica when
    ``core.replica`` reads there at the time) is not taken from here and runs
    as it would have. On SQLite, where there is no round trip, nothing is read
    ahead. The rows a block never asks for are dropped at its end.
    """
    if not _can_queue_syncs():
        reads = ()
    by_database: dict[str, list[tuple[Read, _Compiled]]] = {}
    for query, values in reads:
        using = query.database()
        if connections[using].vendor == "postgresql":
            by_database.setdefault(using, []).append(((query, values), query.compile(using)))
    read_ahead = {}
    for using, runs in by_database.items():
        for ((query, values), _), rows in zip(runs, _run_pipelined(connections[using], runs), strict=True):
            read_ahead[(query, using, values)] = rows
    token = _read_ahead.set(read_ahead)
    try:
        yield
    finally:
        _read_ahead.reset(token)


@functools.cache
def _can_queue_syncs() -> bool:
    """Whether psycopg's pipeline can queue a sync without waiting (a private call, see ``_run_pipelined``).

    If a psycopg upgrade takes it away, nothing is read ahead and every read runs on its own, as before
    ``read_together``: slower, never one transaction for a batch.
    """
    import psycopg

    return callable(getattr(psycopg.Pipeline, "_enqueue_sync", None))


def _run_pipelined(connection, runs: list[tuple[Read, _Compiled]]) -> list[list[Any]]:
    """Every statement of ``runs`` on ``connection`` in one pipeline, prepared; their rows in order."""
    connection.ensure_connection()
    cursors = [_driver_cursor(connection, slot) for slot in range(len(runs))]
    started = time.monotonic()
    statements = [(compiled.sql, compiled.params_for(values)) for (_, values), compiled in runs]
    try:
        with connection.wrap_database_errors:
            with connection.connection.pipeline() as pipeline:
                with _sent_together(pipeline):
                    for cursor, (sql, params) in zip(cursors, statements, strict=True):
                        cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)
                        # A sync after each statement, queued and not waited for: the statements between two
                        # syncs are one transaction, and one for the whole batch held each table's lock until
                        # its last statement (a TRUNCATE taking them in another order deadlocked on it).
                        # ``Pipeline.sync()`` would wait for the answers, a round trip each; psycopg has no
                        # public call that only queues one (pinned in requirements.txt; the tests would see it
                        # go).
                        pipeline._enqueue_sync()
            return [cursor.fetchall() for cursor in cursors]
    finally:
        if connection.queries_logged:
            took = f"{time.monotonic() - started:.3f}"
            connection.queries_log.extend({"sql": f"{sql} -- {params!r}", "time": took} for sql, params in statements)


@contextlib.contextmanager
def _sent_together(pipeline) -> Iterator[None]:
    """Queue what the block's ``execute`` calls would send on ``pipeline``, then hand it all to libpq at once.

    psycopg sends after each ``execute`` in a pipeline, and then after each of
    its messages, waiting until the socket takes writes before each: a connect's
    five reads went out in about a dozen writes, each a system call and a wake-up
    of the server, with the GIL let go and taken back around each. Queued, the
    statements go to libpq's buffer one after another and out together (libpq
    flushes at each sync). A private part of psycopg's pipeline, as
    ``_enqueue_sync``: if it changes, the tests of ``read_together`` see it.
    """
    pipeline._communicate_gen = _send_nothing
    try:
        yield
    finally:
        del pipeline._communicate_gen
    commands = pipeline.command_queue
    while commands:
        commands.popleft()()


def _send_nothing() -> Iterator[None]:
    return
    yield


def fetch_one_prepared(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """One row of a hot statement (or None), run on the driver's own cursor, prepared once per connection.

    Django's cursors rework every statement on every run: psycopg's bind on the
    client (every parameter quoted into the SQL text in Python: a seventh of the
    send path's samples in 10-member rooms, and PostgreSQL parsed and planned the
    statement again each time), SQLite's rewrite ``%s`` to ``?`` with a regular
    expression (an eighth of the embedded send). Here PostgreSQL gets the
    parameters apart from a statement the connection prepared on first use
    (``DB_PREPARED_STATEMENTS``), and SQLite the ``?`` form made once, which
    ``sqlite3`` keeps compiled in its statement cache. Errors are Django's
    (``IntegrityError`` ...), as from ``connection.cursor()``; the statement runs
    in whatever transaction the connection is in. On PostgreSQL ``sql`` must cast
    any parameter whose type the server cannot infer (``%s::uuid``).
    """
    return _run_prepared(connections[DEFAULT_DB_ALIAS], sql, params, fetch_all=False)


def _run_prepared(connection, sql: str, params: list[Any], *, fetch_all: bool) -> Any:
    """All rows (``fetch_all``) or the first row of ``sql`` on ``connection``'s driver cursor, prepared."""
    connection.ensure_connection()
    with _run_as_django_would(connection, sql, params):
        if connection.vendor == "sqlite":
            cursor = connection.connection.execute(qmark(sql), params)
            return cursor.fetchall() if fetch_all else cursor.fetchone()
        cursor = _driver_cursor(connection)
        cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)
        return cursor.fetchall() if fetch_all else cursor.fetchone()


# The driver cursors of each open PostgreSQL connection, by (the connection's id, slot), their timestamp
# loader registered once: a new cursor and its loader per statement were a fifth of each compiled query's
# CPU in the driver (`python -m bench connect-steps`, docs/benchmarks.md). Slot 0 runs single statements;
# a pipeline (``read_together``) takes one slot per statement, since each cursor holds one result. A
# connection is used by one thread at a time (Django's per-thread connections, the pool's checkout), and
# so are its cursors. Kept while the connection is open; the cursors of connections closed since are let go
# whenever another is made, so there are never more than a few cursors for each connection open then.
_driver_cursors: dict[tuple[int, int], Any] = {}


def _driver_cursor(connection, slot: int = 0) -> Any:
    raw = connection.connection
    cursor = _driver_cursors.get((id(raw), slot))
    if cursor is not None and cursor.connection is raw and not cursor.closed:
        return cursor
    import psycopg  # only on PostgreSQL, where Django's backend has imported it already

    for key, kept in list(_driver_cursors.items()):
        if kept.closed or kept.connection.closed:
            _driver_cursors.pop(key, None)
    cursor = _driver_cursors[(id(raw), slot)] = psycopg.Cursor(raw)
    load_timestamps_compiled(cursor, connection)
    return cursor


def load_timestamps_compiled(cursor, connection) -> None:
    """Let a psycopg ``cursor`` read ``timestamptz`` with psycopg's compiled loader, as Django's would read it.

    Django registers, per connection, a Python subclass of that loader which
    parses each value again and sets its ``tzinfo`` to the connection's time
    zone: 2.7 µs a value, 0.5 ms of a connect's hundred presence rows (against
    0.1 ms compiled, measured in-process). When that time zone is UTC, the
    session's zone Django set at connect time, the compiled loader returns the
    same values (aware, ``timezone.utc``). Only this cursor changes: Django's
    own cursors compare the connection's loader with their zone and would
    register theirs again.
    """
    if connection.timezone_name != "UTC" or not settings.USE_TZ:
        return
    cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _compiled_timestamptz_loader())


_TIMESTAMPTZ_OID = 1184


@functools.cache
def _compiled_timestamptz_loader() -> type:
    import psycopg  # only on PostgreSQL, where Django's backend has imported it already

    return psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)


@contextlib.contextmanager
def _run_as_django_would(connection, sql: str, params: list[Any]) -> Iterator[None]:
    """A statement on the driver's own cursor, seen as Django's cursors show one: the driver's errors as
    Django's, and in ``queries_log`` when queries are logged (query counts in tests see it)."""
    started = time.monotonic()
    try:
        with connection.wrap_database_errors:
            yield
    finally:
        if connection.queries_logged:
            connection.queries_log.append({"sql": f"{sql} -- {params!r}", "time": f"{time.monotonic() - started:.3f}"})


@functools.lru_cache(maxsize=256)
def qmark(sql: str) -> str:
    """``sql`` with ``%s`` placeholders as SQLite's ``?`` (and ``%%`` as ``%``), as Django's SQLite cursor
    rewrites it on every run; made once per statement."""
    return _FORMAT_PLACEHOLDER.sub("?", sql).replace("%%", "%")


_FORMAT_PLACEHOLDER = re.compile(r"(?<!%)%s")
