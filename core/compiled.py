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
import contextvars
import functools
import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import QuerySet

# Stand for the caller's values while compiling: no row has a negative id, and no client made this UUID.
MARKER = -7_314_159_265
UUID_MARKER = uuid.UUID("00000000-7314-4159-8265-358979323846")
STR_MARKER = "\x1fconfab-compiled-marker-7314159265"  # no client sends a unit separator in a key


def attnames(model) -> list[str]:
    """A model's concrete columns by attribute name: what ``values_list`` asks for and ``from_db`` takes back."""
    return [field.attname for field in model._meta.concrete_fields]


class CompiledQuery:
    """A ``values_list`` queryset taking ids (and UUIDs or strings), compiled at its first run on each database.

    ``build`` takes one marker per argument: ints (``MARKER``, ``MARKER - 1``
    ...) unless ``kinds`` says ``uuid`` or ``str`` for an argument.
    """

    def __init__(self, build: Callable[..., QuerySet], kinds: tuple[str, ...] = ("int",)) -> None:
        self._build = build
        self._markers = tuple(
            {"uuid": UUID_MARKER, "str": f"{STR_MARKER}{index}"}.get(kind, MARKER - index)
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

    def rows(self, *values: Any, using: str | None = None) -> list[tuple[Any, ...]]:
        """The queryset's rows for ``values`` in place of the markers it was built with, read where
        the database routers send reads of its model (as the queryset would be) unless ``using`` says.

        Inside ``answered_together`` that named this query with these values, the
        answer it read ahead (once: a second call reads again)."""
        using = using or self.read_alias()
        held = _answers.get()
        if held is not None and held[0] == threading.get_ident():
            answer = held[1].pop((self, values, using), None)
            if answer is not None:
                return answer
        compiled, params = self._bound(values, using)
        # The driver's own cursor: a prepared statement on PostgreSQL, the ``?`` form made once on SQLite
        # (``fetch_one_prepared`` says why; here a quarter of each query's CPU, measured in-process).
        return compiled.converted(_run_prepared(connections[using], compiled.sql, params, fetch_all=True))

    def read_alias(self) -> str:
        """Where the database routers send reads of the queryset's model."""
        if self._model is None:
            self._model = self._build(*self._markers).model
        return router.db_for_read(self._model) or DEFAULT_DB_ALIAS

    def _bound(self, values: tuple[Any, ...], using: str) -> tuple[_Compiled, list[Any]]:
        compiled = self.compile(using)
        params = list(compiled.params)
        for position, argument, as_hex in compiled.slots:
            params[position] = values[argument].hex if as_hex else values[argument]
        return compiled, params


@dataclass(frozen=True)
class _Compiled:
    compiler: Any  # the SQLCompiler, for its converters
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int, bool], ...]  # (where in params, which argument, written as hex)
    converters: dict[int, Any]

    def converted(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        """The driver's rows as the ``values_list`` queryset gives them."""
        if self.converters:
            return [tuple(row) for row in self.compiler.apply_converters(rows, self.converters)]
        return rows


# A compiled query and the values to run it with: what ``answered_together`` reads ahead.
QueryCall = tuple[CompiledQuery, tuple[Any, ...]]
_AnswerKey = tuple[CompiledQuery, tuple[Any, ...], str]
# The answers of the innermost block, with the thread that read them: a context copied into another
# thread inside the block (an executor, ``sync_to_async``) must not take them.
_answers: contextvars.ContextVar[tuple[int, dict[_AnswerKey, list]] | None] = contextvars.ContextVar(
    "compiled_query_answers", default=None
)


@contextlib.contextmanager
def answered_together(calls: Iterable[QueryCall]) -> Iterator[None]:
    """Read these queries' rows now, in one round trip; their ``rows`` calls inside the block take them.

    A connect's ``ready`` runs half a dozen small queries, one after another on
    the database thread: each round trip cost about 80 us of CPU here (the
    driver's call, its wait, a hand of the GIL and three system calls), more
    than most of the statements took to run. On PostgreSQL the calls go out
    together in psycopg's pipeline mode, every statement prepared as ``rows``
    would run it, and the answers come back together: one wait where there
    were five or six. In autocommit each statement still ends its own
    transaction (``_run_pipelined``). SQLite has no round trip to save, and
    reads nothing ahead.

    For reads that may as well happen together: an answer is the state at the
    block's start, so a block must not write what it reads. A call the block
    never makes just goes unused, and goes with the block; one it did not name
    runs as usual. Inside another block, only the calls that block has not
    answered are read. Errors are Django's, raised here, before the block runs.
    The answers serve the thread that read them only.
    """
    held = _answers.get()
    outer = held[1] if held is not None and held[0] == threading.get_ident() else {}
    pending: dict[str, dict[_AnswerKey, tuple[_Compiled, list[Any]]]] = {}
    for query, values in calls:
        using = query.read_alias()
        key = (query, values, using)
        if key not in outer and connections[using].vendor == "postgresql":
            pending.setdefault(using, {})[key] = query._bound(values, using)
    read: dict[_AnswerKey, list] = {}
    for using, statements in pending.items():
        rows = _run_pipelined(connections[using], [(compiled.sql, params) for compiled, params in statements.values()])
        for (key, (compiled, _)), answer in zip(statements.items(), rows, strict=True):
            read[key] = compiled.converted(answer)
    # The outer block's answers stay visible here; what this block read goes with it.
    answers = {**outer, **read}
    token = _answers.set((threading.get_ident(), answers))
    try:
        yield
    finally:
        _answers.reset(token)
        for key in [key for key in outer if key not in answers]:
            del outer[key]  # an outer answer taken in here is gone out there too: an answer serves one call


_pipelines = itertools.count(1)


def _run_pipelined(connection, statements: list[tuple[str, list[Any]]]) -> list[list[Any]]:
    """Every row of each statement, sent together in psycopg's pipeline mode with one sync (PostgreSQL only)."""
    import psycopg  # only on PostgreSQL, where Django's backend has imported it already

    connection.ensure_connection()
    driver = connection.connection
    cursors: list[Any] = []
    started = time.monotonic()
    try:
        with connection.wrap_database_errors:
            with driver.pipeline() as pipeline:
                for sql, params in statements:
                    cursor = psycopg.Cursor(driver)
                    cursors.append(cursor)
                    load_timestamps_compiled(cursor, connection)
                    cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)
                    if not driver.autocommit:
                        continue  # inside the caller's transaction: it holds the locks anyway
                    # A sync after each statement (queued, not waited for) ends its implicit transaction
                    # there, as autocommit would: one transaction for the batch would keep each table's
                    # lock until the last statement, and a TRUNCATE or ALTER TABLE taking the same tables in
                    # another order would deadlock with a connect (seen: a test's teardown flush).
                    pipeline._enqueue_sync()  # psycopg's own queue (tests/test_answered_together.py)
            return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
        if connection.queries_logged:  # each statement, as Django logs one, and which round trip it went in
            took, batch = f"{time.monotonic() - started:.3f}", next(_pipelines)
            for index, (sql, params) in enumerate(statements):  # the round trip's time counted once
                entry = {"sql": f"{sql} -- {params!r}", "time": took if index == 0 else "0.000", "pipeline": batch}
                connection.queries_log.append(entry)


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
        import psycopg  # only on PostgreSQL, where Django's backend has imported it already

        with psycopg.Cursor(connection.connection) as cursor:
            load_timestamps_compiled(cursor, connection)
            cursor.execute(sql, params, prepare=settings.DB_PREPARED_STATEMENTS)
            return cursor.fetchall() if fetch_all else cursor.fetchone()


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
