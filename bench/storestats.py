"""What the stores did during a measured window: Redis commands and CPU, PostgreSQL statements.

Redis: ``INFO commandstats`` and ``INFO cpu`` of every master (one for a plain Redis), read before and
after the window; the deltas give, per command, the calls per message sent (or per connect) and the
microseconds each call took inside Redis (``usec_per_call`` of the window, not of the server's life),
and Redis's own CPU per message. ``usec`` counts a command's execution only: for ``SPUBLISH`` that is
queueing the message for each subscriber, while writing the queued bytes to their sockets happens after
the command, so the masters' CPU (``used_cpu_user`` + ``used_cpu_sys``) is the figure that includes it.
A plain Redis's figures include every other client of that server (commandstats are per server, not per
database): only a Redis the bench runs alone is clean.

PostgreSQL: ``pg_stat_statements`` of the bench's private PostgreSQL (``--private-postgres``), reset at
the start of the window: statements (calls), execution time and the top statements, per message sent.
Execution time excludes the commit's WAL flush, so the postgres processes' CPU is read too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# --- Redis ------------------------------------------------------------------------------------


def parse_commandstats(info: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """``INFO commandstats`` as redis-py parses it -> {command: (calls, usec)}.

    Keys look like ``cmdstat_spublish`` (``cmdstat_client|setname`` for subcommands); values are
    dicts with ``calls`` and ``usec`` (or, from a raw reply, ``calls=3,usec=40,...`` strings).
    """
    parsed: dict[str, tuple[int, int]] = {}
    for key, value in info.items():
        if not key.startswith("cmdstat_"):
            continue
        if isinstance(value, str):
            value = dict(item.split("=", 1) for item in value.split(","))
        parsed[key[len("cmdstat_") :].upper()] = (int(value["calls"]), int(value["usec"]))
    return parsed


def commandstats_delta(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """Calls and usec per command between two snapshots of one node (a command new in ``after`` counts
    from zero; a node restarted in between shows a drop, which is clamped to zero)."""
    delta = {}
    for command, (calls, usec) in after.items():
        calls0, usec0 = before.get(command, (0, 0))
        if calls > calls0:
            delta[command] = (calls - calls0, max(0, usec - usec0))
    return delta


def summarise_redis(
    nodes_before: dict[str, dict[str, Any]], nodes_after: dict[str, dict[str, Any]], units: int
) -> dict[str, Any]:
    """Per command over all nodes: calls, calls per unit, usec per call; and each node's CPU.

    ``nodes_*`` map a node name to {"commands": parse_commandstats(...), "cpu_seconds": float}.
    ``units`` is what the window is counted in (messages sent, connections opened, requests).
    """
    commands: dict[str, dict[str, Any]] = {}
    cpu: dict[str, float] = {}
    for node, after in nodes_after.items():
        before = nodes_before.get(node)
        if before is None:
            continue
        cpu[node] = max(0.0, after["cpu_seconds"] - before["cpu_seconds"])
        for command, (calls, usec) in commandstats_delta(before["commands"], after["commands"]).items():
            entry = commands.setdefault(command, {"calls": 0, "usec": 0, "per_node_usec_per_call": {}})
            entry["calls"] += calls
            entry["usec"] += usec
            entry["per_node_usec_per_call"][node] = round(usec / calls, 2)
    for entry in commands.values():
        entry["usec_per_call"] = round(entry["usec"] / entry["calls"], 2)
        entry["calls_per_unit"] = round(entry["calls"] / units, 3) if units else None
        entry["usec_per_unit"] = round(entry["usec"] / units, 2) if units else None
        # One Redis core executing nothing but this command, at this cost per call.
        entry["calls_per_core_second"] = round(1e6 / (entry["usec"] / entry["calls"])) if entry["usec"] else None
    total_cpu = sum(cpu.values())
    return {
        "units": units,
        "commands": dict(sorted(commands.items(), key=lambda item: -item[1]["usec"])),
        "cpu_seconds": {node: round(seconds, 4) for node, seconds in cpu.items()},
        "cpu_us_per_unit": round(1e6 * total_cpu / units, 2) if units else None,
    }


def redis_nodes(url: str) -> list[tuple[str, int, int]]:
    """(host, port, db) of every master: the cluster's primaries, or the one Redis of a plain URL."""
    import redis

    from core.redis import cluster_nodes, is_cluster_url

    if is_cluster_url(url):
        host, port = cluster_nodes(url)[0]
        cluster = redis.RedisCluster(host=host, port=port)
        try:
            return sorted((node.host, int(node.port), 0) for node in cluster.get_primaries())
        finally:
            cluster.close()
    client = redis.Redis.from_url(url)
    kwargs = client.connection_pool.connection_kwargs
    client.close()
    return [(kwargs.get("host", "127.0.0.1"), int(kwargs.get("port", 6379)), int(kwargs.get("db", 0)))]


