"""``python -m bench <scenario> [options]``: see docs/benchmarks.md.

Scenarios: fan-out, saturation, connections, history, all.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import re
import sys
import time
from pathlib import Path

from .common import pin_to, raise_nofile_limit, red
from .comparison import SCENARIOS_COMPARED
from .servers import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, Target


def _cpus(text: str) -> list[int]:
    cpus: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-")
            cpus.extend(range(int(low), int(high) + 1))
        else:
            cpus.append(int(part))
    return cpus


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("system under test")
    group.add_argument(
        "--server", default="uvicorn", choices=["daphne", "uvicorn"], help="default: as `make run` serves"
    )
    group.add_argument(
        "--uvicorn-ws",
        default="websockets-sansio",
        choices=["websockets", "websockets-sansio", "wsproto"],
        help="uvicorn's --ws implementation",
    )
    group.add_argument(
        "--uvicorn-http",
        default="auto",
        choices=["auto", "h11", "httptools"],
        help="uvicorn's --http parser (auto, as `make run` serves: httptools when installed)",
    )
    group.add_argument("--processes", type=int, default=1, choices=[1, 2], help="server processes (redis backend)")
    group.add_argument(
        "--backend",
        default="redis",
        choices=["embedded", "redis"],
        help="embedded: SQLite + in-memory layer; redis: PostgreSQL + Redis (default)",
    )
    group.add_argument(
        "--layer",
        default="default",
        choices=["default", "core", "pubsub", "channels-pubsub"],
        help="CHANNEL_LAYER (default: the project's own, unset; see README)",
    )
    group.add_argument("--capacity", type=int, default=1000, help="CHANNEL_CAPACITY")
    group.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="PostgreSQL database (flushed!)")
    group.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis database (flushed!)")
    group.add_argument(
        "--redis-cluster",
        action="store_true",
        help="start a Redis Cluster of the bench's own (3 masters + 3 replicas on ports 7300-7399) instead of"
        " --redis-url, and stop it afterwards",
    )
    group.add_argument(
        "--private-postgres",
        action="store_true",
        help="start a PostgreSQL of the bench's own (initdb, port 5600-5699, pg_stat_statements) instead of"
        " --database-url, report its statements per message/connect/request, and stop it afterwards",
    )
    group.add_argument("--server-cpus", default="0", help="cores for the server processes (taskset)")
    group.add_argument("--client-cpus", default="1", help="cores for the generator")
    group.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra server environment (repeatable)"
    )
    group.add_argument("--app", default="config.asgi:application", help="ASGI application the servers load")
    group.add_argument(
        "--source",
        default="worktree",
        help="code the servers run: worktree (default), a git revision such as HEAD (exported with git archive,"
        " not checked out) or a directory (e.g. HEAD with a proposed diff applied)",
    )
    group.add_argument("--clients", type=int, default=1, help="generator processes")
    group.add_argument(
        "--client-lib",
        default="picows",
        choices=["picows", "websockets"],
        help="the generator's WebSocket client (picows: compiled, the cheapest per received frame)",
    )
    group.add_argument("--connect-concurrency", type=int, default=100, help="connections opened at once")
    group.add_argument("--json-out", default=None, help="write the JSON here instead of bench/results/")


def _comparison_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("several runs (bench/comparison.py)")
    group.add_argument(
        "--runs", type=int, default=1, help="run the scenario this many times (per tree) and quote medians"
    )
    group.add_argument(
        "--baseline",
        default=None,
        help="a second tree (a git revision or a directory, as --source) run alternately with --source in the"
        " same sitting; the summary gives both trees' medians",
    )


def _fan_out_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--members", type=int, default=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Confab benchmarks (docs/benchmarks.md)")
    sub = parser.add_subparsers(dest="scenario", required=True)

    p = sub.add_parser("fan-out", help="R rooms x M members, a fixed offered message rate")
    _common(p)
    _fan_out_options(p)
    p.add_argument("--rate", type=float, default=20.0, help="offered messages/s in total (x members = deliveries/s)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of light load before measuring")
    p.add_argument("--profile", action="store_true", help="py-spy the (first) server process during the run")
    _comparison_options(p)

    p = sub.add_parser("saturation", help="step the offered rate up until p99 passes the limit")
    _common(p)
    _fan_out_options(p)
    p.add_argument("--start-rate", type=float, default=10.0, help="messages/s of the first step")
    p.add_argument("--factor", type=float, default=1.5, help="each step offers this much more")
    p.add_argument("--max-rate", type=float, default=1000.0)
    p.add_argument("--step-duration", type=float, default=10.0)
    p.add_argument("--p99-limit", type=float, default=50.0, help="ms: the knee is the highest step under it")

    p = sub.add_parser("connections", help="N idle authenticated connections: RSS each, idle CPU, connect rate")
    _common(p)
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--members", type=int, default=100, help="members per room")
    p.add_argument("--idle-seconds", type=float, default=10.0)
    p.add_argument("--profile", action="store_true", help="py-spy the server while the connections open")
    p.add_argument(
        "--gc-seconds",
        action="store_true",
        help="read the cyclic garbage collector's CPU from each server's /metrics around the connect window "
        "(its HTTP requests leave the servers about 0.3 KiB a socket more: compare memory only between runs "
        "without it)",
    )
    _comparison_options(p)

    p = sub.add_parser("history", help="concurrent REST history pages and room lists")
    _common(p)
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--members", type=int, default=20)
    p.add_argument("--history-messages", type=int, default=500, help="messages stored per room")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument(
        "--endpoints",
        default="both",
        choices=["both", "rooms", "messages", "older"],
        help="both: alternate history pages and room lists; rooms or messages: only one of them; older: only"
        " pages before a seq (a scroll back, which the history cache does not answer)",
    )
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--profile", action="store_true", help="py-spy the (first) server process during the run")
    _comparison_options(p)

    p = sub.add_parser(
        "connect-steps", help="a connect's steps (token, database load, presence ask, snapshot) timed in one process"
    )
    _common(p)
    p.add_argument("--members", type=int, default=100, help="members of the one room")
    p.add_argument("--iterations", type=int, default=300, help="calls per step per round")
    p.add_argument("--rounds", type=int, default=5, help="rounds, the steps taken in turn; the median is quoted")
    _comparison_options(p)

    p = sub.add_parser("all", help="every scenario with its defaults (short runs)")
    _common(p)
    return parser


def target_from(args: argparse.Namespace) -> Target:
    extra = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--env wants KEY=VALUE, got {item!r}")
        extra[key] = value
    target = Target(
        server=args.server,
        processes=args.processes,
        backend=args.backend,
        layer=args.layer,
        capacity=args.capacity,
        database_url=args.database_url,
        redis_url=args.redis_url,
        server_cpus=_cpus(args.server_cpus),
        client_cpus=_cpus(args.client_cpus),
        extra_env=extra,
        app=args.app,
        source=args.source,
        uvicorn_ws=args.uvicorn_ws,
        uvicorn_http=args.uvicorn_http,
    )
    target.validate()
    return target


def main(argv: list[str] | None = None) -> int:
    from . import scenarios

    parser = build_parser()
    args = parser.parse_args(argv)
    raise_nofile_limit()
    target = target_from(args)
    # The harness and its generator share the generator's core; the servers get theirs by taskset.
    pin_to(target.client_cpus)
    try:
        if args.scenario == "all":
            codes = []
            for name in ("fan-out", "saturation", "connections", "history"):
                sub_args = parser.parse_args([name, *(argv if argv is not None else sys.argv[1:])[1:]])
                sub_target = target_from(sub_args)
                try:
                    codes.append(_run(scenarios, name, sub_args, sub_target))
                finally:
                    sub_target.cleanup()
            return max(codes)
        if args.scenario in SCENARIOS_COMPARED and (args.runs != 1 or args.baseline):
            return _run_compared(scenarios, args)
        return _run(scenarios, args.scenario, args, target)
    finally:
        target.cleanup()


def _run_compared(scenarios, args: argparse.Namespace) -> int:
    """``--runs N [--baseline REV]``: the scenario N times per tree, the trees alternating, then the medians."""
    from .common import RESULTS_DIR, write_result
    from .comparison import alternating, key_figures, render, run_passed, summarise

    if args.runs < 1:
        raise SystemExit("--runs wants 1 or more")
    sources = [args.source] + ([args.baseline] if args.baseline else [])
    if len(set(sources)) != len(sources):
        raise SystemExit("--baseline names the same tree as --source")
    targets = {source: target_from(_with_source(args, source)) for source in sources}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    # Each run's own document goes beside the summary (bench/results/ unless --json-out says where).
    runs_dir = Path(args.json_out).parent if args.json_out else RESULTS_DIR
    runs: list[dict] = []
    try:
        for round_index, source in alternating(sources, args.runs):
            run_args = _with_source(args, source)
            # The tree's place on the command line keeps two trees' files apart even when their names clean alike.
            label = f"{sources.index(source)}-{re.sub(r'[^A-Za-z0-9._-]', '_', source)}"
            run_args.json_out = str(runs_dir / f"{args.scenario}-{stamp}-run{round_index + 1}-{label}.json")
            print(f"\n=== run {round_index + 1} of {args.runs}: {source} ===", flush=True)
            error = None
            try:
                code = _run(scenarios, args.scenario, run_args, targets[source])
            except (Exception, SystemExit) as failure:  # one failed run must not lose the sitting's others
                code, error = 1, f"{type(failure).__name__}: {failure}"
                print(red(f"run failed: {error}"), flush=True)
            path = Path(run_args.json_out)
            document = json.loads(path.read_text()) if error is None and path.exists() else {}
            runs.append(
                {
                    "source": source,
                    "round": round_index + 1,
                    "json": str(path),
                    "exit_code": code,
                    "error": error,
                    "document": document,
                }
            )
            if code == 130:  # interrupted: stop the sitting and sum up what ran
                break
    finally:
        for target in targets.values():
            target.cleanup()
    summary = summarise(args.scenario, runs)
    print(f"\n{args.scenario}: medians over {args.runs} run(s) per tree, in alternating order", flush=True)
    print(render(args.scenario, summary), flush=True)
    path = write_result(
        f"{args.scenario}-comparison",
        {
            "sources": sources,
            "runs": [
                {
                    **{key: run[key] for key in ("source", "round", "json", "exit_code", "error")},
                    "passed": run_passed(args.scenario, run),
                    "figures": key_figures(args.scenario, run["document"]),
                    "loadavg_before": _load_before(run["document"]),
                }
                for run in runs
            ],
            "summary": summary,
        },
        args.json_out,
    )
    print(f"comparison: {path}", flush=True)
    return max(run["exit_code"] for run in runs)


def _with_source(args: argparse.Namespace, source: str) -> argparse.Namespace:
    copied = copy.copy(args)
    copied.source = source
    return copied


def _load_before(document: dict) -> list[float] | None:
    for section in ("step", "figures"):
        load = document.get(section, {}).get("loadavg_before")
        if load:
            return load
    return None


def _run(scenarios, name: str, args: argparse.Namespace, target: Target) -> int:
    with contextlib.ExitStack() as stack:
        if args.private_postgres:
            from .privatepg import private_postgres

            target.private_pg = stack.enter_context(private_postgres())
            target.database_url = target.private_pg.url()
        if args.redis_cluster:
            from .cluster import bench_cluster

            target.redis_url = stack.enter_context(bench_cluster()).url
        return _run_scenario(scenarios, name, args, target)


def _run_scenario(scenarios, name: str, args: argparse.Namespace, target: Target) -> int:
    runner = {
        "fan-out": scenarios.fan_out,
        "saturation": scenarios.saturation,
        "connections": scenarios.connections,
        "history": scenarios.history,
        "connect-steps": scenarios.connect_steps_scenario,
    }[name]
    try:
        return runner(args, target)
    except KeyboardInterrupt:
        print(red("interrupted"))
        return 130


if __name__ == "__main__":
    sys.exit(main())
