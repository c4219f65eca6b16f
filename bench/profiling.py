"""Sampling profiles of the server under load (py-spy), summarised as text.

py-spy records collapsed stacks (``--format raw``); the summary names the
functions where the server's samples land (self) and the ones they pass
through (inclusive), and sorts samples into a few areas a reader can act on
(database, channel layer, WebSocket protocol, JSON, ...).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

AREAS = [
    ("database (Django ORM + driver)", ("django/db/", "psycopg", "sqlite3")),
    ("channel layer (channels_redis / in-memory)", ("channels_redis/", "channels/layers.py")),
    ("redis client", ("redis/",)),
    ("sync_to_async / thread hand-off", ("asgiref/sync.py", "concurrent/futures", "threading.py", "channels/db.py")),
    ("Confab actions + payloads", ("chat/actions.py", "chat/events.py", "chat/queries.py", "chat/rendering.py")),
    ("Markdown + sanitiser", ("markdown_it/", "nh3")),
    ("Confab consumer", ("chat/consumers.py",)),
    ("Channels consumer machinery", ("channels/consumer.py", "channels/generic/", "channels/utils.py")),
    ("WebSocket protocol (autobahn / websockets)", ("autobahn/", "websockets/", "daphne/ws_protocol.py")),
    ("ASGI server (daphne / twisted / uvicorn)", ("daphne/", "twisted/", "uvicorn/")),
    ("JSON (orjson / json)", ("orjson", "json/")),
    ("asyncio event loop", ("asyncio/", "uvloop")),
]


def available() -> bool:
    return shutil.which("py-spy") is not None or (Path(sys.executable).parent / "py-spy").exists()


def start(pid: int, duration: float | None, out_path: Path, cpus: list[int] | None = None) -> subprocess.Popen:
    """Record ``pid`` for ``duration`` seconds (or until ``stop``); py-spy runs on the generator's core."""
    binary = str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        binary = shutil.which("py-spy") or "py-spy"
    command = [binary, "record", "--pid", str(pid), "--rate", "200"]
    if duration:
        command += ["--duration", str(int(duration))]
    # --gil: only the thread holding the GIL, i.e. where the process's Python CPU goes (a thread
    # waiting for PostgreSQL or for the GIL itself would otherwise look busy).
    command += ["--format", "raw", "--output", str(out_path), "--nonblocking", "--gil"]
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen, timeout: float = 30) -> str:
    """End an open-ended recording (py-spy writes its output on SIGINT); returns its stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err or ""


def _parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        stack_text, _, count = line.rpartition(" ")
        try:
            samples = int(count)
        except ValueError:
            continue
        frames = []
        for raw in stack_text.split(";"):
            match = FRAME.match(raw)
            if match:
                frames.append((match["func"], _short(match["file"])))
            else:
                frames.append((raw, ""))
        stacks.append((frames, samples))
    return stacks


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarise(path: Path, top: int = 25) -> dict:
    stacks = _parse(path)
    total = sum(samples for _, samples in stacks) or 1
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    areas: Counter = Counter()
    for frames, samples in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        self_time[f"{leaf[0]} ({leaf[1]})"] += samples
        for key in {f"{f} ({file})" for f, file in frames}:
            inclusive[key] += samples
        areas[_area(frames)] += samples

    def table(counter: Counter) -> list[dict]:
        return [{"frame": k, "percent": round(100.0 * v / total, 1)} for k, v in counter.most_common(top)]

    return {
        "samples": total,
        "areas": [{"area": k, "percent": round(100.0 * v / total, 1)} for k, v in areas.most_common()],
        "self": table(self_time),
        "inclusive": table(inclusive),
    }


def _area(frames: list[tuple[str, str]]) -> str:
    """The area of a sample: the innermost frame that belongs to a named area."""
    for func, file in reversed(frames):
        for name, markers in AREAS:
            if any(marker in file or marker in func for marker in markers):
                return name
    return "other"


def render(summary: dict, top: int = 15) -> str:
    lines = [f"profile: {summary['samples']} samples"]
    lines.append("  where the time goes (innermost known area):")
    for row in summary["areas"]:
        lines.append(f"    {row['percent']:5.1f}%  {row['area']}")
    lines.append("  top frames, self:")
    for row in summary["self"][:top]:
        lines.append(f"    {row['percent']:5.1f}%  {row['frame']}")
    lines.append("  top frames, inclusive:")
    for row in summary["inclusive"][:top]:
        lines.append(f"    {row['percent']:5.1f}%  {row['frame']}")
    return "\n".join(lines)