def redis_snapshot(nodes: list[tuple[str, int, int]]) -> dict[str, dict[str, Any]]:
    import redis

    snapshot = {}
    for host, port, _db in nodes:
        client = redis.Redis(host=host, port=port, socket_timeout=5)
        try:
            info = client.info("commandstats", "cpu")  # one INFO: the bench's own calls show as INFO
        finally:
            client.close()
        snapshot[f"{host}:{port}"] = {
            "commands": parse_commandstats(info),
            "cpu_seconds": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        }
    return snapshot


# --- PostgreSQL -------------------------------------------------------------------------------


def summarise_statements(rows: list[tuple[str, int, float, int]], units: int, top: int = 8) -> dict[str, Any]:
    """pg_stat_statements rows (query, calls, total_exec_time ms, rows) -> per-unit figures.

    The sends/s one PostgreSQL core sustains by execution time is 1000 / (ms per unit): an upper
    bound, since the commit's WAL flush (``synchronous_commit`` on) and the protocol's own work are
    not in any statement's execution time.
    """
    # Foreign-key checks run inside the statement that fired them (its time includes theirs):
    # reported apart, not added again.
    internal = [row for row in rows if _is_fk_check(row[0])]
    rows = [row for row in rows if not _is_fk_check(row[0])]
    calls = sum(row[1] for row in rows)
    exec_ms = sum(row[2] for row in rows)
    ordered = sorted(rows, key=lambda row: -row[2])
    ms_per_unit = exec_ms / units if units else None
    return {
        "units": units,
        "statements": calls,
        "statements_per_unit": round(calls / units, 2) if units else None,
        "exec_ms": round(exec_ms, 2),
        "exec_ms_per_unit": round(ms_per_unit, 4) if ms_per_unit is not None else None,
        "units_per_core_second_by_exec": round(1000 / ms_per_unit) if ms_per_unit else None,
        "foreign_key_checks_per_unit": round(sum(row[1] for row in internal) / units, 2) if units else None,
        "top": [
            {
                "query": " ".join(query.split())[:160],
                "calls_per_unit": round(n / units, 3) if units else None,
                "ms_per_call": round(ms / n, 4) if n else None,
                "percent_of_exec": round(100 * ms / exec_ms, 1) if exec_ms else None,
            }
            for query, n, ms, _rows in ordered[:top]
        ],
    }


def _is_fk_check(query: str) -> bool:
    return query.lstrip().startswith("SELECT 1 FROM ONLY ") and "FOR KEY SHARE" in query


# --- Both, around a window ----------------------------------------------------------------------


