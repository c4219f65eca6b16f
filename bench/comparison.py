"""Several runs of one scenario, alternating the code under test with a baseline, summed up as medians.

On this shared machine the same command gives figures a fifth apart from one
minute to the next (docs/benchmarks.md), so a change shows only against a
baseline measured in the same window: runs that alternate the two trees, each
figure quoted as the median with every run beside it. ``--runs N --baseline
REV`` does that and prints the table the docs quote; without ``--baseline`` it
gives the medians of N runs of one tree. Nothing here imports Django.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from typing import Any

from .common import Table

Figure = Callable[[dict[str, Any]], float | None]

# The scenarios that take --runs and --baseline (saturation steps its own rate; all runs each once).
SCENARIOS_COMPARED = ("fan-out", "connections", "history", "connect-steps")


def _first(values: list[float] | None) -> float | None:
    return values[0] if values else None


# The figures each scenario's comparison quotes, read from its JSON document (what ``write_result`` wrote).
KEY_FIGURES: dict[str, list[tuple[str, Figure]]] = {
    "fan-out": [
        ("delivered/s", lambda d: d["step"]["delivered_per_s"]),
        ("p50 ms", lambda d: d["step"]["latency"]["p50_ms"]),
        ("p99 ms", lambda d: d["step"]["latency"]["p99_ms"]),
        ("us/dlv", lambda d: d["step"]["server_cpu_us_per_delivery"]),
        ("srv wait%", lambda d: max(d["step"]["server_cpu_wait_percent"] or [0])),
    ],
    "connections": [
        ("connects/s", lambda d: d["figures"]["connect"]["connects_per_s"]),
        ("ms/connect", lambda d: d["figures"]["server_cpu_ms_per_connect"]),
        ("other-threads ms", lambda d: d["figures"].get("server_cpu_ms_per_connect_other_threads")),
        ("gc ms", lambda d: d["figures"].get("server_cpu_ms_per_connect_gc")),
        ("KiB/socket", lambda d: _first(d["figures"]["rss_per_connection_kib"])),
    ],
    "connect-steps": [
        # .get: runs of bench code from before a step was added have none of it
        (f"{step} us", lambda d, step=step: d["figures"]["steps"].get(step, {}).get("us_per_call"))
        for step in ("token", "load", "load_batched", "presence_ask", "snapshot")
    ],
    "history": [
        ("req/s", lambda d: d["figures"]["total_requests_per_s"]),
        ("ms/request", lambda d: d["figures"].get("server_cpu_ms_per_request")),
        ("srv wait%", lambda d: max(d["figures"]["server_cpu_wait_percent"] or [0])),
    ],
}


def key_figures(scenario: str, document: dict[str, Any]) -> dict[str, float | None]:
    """The figures a comparison quotes from one run's document (None where the run has none)."""
    figures: dict[str, float | None] = {}
    for name, read in KEY_FIGURES[scenario]:
        try:
            figures[name] = read(document)
        except (KeyError, TypeError, IndexError):
            figures[name] = None
    return figures


def run_passed(scenario: str, run: dict[str, Any]) -> bool:
    """Whether a run counts: it ended well and wrote its document, every delivery was audited (fan-out),
    every socket connected and stayed open (connections)."""
    document = run.get("document") or {}
    if run.get("exit_code", 0) != 0 or not document:
        return False
    if scenario == "fan-out":
        return bool(document.get("audit", {}).get("ok"))
    if scenario == "connections":
        figures = document.get("figures", {})
        failed = figures.get("connect", {}).get("failed")
        return failed == 0 and figures.get("open_after_idle") == figures.get("connections")
    return True


def alternating(sources: list[str], runs: int) -> Iterator[tuple[int, str]]:
    """(round, source) in the order to run them: A B, then B A, ... so drift over the sitting falls on both."""
    for round_index in range(runs):
        order = sources if round_index % 2 == 0 else list(reversed(sources))
        for source in order:
            yield round_index, source


def _format(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def median_with_runs(median: float | None, values: list[float | None]) -> str:
    """``median (run, run, ...)``, the runs in the order they ran: how docs/benchmarks.md quotes a figure."""
    if median is None and all(v is None for v in values):
        return "-"
    return f"{_format(median)} ({', '.join(_format(v) for v in values)})"


def summarise(scenario: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per source (in the order each first ran), each key figure's median and its runs; ``runs`` are
    ``{"source", "document", "exit_code"}`` in the order they ran. A failed run is counted, and its figures
    (if any) are listed, but left out of the medians."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_source.setdefault(run["source"], []).append(run)
    summary = {}
    for source, source_runs in by_source.items():
        figures = [key_figures(scenario, run.get("document") or {}) for run in source_runs]
        passed = [run_passed(scenario, run) for run in source_runs]
        summary[source] = {
            "runs": len(source_runs),
            "failed_runs": passed.count(False),
            "medians": {
                name: _median([f[name] for f, ok in zip(figures, passed, strict=True) if ok])
                for name, _ in KEY_FIGURES[scenario]
            },
            "values": {name: [f[name] for f in figures] for name, _ in KEY_FIGURES[scenario]},
        }
    return summary


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def render(scenario: str, summary: dict[str, Any]) -> str:
    """The comparison as a table: one row per source, each figure as ``median (runs)``."""
    names = [name for name, _ in KEY_FIGURES[scenario]]
    rows = []
    for source, entry in summary.items():
        failed = f", {entry['failed_runs']} failed" if entry["failed_runs"] else ""
        runs = f"{entry['runs']} run{'s' if entry['runs'] != 1 else ''}"
        rows.append(
            [f"{source} ({runs}{failed})"]
            + [median_with_runs(entry["medians"][name], entry["values"][name]) for name in names]
        )
    return Table(["code", *[f"{name}: median (runs)" for name in names]], rows).render()
