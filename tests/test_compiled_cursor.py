"""Compiled statements run on one driver cursor per open PostgreSQL connection (``core.compiled``)."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from django.db import connection

from core import compiled
from core.compiled import fetch_one_prepared

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]


def test_statements_on_one_connection_share_one_driver_cursor():
    fetch_one_prepared("SELECT 1", [])
    first = compiled._driver_cursors[id(connection.connection)]

    assert fetch_one_prepared("SELECT %s::int + 1", [2]) == (3,)
    assert compiled._driver_cursors[id(connection.connection)] is first


def test_the_shared_cursor_reads_timestamps_as_djangos_cursors_do():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (expected_zone,) = (cursor.fetchone()[0].tzinfo,)

    (value,) = fetch_one_prepared("SELECT now()", [])

    assert isinstance(value, datetime) and value.utcoffset() == expected_zone.utcoffset(value)


def test_the_cursor_of_a_closed_connection_is_let_go_when_another_is_made():
    import psycopg

    def wrapper(raw):  # what _driver_cursor reads of Django's connection wrapper
        return SimpleNamespace(connection=raw, timezone_name=connection.timezone_name)

    closing, later = psycopg.connect(connection.connection.info.dsn), psycopg.connect(connection.connection.info.dsn)
    try:
        kept = compiled._driver_cursor(wrapper(closing))
        assert compiled._driver_cursor(wrapper(closing)) is kept
        closing.close()

        compiled._driver_cursor(wrapper(later))

        assert id(closing) not in compiled._driver_cursors
        assert compiled._driver_cursors[id(later)].connection is later
    finally:
        later.close()
        for test_connection in (closing, later):  # nothing of this test stays in the module's cache
            compiled._driver_cursors.pop(id(test_connection), None)