@dataclass
class StoreStats:
    """Snapshots of the stores around one measured window; ``report(units)`` gives the deltas."""

    redis_url: str | None
    postgres: Any = None  # a bench.privatepg.PrivatePostgres, or None (the shared database is not reset)
    _redis_nodes: list[tuple[str, int, int]] = field(default_factory=list)
    _redis_before: dict[str, Any] = field(default_factory=dict)
    _pg_cpu_before: float = 0.0
    _t0: float = 0.0
    baseline_seconds: float = 2.0
    _redis_idle_cpu_per_s: float = 0.0
    _pg_idle_cpu_per_s: float = 0.0

    def begin(self) -> None:
        """Snapshot the stores; first, their CPU over ``baseline_seconds`` with the servers idle (a
        cluster's cron and bus, PostgreSQL's background writers), to subtract from the window's."""
        if self.redis_url:
            self._redis_nodes = redis_nodes(self.redis_url)
        if self.baseline_seconds > 0:
            redis0 = _total_cpu(redis_snapshot(self._redis_nodes)) if self.redis_url else 0.0
            pg0 = self.postgres.cpu_seconds() if self.postgres is not None else 0.0
            time.sleep(self.baseline_seconds)
            if self.redis_url:
                self._redis_idle_cpu_per_s = (
                    _total_cpu(redis_snapshot(self._redis_nodes)) - redis0
                ) / self.baseline_seconds
            if self.postgres is not None:
                self._pg_idle_cpu_per_s = (self.postgres.cpu_seconds() - pg0) / self.baseline_seconds
        self._t0 = time.monotonic()
        if self.redis_url:
            self._redis_before = redis_snapshot(self._redis_nodes)
        if self.postgres is not None:
            self.postgres.reset_statements()
            self._pg_cpu_before = self.postgres.cpu_seconds()

    def report(self, units: int, unit: str) -> dict[str, Any]:
        seconds = time.monotonic() - self._t0
        out: dict[str, Any] = {"unit": unit, "seconds": round(seconds, 2)}
        if self.redis_url:
            redis_part = summarise_redis(self._redis_before, redis_snapshot(self._redis_nodes), units)
            redis_part["masters"] = len(self._redis_nodes)
            redis_part["idle_cpu_percent"] = round(100 * self._redis_idle_cpu_per_s, 2)
            redis_part["net_cpu_us_per_unit"] = net_per_unit(
                sum(redis_part["cpu_seconds"].values()), self._redis_idle_cpu_per_s * seconds, units, 1e6
            )
            out["redis"] = redis_part
        if self.postgres is not None:
            cpu = self.postgres.cpu_seconds() - self._pg_cpu_before
            pg = summarise_statements(self.postgres.statements(), units)
            pg["process_cpu_ms_per_unit"] = round(1000 * cpu / units, 4) if units else None
            pg["idle_cpu_percent"] = round(100 * self._pg_idle_cpu_per_s, 2)
            pg["net_process_cpu_ms_per_unit"] = net_per_unit(cpu, self._pg_idle_cpu_per_s * seconds, units, 1e3)
            net = pg["net_process_cpu_ms_per_unit"]
            pg["units_per_core_second_by_cpu"] = round(1000 / net) if net else None
            pg["settings"] = self.postgres.settings()
            out["postgres"] = pg
        return out


def _total_cpu(snapshot: dict[str, dict[str, Any]]) -> float:
    return sum(node["cpu_seconds"] for node in snapshot.values())


def net_per_unit(cpu_seconds: float, idle_seconds: float, units: int, scale: float) -> float | None:
    """(CPU of the window - what the idle stores would have used anyway) per unit, in 1/scale seconds."""
    if not units:
        return None
    return round(scale * max(0.0, cpu_seconds - idle_seconds) / units, 4)


def render(report: dict[str, Any], top_commands: int = 6) -> str:
    unit = report["unit"]
    lines = []
    redis_part = report.get("redis")
    if redis_part:
        lines.append(
            f"redis ({redis_part['masters']} master{'s' if redis_part['masters'] != 1 else ''}), per {unit}: "
            f"CPU {redis_part['net_cpu_us_per_unit']} us net of idle ({redis_part['cpu_us_per_unit']} gross; idle "
            f"{redis_part['idle_cpu_percent']}% of a core; used_cpu_user+sys, all masters)"
        )
        for command, entry in list(redis_part["commands"].items())[:top_commands]:
            per_node = ", ".join(f"{v:g}" for v in entry["per_node_usec_per_call"].values())
            lines.append(
                f"  {command:<12} {entry['calls_per_unit']:>8.3f} calls x {entry['usec_per_call']:>6.2f} us"
                f" (per master: {per_node}); {entry['calls']} calls; one core: {entry['calls_per_core_second']}/s"
            )
    pg = report.get("postgres")
    if pg:
        lines.append(
            f"postgresql, per {unit}: {pg['statements_per_unit']} statements, {pg['exec_ms_per_unit']} ms execution, "
            f"{pg['net_process_cpu_ms_per_unit']} ms CPU of the postgres processes net of idle "
            f"({pg['process_cpu_ms_per_unit']} gross; idle {pg['idle_cpu_percent']}% of a core); "
            f"{pg['foreign_key_checks_per_unit']} foreign-key checks inside them"
        )
        lines.append(
            f"  one PostgreSQL core: at most {pg['units_per_core_second_by_exec']} {unit}s/s by execution time "
            f"(commit/fsync excluded), {pg['units_per_core_second_by_cpu']}/s by process CPU; settings {pg['settings']}"
        )
        for row in pg["top"]:
            lines.append(
                f"  {row['percent_of_exec']:>5}%  {row['calls_per_unit']} x {row['ms_per_call']} ms  {row['query']}"
            )
    return "\n".join(lines)
