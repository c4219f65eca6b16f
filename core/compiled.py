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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

# Stands for the caller's id while compiling; no row has a negative id.
MARKER = -7_314_159_265


class CompiledQuery:
    """A ``values_list`` queryset of one id, compiled at its first run on each database."""

    def __init__(self, build: Callable[[int], QuerySet]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def compile(self, using: str = DEFAULT_DB_ALIAS) -> _Compiled:
        compiled = self._compiled.get(using)
        if compiled is None:
            compiler = self._build(MARKER).query.get_compiler(using)
            sql, params = compiler.as_sql()
            positions = tuple(index for index, param in enumerate(params) if param == MARKER)
            if not positions:
                raise ValueError("The queryset does not use the id it was built with.")
            converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
            compiled = self._compiled[using] = _Compiled(compiler, sql, tuple(params), positions, converters)
        return compiled

    def rows(self, value: int, using: str = DEFAULT_DB_ALIAS) -> list[tuple[Any, ...]]:
        """The queryset's rows for ``value`` in place of the id it was built with."""
        compiled = self.compile(using)
        params = list(compiled.params)
        for index in compiled.positions:
            params[index] = value
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            return [tuple(row) for row in compiled.compiler.apply_converters(rows, compiled.converters)]
        return rows


@dataclass(frozen=True)
class _Compiled:
    compiler: Any  # the SQLCompiler, for its converters
    sql: str
    params: tuple[Any, ...]
    positions: tuple[int, ...]  # where MARKER stands in params
    converters: dict[int, Any]
