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
import sys
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
    if not _can_pipeline():
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
def _can_pipeline() -> bool:
    """Whether psycopg has what ``_run_pipelined`` uses: its libpq wrapper's pipeline mode, its query
    converter, its non-blocking send and fetch and its statement cache (private parts, see ``_pipelined``).

    If a psycopg upgrade takes one away, nothing is read ahead and every read runs on its own, as before
    ``read_together``: slower, never one transaction for a batch.
    """
    try:
        import psycopg
        from psycopg._preparing import Prepare  # noqa: F401
        from psycopg._queries import PostgresQuery  # noqa: F401
        from psycopg.generators import fetch_many, send  # noqa: F401
    except ImportError:
        return False
    return psycopg.Pipeline.is_supported()


def _run_pipelined(connection, runs: list[tuple[Read, _Compiled]]) -> list[list[Any]]:
    """Every statement of ``runs`` on ``connection`` in one pipeline, prepared; their rows in order."""
    connection.ensure_connection()
    raw = connection.connection
    adapters = _driver_cursor(connection)  # its loaders (``load_timestamps_compiled``) read the rows
    started = time.monotonic()
    statements = [(compiled.sql, compiled.params_for(values)) for (_, values), compiled in runs]
    try:
        with connection.wrap_database_errors, raw.lock:
            return raw.wait(_pipelined(raw, adapters, statements))
    finally:
        if connection.queries_logged:
            took = f"{time.monotonic() - started:.3f}"
            connection.queries_log.extend({"sql": f"{sql} -- {params!r}", "time": took} for sql, params in statements)


def _pipelined(raw, adapters, statements: list[tuple[str, list[Any]]]) -> Iterator[Any]:
    """psycopg's generator protocol (``Connection.wait`` drives it): ``statements`` sent in one pipeline,
    each followed by a sync, in one write; then their rows, in order.

    psycopg's cursors in a pipeline wrote after each statement and each of its
    messages (a connect's five reads: twelve writes, the GIL let go and taken
    back around each) and ran about 40 µs of Python per statement in their
    result bookkeeping; here the statements go to libpq's buffer together and
    each result is read by the cursor's own loaders (measured in-process: 55 µs
    of a connect's 410). A sync after each statement ends its transaction:
    one transaction for the batch held each table's lock until its last
    statement (a TRUNCATE taking them in another order deadlocked on it).
    Statements are prepared once per connection (``DB_PREPARED_STATEMENTS``)
    through psycopg's own cache of prepared statements, so the DEALLOCATE ALL
    it sends after a rollback leaves none of them unknown to it. The first
    error is raised once every result is read, so the connection is left
    clean. Uses psycopg's private query converter, generators and statement
    cache: psycopg is pinned (requirements.txt), and ``_can_pipeline`` and the
    tests see them go.
    """
    from psycopg import errors, pq
    from psycopg._preparing import Prepare
    from psycopg._queries import PostgresQuery
    from psycopg.adapt import Transformer
    from psycopg.generators import fetch_many, send

    pgconn = raw.pgconn
    cache = raw._prepared
    if cache._to_flush:  # a DEALLOCATE psycopg owes the server goes first, not after statements prepared anew
        yield from cache.maintain_gen(raw)
    prepare = settings.DB_PREPARED_STATEMENTS
    transformer = Transformer(adapters)
    expected: list[tuple[str, Any]] = []  # the result sets to read, in order: what, and its cache entry
    pgconn.enter_pipeline_mode()
    try:
        for sql, params in statements:
            query = PostgresQuery(transformer)
            query.convert(sql, params)
            kind, name = cache.get(query, prepare)
            if kind is Prepare.NO:
                pgconn.send_query_params(
                    query.query, query.params, param_formats=query.formats, param_types=query.types
                )
            else:
                if kind is Prepare.SHOULD:
                    pgconn.send_prepare(name, query.query, param_types=query.types)
                    expected.append(("prepare", None))  # its error, if any, also fails the statement's run
                pgconn.send_query_prepared(name, query.params, param_formats=query.formats)
            key = cache.maybe_add_to_cache(query, kind, name)
            expected += [("rows", (key, kind, name) if key is not None else None), ("sync", None)]
            pgconn.pipeline_sync()
        yield from send(pgconn)
        rows: list[Any] = []
        error: Exception | None = None
        for what, entry in expected:
            results = yield from fetch_many(pgconn)
            if what != "rows":
                continue
            if entry is not None:
                cache.validate(*entry, results)  # a statement whose run failed is not kept as prepared
            (result,) = results
            if result.status == pq.ExecStatus.TUPLES_OK:
                transformer.set_pgresult(result)
                rows.append(transformer.load_rows(0, result.ntuples, tuple))
            elif result.status == pq.ExecStatus.FATAL_ERROR:
                error = error or errors.error_from_result(result, encoding=raw.info.encoding)
            else:
                error = error or errors.PipelineAborted("pipeline aborted")
        if error is not None:
            raise error
        return rows
    finally:
        try:
            pgconn.exit_pipeline_mode()
        except errors.OperationalError:
            if sys.exc_info()[1] is None:
                raise  # results left unread: the error of the block, if any, is the one to see


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


# The driver cursor of each open PostgreSQL connection, by the connection's id, its timestamp loader
# registered once: a new cursor and its loader per statement were a fifth of each compiled query's CPU in
# the driver (`python -m bench connect-steps`, docs/benchmarks.md). It runs single statements, and a
# pipeline (``read_together``) reads its results with the cursor's loaders. A connection is used by one
# thread at a time (Django's per-thread connections, the pool's checkout), and so is its cursor. Kept while
# the connection is open; the cursors of connections closed since are let go whenever another is made, so
# there are never more than a few.
_driver_cursors: dict[int, Any] = {}


def _driver_cursor(connection) -> Any:
    raw = connection.connection
    cursor = _driver_cursors.get(id(raw))
    if cursor is not None and cursor.connection is raw and not cursor.closed:
        return cursor
    import psycopg  # only on PostgreSQL, where Django's backend has imported it already

    for key, kept in list(_driver_cursors.items()):
        if kept.closed or kept.connection.closed:
            _driver_cursors.pop(key, None)
    cursor = _driver_cursors[id(raw)] = psycopg.Cursor(raw)
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
