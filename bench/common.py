"""Shared helpers of the harness: process accounting, statistics, the machine, output.

Nothing here imports Django: the generator must stay lean, and the server's
settings must come only from the environment the harness gives it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

PACKAGES = [
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "orjson",
    "redis",
    "hiredis",
    "psycopg",
    "Twisted",
    "autobahn",
    "py-spy",
]


# --- Colour -------------------------------------------------------------------


def _colour_enabled() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def red(text: str) -> str:
    return f"\033[1;31m{text}\033[0m" if _colour_enabled() else text


def green(text: str) -> str:
    return f"\033[32m{text}\033[0m" if _colour_enabled() else text


def yellow(text: str) -> str:
    return f"\033[33m{text}\033[0m" if _colour_enabled() else text


# --- Processes -------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_loop_thread_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process's main thread: for the server, its event loop (the rest of
    ``proc_cpu_seconds`` is its other threads: database threads, the driver's pool...)."""
    with open(f"/proc/{pid}/task/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _proc_field(pid: int, name: str, field: str) -> int:
    """The number after ``field:`` in /proc/<pid>/<name> (0 when absent)."""
    prefix = field + ":"
    with open(f"/proc/{pid}/{name}") as lines:
        for line in lines:
            if line.startswith(prefix):
                return int(line.split()[1])
    return 0


def proc_rss_kib(pid: int) -> int:
    """Resident set size in KiB (VmRSS of /proc/<pid>/status)."""
    return _proc_field(pid, "status", "VmRSS")


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1_048_576
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_to(cpus: list[int]) -> None:
    """Pin this process to ``cpus`` (the generator's core), when the machine has them."""
    available = os.sched_getaffinity(0)
    wanted = {cpu for cpu in cpus if cpu in available} if cpus else set()
    if wanted:
        os.sched_setaffinity(0, wanted)


def proc_run_wait_seconds(pid: int) -> float:
    """Seconds the process's threads spent runnable but waiting for a CPU (schedstat field 2).

    On a shared machine this is the time other processes took from the
    server: a high figure means the measurement is about the neighbours.
    """
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        return 0.0
    return total / 1e9


def proc_write_calls(pid: int) -> int:
    """System calls of a process that wrote (``syscw`` of /proc/<pid>/io): sockets' writes, mostly. A
    count, not a time: it compares two runs on a machine whose speed moves between them."""
    return _proc_field(pid, "io", "syscw")


def cores_busy_seconds(cpus: list[int]) -> tuple[float, float]:
    """Seconds ``cpus`` together spent busy (any process, interrupts too) and idle (idle + iowait), from
    /proc/stat: with a process's own CPU over the same window, how much of its cores others took."""
    busy = idle = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *ticks = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            values = [int(t) for t in ticks[:8]]  # user nice system idle iowait irq softirq steal
            idle += values[3] + values[4]
            busy += sum(values) - values[3] - values[4]
    return busy / CLOCK_TICKS, idle / CLOCK_TICKS


class CpuMeter:
    """CPU used by a set of processes between start() and stop(), in % of one core,
    and the time they waited for a CPU (``waits``, same unit)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._start: dict[int, float] = {}
        self._wait: dict[int, float] = {}
        self._t0 = 0.0
        self.waits: dict[int, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._start = {pid: proc_cpu_seconds(pid) for pid in self.pids}
        self._wait = {pid: proc_run_wait_seconds(pid) for pid in self.pids}

    def stop(self) -> dict[int, float]:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        self.waits = {pid: 100.0 * (proc_run_wait_seconds(pid) - self._wait[pid]) / elapsed for pid in self.pids}
        return {pid: 100.0 * (proc_cpu_seconds(pid) - self._start[pid]) / elapsed for pid in self.pids}


# --- Statistics -----------------------------------------------------------------


def percentile(sorted_values: list[float] | Any, fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted sequence."""
    count = len(sorted_values)
    if count == 0:
        return None
    rank = max(1, min(count, int(-(-fraction * count // 1))))
    return float(sorted_values[rank - 1])


def latency_summary(latencies_ms: list[float]) -> dict[str, float | int | None]:
    values = sorted(latencies_ms)
    return {
        "count": len(values),
        "p50_ms": percentile(values, 0.50),
        "p95_ms": percentile(values, 0.95),
        "p99_ms": percentile(values, 0.99),
        "max_ms": float(values[-1]) if values else None,
        "mean_ms": (sum(values) / len(values)) if values else None,
    }


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def fmt_num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


# --- The machine and the software -------------------------------------------------


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine_info() -> dict[str, Any]:
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_mib": mem_kib // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_interpreter": interpreter(),
    }


def interpreter() -> str:
    """The interpreter the venv (and so every server) runs on: its build moves every CPU figure
    (``scripts/venv-python``; docs/benchmarks.md, "The interpreter")."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}{'-dirty' if dirty else ''}" if rev else None


# --- Output -------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(_strip_ansi(cell)))

        def line(cells: list[str]) -> str:
            return "  ".join(cell + " " * (widths[i] - len(_strip_ansi(cell))) for i, cell in enumerate(cells))

        out = [line(self.headers), "  ".join("-" * w for w in widths)]
        out.extend(line(row) for row in self.rows)
        return "\n".join(out)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\033\[[0-9;]*m", "", text)


def write_result(scenario: str, payload: dict[str, Any], path: str | None = None) -> Path:
    """Write the run's JSON (figures, settings, versions, machine) and return its path."""
    if path:
        target = Path(path)
    else:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = RESULTS_DIR / f"{scenario}-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "scenario": scenario,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": git_revision(),
        "machine": machine_info(),
        "versions": package_versions(),
        **payload,
    }
    target.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return target
