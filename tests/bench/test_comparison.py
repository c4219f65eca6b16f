"""``--runs N --baseline REV``: alternating runs of two trees, quoted as medians with every run beside them.

The pure parts (which figures, in which order the trees run, the medians) are
checked on documents shaped as the scenarios write them; one tiny fan-out
against the last commit checks the whole loop with real server processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.comparison import alternating, key_figures, median_with_runs, render, run_passed, summarise

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _connections_document(
    rate: float, ms: float, kib: float, *, db_ms: float = 1.0, gc_ms: float = 0.1, open_after_idle: int = 5000
) -> dict:
    return {
        "figures": {
            "connections": 5000,
            "open_after_idle": open_after_idle,
            "connect": {"connects_per_s": rate, "failed": 0},
            "server_cpu_ms_per_connect": ms,
            "server_cpu_ms_per_connect_other_threads": db_ms,
            "server_cpu_ms_per_connect_gc": gc_ms,
            "rss_per_connection_kib": [kib],
        }
    }


def test_the_trees_alternate_their_order_each_round_so_drift_falls_on_both():
    assert list(alternating(["HEAD", "base"], 3)) == [
        (0, "HEAD"),
        (0, "base"),
        (1, "base"),
        (1, "HEAD"),
        (2, "HEAD"),
        (2, "base"),
    ]


def test_a_connections_run_is_quoted_by_its_rate_its_cpu_per_connect_and_its_memory_per_socket():
    assert key_figures("connections", _connections_document(153.0, 5.57, 9.6, db_ms=1.25, gc_ms=0.11)) == {
        "connects/s": 153.0,
        "ms/connect": 5.57,
        "other-threads ms": 1.25,
        "gc ms": 0.11,
        "KiB/socket": 9.6,
    }


def test_a_figure_missing_from_a_run_is_none_not_an_error():
    assert key_figures("fan-out", {"step": {}}) == dict.fromkeys(
        ["delivered/s", "p50 ms", "p99 ms", "us/dlv", "srv wait%"]
    )


def test_each_tree_gets_the_median_of_its_own_runs_listed_in_the_order_they_ran():
    runs = [
        {"source": "HEAD", "document": _connections_document(194, 4.51, 9.7)},
        {"source": "base", "document": _connections_document(159, 5.22, 9.6)},
        {"source": "base", "document": _connections_document(195, 4.64, 10.0)},
        {"source": "HEAD", "document": _connections_document(153, 5.57, 9.6)},
        {"source": "HEAD", "document": _connections_document(146, 5.87, 9.6)},
    ]

    summary = summarise("connections", runs)

    assert list(summary) == ["HEAD", "base"]
    assert summary["HEAD"]["medians"] == {
        "connects/s": 153,
        "ms/connect": 5.57,
        "other-threads ms": 1.0,
        "gc ms": 0.1,
        "KiB/socket": 9.6,
    }
    assert summary["base"]["medians"] == {
        "connects/s": 177.0,
        "ms/connect": 4.93,
        "other-threads ms": 1.0,
        "gc ms": 0.1,
        "KiB/socket": 9.8,
    }
    assert summary["HEAD"]["values"]["connects/s"] == [194, 153, 146]
    assert "153 (194, 153, 146)" in render("connections", summary)


def test_a_run_that_lost_sockets_is_counted_as_failed_and_left_out_of_the_medians():
    runs = [
        {"source": "HEAD", "document": _connections_document(150, 5.0, 9.5)},
        {"source": "HEAD", "document": _connections_document(90, 9.0, 12.0, open_after_idle=4990)},
    ]

    summary = summarise("connections", runs)

    assert summary["HEAD"]["failed_runs"] == 1
    assert summary["HEAD"]["medians"] == {
        "connects/s": 150,
        "ms/connect": 5.0,
        "other-threads ms": 1.0,
        "gc ms": 0.1,
        "KiB/socket": 9.5,
    }
    assert "HEAD (2 runs, 1 failed)" in render("connections", summary)


def test_a_run_that_ended_in_an_error_is_failed_whatever_its_document_says():
    assert run_passed("connections", {"document": _connections_document(150, 5.0, 9.5), "exit_code": 0})
    assert not run_passed("connections", {"document": _connections_document(150, 5.0, 9.5), "exit_code": 1})
    assert not run_passed("connections", {"document": {}, "exit_code": 0})  # a run that wrote no document


def test_a_connections_run_with_failed_connects_is_failed():
    document = _connections_document(150, 5.0, 9.5)
    document["figures"]["connect"]["failed"] = 3

    assert not run_passed("connections", {"document": document, "exit_code": 0})


def test_a_fan_out_run_counts_only_when_its_audit_passed():
    assert run_passed("fan-out", {"document": {"audit": {"ok": True}}, "exit_code": 0})
    assert not run_passed("fan-out", {"document": {"audit": {"ok": False}}, "exit_code": 0})


def test_a_figure_with_no_value_in_any_run_is_a_dash():
    assert median_with_runs(None, [None, None]) == "-"
    assert median_with_runs(3.0, [2.5, None, 3.5]) == "3.00 (2.50, -, 3.50)"


def test_one_run_is_said_in_the_singular():
    summary = summarise("connections", [{"source": "HEAD", "document": _connections_document(150, 5.0, 9.5)}])

    assert "HEAD (1 run)" in render("connections", summary)


@pytest.mark.servers
def test_one_round_against_the_last_commit_runs_both_trees_and_writes_the_medians(tmp_path):
    out = tmp_path / "comparison.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "fan-out",
            "--backend=embedded",
            "--rooms=2",
            "--members=5",
            "--rate=10",
            "--duration=1",
            "--warmup=0",
            "--runs=1",
            "--baseline=HEAD",
            "--json-out",
            str(out),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=110,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out.read_text())
    assert document["sources"] == ["worktree", "HEAD"]
    assert [(run["source"], run["passed"]) for run in document["runs"]] == [("worktree", True), ("HEAD", True)]
    assert all(Path(run["json"]).parent == tmp_path for run in document["runs"])
    assert document["summary"]["HEAD"]["medians"]["delivered/s"] > 0
    assert "medians over 1 run(s) per tree" in result.stdout


def test_a_baseline_that_names_the_tree_under_test_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "bench", "connections", "--source=HEAD", "--baseline=HEAD"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "--baseline names the same tree as --source" in result.stderr


def test_a_connect_steps_run_is_quoted_by_the_cpu_of_each_step():
    steps = {
        name: {"us_per_call": value, "rounds": [value]}
        for name, value in (("token", 290.0), ("load", 1100.0), ("presence_ask", 210.0), ("snapshot", 60.0))
    }

    figures = key_figures("connect-steps", {"figures": {"steps": steps}})

    assert figures == {
        "token us": 290.0,
        "load us": 1100.0,
        "load_batched us": None,  # a run of bench code from before the step
        "presence_ask us": 210.0,
        "snapshot us": 60.0,
    }
