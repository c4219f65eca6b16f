"""The bench's store figures: Redis commandstats deltas and pg_stat_statements summaries (no timings)."""

from __future__ import annotations

import pytest

from bench.storestats import (
    commandstats_delta,
    net_per_unit,
    parse_commandstats,
    summarise_redis,
    summarise_statements,
)


def test_commandstats_are_parsed_from_redis_py_dicts_and_from_raw_strings():
    info = {
        "cmdstat_spublish": {"calls": 10, "usec": 95, "usec_per_call": 9.5, "rejected_calls": 0},
        "cmdstat_client|setname": "calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0",
        "errorstat_ERR": {"count": 1},
    }

    assert parse_commandstats(info) == {"SPUBLISH": (10, 95), "CLIENT|SETNAME": (2, 3)}


def test_a_delta_counts_new_commands_from_zero_and_drops_idle_or_reset_ones():
    before = {"SPUBLISH": (10, 100), "PING": (5, 5), "EVAL": (50, 900)}
    after = {"SPUBLISH": (30, 340), "PING": (5, 5), "EVAL": (3, 40), "SSUBSCRIBE": (4, 8)}

    assert commandstats_delta(before, after) == {"SPUBLISH": (20, 240), "SSUBSCRIBE": (4, 8)}


def test_redis_summary_sums_commands_over_masters_per_unit_with_usec_per_call_and_cpu():
    before = {
        "a:1": {"commands": {"SPUBLISH": (100, 1000)}, "cpu_seconds": 1.0},
        "b:2": {"commands": {}, "cpu_seconds": 2.0},
    }
    after = {
        "a:1": {"commands": {"SPUBLISH": (160, 1600)}, "cpu_seconds": 1.5},
        "b:2": {"commands": {"SPUBLISH": (40, 800), "EVAL": (10, 300)}, "cpu_seconds": 2.1},
    }

    summary = summarise_redis(before, after, units=100)

    spublish = summary["commands"]["SPUBLISH"]
    assert (spublish["calls"], spublish["usec"]) == (100, 1400)
    assert spublish["usec_per_call"] == 14.0
    assert spublish["calls_per_unit"] == 1.0
    assert spublish["per_node_usec_per_call"] == {"a:1": 10.0, "b:2": 20.0}
    assert spublish["calls_per_core_second"] == round(1e6 / 14)
    assert summary["commands"]["EVAL"]["usec_per_call"] == 30.0
    assert list(summary["commands"]) == ["SPUBLISH", "EVAL"]  # most Redis time first
    assert summary["cpu_us_per_unit"] == pytest.approx(6000.0)  # 0.6 s over 100 messages


def test_statement_summary_gives_per_unit_figures_and_the_top_statements_by_time():
    rows = [
        ("INSERT INTO chat_message (...) VALUES ($1, $2)", 100, 30.0, 100),
        ("SELECT  1\n FROM room WHERE id = $1 FOR UPDATE", 100, 10.0, 100),
        ("COMMIT", 100, 5.0, 0),
        ("BEGIN", 100, 5.0, 0),
    ]

    summary = summarise_statements(rows, units=100, top=3)

    assert summary["statements_per_unit"] == 4.0
    assert summary["exec_ms_per_unit"] == 0.5
    assert summary["units_per_core_second_by_exec"] == 2000
    assert [row["query"] for row in summary["top"]] == [
        "INSERT INTO chat_message (...) VALUES ($1, $2)",
        "SELECT 1 FROM room WHERE id = $1 FOR UPDATE",
        "COMMIT",
    ]
    assert summary["top"][0]["percent_of_exec"] == 60.0
    assert summary["top"][0]["ms_per_call"] == 0.3


def test_summaries_of_an_empty_window_do_not_divide_by_zero():
    assert summarise_statements([], units=0)["exec_ms_per_unit"] is None
    assert summarise_redis({}, {}, units=0)["cpu_us_per_unit"] is None


def test_foreign_key_checks_are_counted_apart_not_added_to_the_statement_that_fired_them():
    rows = [
        ("WITH room AS (UPDATE chat_room ...) INSERT INTO chat_message ...", 10, 4.0, 10),
        (
            'SELECT 1 FROM ONLY "public"."accounts_user" x WHERE "id" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x',
            10,
            0.1,
            10,
        ),
    ]

    summary = summarise_statements(rows, units=10)

    assert summary["statements_per_unit"] == 1.0
    assert summary["exec_ms_per_unit"] == 0.4
    assert summary["foreign_key_checks_per_unit"] == 1.0
    assert len(summary["top"]) == 1


def test_net_cpu_per_unit_takes_off_what_the_idle_store_would_have_used():
    assert net_per_unit(1.5, 0.5, units=1000, scale=1e6) == 1000.0  # us per unit
    assert net_per_unit(0.2, 0.5, units=1000, scale=1e3) == 0.0  # never negative
    assert net_per_unit(1.0, 0.0, units=0, scale=1e3) is None
