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
from collections.abc import Callable, Iterator
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
        params = list(compiled.params)
        for position, argument, as_hex in compiled.slots:
            params[position] = values[argument].hex if as_hex else values[argument]
        # The driver's own cursor: a prepared statement on PostgreSQL, the ``?`` form made once on SQLite
        # (``fetch_one_prepared`` says why; here a quarter of each query's CPU, measured in-process).
        rows = _run_prepared(connections[using], compiled.sql, params, fetch_all=True)
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


# One driver cursor per open PostgreSQL connection (by the connection's id), its timestamp loader
# registered once: a new cursor and its loader per statement were a fifth of each compiled query's CPU
# in the driver (`python -m bench connect-steps`, docs/benchmarks.md). A connection is used by one
# thread at a time (Django's per-thread connections, the pool's checkout), and so is its cursor. Kept
# while the connection is open; the cursors of connections closed since are let go whenever another is
# made, so there are never more cursors than connections were open when the last one was made.
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
