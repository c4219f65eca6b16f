"""The four scenarios: fan-out, saturation, connections, history.

Each one prepares fresh stores, seeds users and rooms, starts the server
processes pinned to the server core, drives them from generator processes
pinned to the other core, prints a table and writes a JSON result. A run
whose delivery audit finds a lost, duplicated or out-of-order delivery
prints it in red and exits non-zero.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import time
from array import array
from pathlib import Path
from typing import Any

from . import profiling, storestats
from .common import (
    RESULTS_DIR,
    CpuMeter,
    Table,
    cores_busy_seconds,
    fmt_ms,
    fmt_num,
    green,
    interpreter,
    latency_summary,
    loadavg,
    proc_cpu_seconds,
    proc_loop_thread_cpu_seconds,
    proc_write_calls,
    red,
    self_cpu_seconds,
    write_result,
    yellow,
)
from .generator import ConnSpec, GeneratorPool
from .servers import ServerSet, Target, connect_steps, prepare_stores, seed

GENERATOR_BUSY = 85.0  # % of its core above which the generator, not the server, may be the limit
SERVER_BUSY = 90.0


def _specs(data: dict[str, Any], urls: list[str]) -> list[ConnSpec]:
    """One connection per member; rooms interleaved; connections spread over the server processes."""
    rooms = data["rooms"]
    members = max(len(r["members"]) for r in rooms)
    specs = []
    for m in range(members):
        for room in rooms:
            if m < len(room["members"]):
                member = room["members"][m]
                index = len(specs)
                specs.append(ConnSpec(index, urls[index % len(urls)], room["id"], member["user"], member["token"]))
    return specs


def _say(text: str) -> None:
    print(text, flush=True)


def _connect(pool: GeneratorPool, concurrency: int, total: int) -> dict[str, Any]:
    per_worker = max(1, concurrency // len(pool.pipes))
    t0 = time.monotonic()
    results = pool.call("connect", {"concurrency": per_worker})
    seconds = time.monotonic() - t0
    connected = sum(r["connected"] for r in results)
    failed = sum(r["failed"] for r in results)
    failures = [f for r in results for f in r["failures"]][:5]
    return {
        "requested": total,
        "connected": connected,
        "failed": failed,
        "failures": failures,
        "seconds": round(seconds, 2),
        "connects_per_s": round(connected / seconds, 1) if seconds else None,
    }


def run_step(
    pool: GeneratorPool,
    servers: ServerSet,
    *,
    rate: float,
    duration: float,
    members: int,
    drain_timeout: float = 20.0,
    profile_path: Path | None = None,
    client_cpus: list[int] | None = None,
    stores: storestats.StoreStats | None = None,
) -> dict[str, Any]:
    """One load step at ``rate`` messages/s: deliveries/s, latencies, CPU of both sides
    (and, with ``stores``, what Redis and PostgreSQL did per message sent, send window plus drain)."""
    workers = len(pool.pipes)
    if stores is not None:
        stores.begin()
    start_at = time.monotonic() + 0.5
    for pipe in pool.pipes:
        run_args = {"rate": rate / workers, "start_at": start_at, "duration": duration, "drain_timeout": drain_timeout}
        pipe.send(("run", run_args))
    load_before = loadavg()
    time.sleep(max(0.0, start_at - time.monotonic()))
    server_meter = CpuMeter(servers.pids)
    server_meter.start()
    cpu_at_start = sum(proc_cpu_seconds(pid) for pid in servers.pids)
    spy = None
    if profile_path is not None:
        spy = profiling.start(servers.pids[0], duration, profile_path, client_cpus)
    time.sleep(duration)
    server_cpu = server_meter.stop()
    rss = servers.rss_kib()
    load_after = loadavg()
    results = [pipe.recv() for pipe in pool.pipes]
    servers.check_alive()
    cpu_through_drain = sum(proc_cpu_seconds(pid) for pid in servers.pids) - cpu_at_start
    store_report = stores.report(sum(r["sent"] for r in results), "message") if stores is not None else None
    latencies = array("d")
    for r in results:
        with open(r["latency_file"], "rb") as f:
            chunk = array("d")
            chunk.frombytes(f.read())
            latencies.extend(chunk)
        Path(r["latency_file"]).unlink(missing_ok=True)
    acks = sorted(x for r in results for x in r["ack_latencies"])
    errors: dict[str, int] = {}
    for r in results:
        for code, count in r["errors"].items():
            errors[code] = errors.get(code, 0) + count
    sent = sum(r["sent"] for r in results)
    generator_cpu = [100.0 * r["cpu_seconds"] / max(r["wall_seconds"], 1e-9) for r in results]
    deliveries = sum(r["deliveries"] for r in results)
    # CPU time per delivery: the figure that survives a noisy machine (it ignores time the server waited).
    cpu_us_per_delivery = 1e6 * cpu_through_drain / deliveries if deliveries else None
    step = {
        "offered_messages_per_s": rate,
        "offered_deliveries_per_s": rate * members,
        "duration_s": duration,
        "sent": sent,
        "acked": len(acks),
        "unanswered": sum(r["unanswered"] for r in results),
        "errors": errors,
        "deliveries": deliveries,
        "server_cpu_us_per_delivery": round(cpu_us_per_delivery, 1) if cpu_us_per_delivery else None,
        "delivered_per_s": round(sum(r["deliveries_in_window"] for r in results) / duration, 1),
        "latency": latency_summary(list(latencies)),
        "ack_latency": latency_summary(acks),
        "server_cpu_percent": [round(server_cpu[pid], 1) for pid in servers.pids],
        "server_cpu_wait_percent": [round(server_meter.waits[pid], 1) for pid in servers.pids],
        "server_rss_kib": rss,
        "generator_cpu_percent": [round(x, 1) for x in generator_cpu],
        "generator_send_lag_p99_ms": round(max(r["send_lag_p99_ms"] for r in results), 2),
        "closed_connections": sum(r["closed"] for r in results),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    if store_report is not None:
        step["stores"] = store_report
    if spy is not None:
        _, err = spy.communicate(timeout=duration + 30)
        if spy.returncode == 0 and profile_path.exists():
            step["profile"] = profiling.summarise(profile_path)
            step["profile_file"] = str(profile_path)
        else:
            step["profile_error"] = (err or "")[-500:]
    return step


def audit(pool: GeneratorPool) -> dict[str, Any]:
    acked: dict[int, list[int]] = {}
    for worker_acked in pool.call("acked"):
        for room, seqs in worker_acked.items():
            acked.setdefault(room, []).extend(seqs)
    for seqs in acked.values():
        seqs.sort()
    results = pool.call("audit", {"acked_by_room": acked})
    report = {
        "acked_messages": sum(len(s) for s in acked.values()),
        "losses": sum(r["losses"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "out_of_order": sum(r["out_of_order"] for r in results),
        "foreign": sum(r["foreign"] for r in results),
        "closed_connections": sum(r["closed"] for r in results),
        "examples": [e for r in results for e in r["examples"]][:10],
        "other_frames": {},
    }
    for r in results:
        for kind, count in r["other_frames"].items():
            report["other_frames"][kind] = report["other_frames"].get(kind, 0) + count
    # Every acked seq of a room appears once per room: a duplicate ack is a server bug too.
    report["duplicate_acks"] = sum(len(s) - len(set(s)) for s in acked.values())
    report["ok"] = not (
        report["losses"]
        or report["duplicates"]
        or report["out_of_order"]
        or report["foreign"]
        or report["closed_connections"]
        or report["duplicate_acks"]
    )
    return report


def _print_audit(report: dict[str, Any]) -> None:
    if report["ok"]:
        _say(
            green(
                f"audit: OK -- {report['acked_messages']} acked messages, every one received by every connected "
                "member exactly once, in seq order"
            )
        )
        return
    _say(
        red(
            f"AUDIT FAILED: {report['losses']} lost, {report['duplicates']} duplicated, "
            f"{report['out_of_order']} out of order, {report['foreign']} from other rooms, "
            f"{report['closed_connections']} connections dropped, {report['duplicate_acks']} duplicate acks "
            f"(of {report['acked_messages']} acked messages)"
        )
    )
    for example in report["examples"]:
        _say(red(f"  {example}"))


def _step_row(step: dict[str, Any]) -> list[str]:
    lat = step["latency"]
    gen = max(step["generator_cpu_percent"]) if step["generator_cpu_percent"] else 0
    gen_text = f"{sum(step['generator_cpu_percent']):.0f}"
    if gen >= GENERATOR_BUSY:
        gen_text = yellow(gen_text + " (busy)")
    server_text = "/".join(f"{x:.0f}" for x in step["server_cpu_percent"])
    wait_text = "/".join(f"{x:.0f}" for x in step["server_cpu_wait_percent"])
    errors = sum(step["errors"].values())
    return [
        f"{step['offered_messages_per_s']:g}",
        fmt_num(step["offered_deliveries_per_s"]),
        fmt_num(step["delivered_per_s"]),
        fmt_ms(lat["p50_ms"]),
        fmt_ms(lat["p95_ms"]),
        fmt_ms(lat["p99_ms"]),
        fmt_ms(lat["max_ms"]),
        fmt_ms(step["ack_latency"]["p50_ms"]),
        fmt_ms(step["ack_latency"]["p99_ms"]),
        server_text,
        wait_text,
        fmt_num(step["server_cpu_us_per_delivery"]),
        gen_text,
        red(str(errors)) if errors else "0",
        f"{step['loadavg_before'][0]:.2f}",
    ]


STEP_HEADERS = [
    "msg/s",
    "offered dlv/s",
    "delivered/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "ack p50",
    "ack p99",
    "server CPU%",
    "srv wait%",
    "us/dlv",
    "gen CPU%",
    "errors",
    "load1",
]


def _warn_limits(step: dict[str, Any]) -> None:
    per = step.get("server_cpu_us_per_delivery")
    if per:
        _say(
            f"  server CPU per delivery {per:.0f} us: at that cost one core delivers at most "
            f"{1e6 / per:,.0f}/s (an estimate that holds on a shared machine; the delivered/s above is measured)"
        )
    wait = max(step.get("server_cpu_wait_percent") or [0])
    if wait > 10:
        _say(
            yellow(
                f"  note: the server waited for a CPU {wait:.0f}% of the window: other processes shared its core, "
                "so the latencies above are about them too"
            )
        )
    if max(step["generator_cpu_percent"] or [0]) >= GENERATOR_BUSY:
        _say(
            yellow(
                f"  note: a generator process used {max(step['generator_cpu_percent']):.0f}% of its core: "
                "the client may be the limit here (try --clients 2)"
            )
        )
    if step["generator_send_lag_p99_ms"] > 20:
        _say(yellow(f"  note: the generator sent late (p99 {step['generator_send_lag_p99_ms']:.0f} ms behind plan)"))
    if step["errors"]:
        _say(red(f"  errors: {step['errors']}"))


def _settings(args: Any, target: Target, **extra: Any) -> dict[str, Any]:
    return {
        "target": target.describe(),
        "clients": getattr(args, "clients", 1),
        "client_lib": getattr(args, "client_lib", "websockets"),
        **extra,
    }


def _stores(target: Target) -> storestats.StoreStats | None:
    """Redis commandstats on the redis backend; pg_stat_statements with --private-postgres."""
    if target.backend != "redis":
        return None
    return storestats.StoreStats(target.redis_url, target.private_pg)


def _connect_batches(servers: Any) -> tuple[float, float] | None:
    """The servers' batched database calls and the items they carried so far (``/metrics``), or None when
    the code under test counts none (before ``DatabaseBatches``)."""
    batches = servers.metric_total("confab_database_batches_total")
    items = servers.metric_total("confab_database_batched_items_total")
    return None if batches is None or items is None else (batches, items)


def _say_stores(report: dict[str, Any] | None) -> None:
    if report:
        _say(storestats.render(report))


def _header(title: str, target: Target, extra: str = "") -> None:
    d = target.describe()
    _say(
        f"== {title}: {d['server']} x{d['processes']}, {d['backend']} ({d['layer']} layer, capacity {d['capacity']}), "
        f"server cpus {d['server_cpus']}, generator cpus {d['client_cpus']}{extra}; "
        f"Python {platform.python_version()} ({interpreter()}); load {loadavg()}"
    )


# --- fan-out --------------------------------------------------------------------------


def fan_out(args: Any, target: Target) -> int:
    prepare_stores(target)
    shape = f", {args.rooms} rooms x {args.members} members, {args.rate:g} msg/s, {args.duration:g} s"
    _header("fan-out", target, shape)
    data = seed(target, rooms=args.rooms, members=args.members)
    with ServerSet(target) as servers:
        pool = GeneratorPool(_specs(data, servers.ws_urls()), args.clients, target.client_cpus, args.client_lib)
        try:
            connect = _connect(pool, args.connect_concurrency, args.rooms * args.members)
            _say(
                f"connected {connect['connected']}/{connect['requested']} in {connect['seconds']} s "
                f"({connect['connects_per_s']}/s)"
            )
            if connect["failed"]:
                _say(red(f"  {connect['failed']} connections failed: {connect['failures']}"))
            if args.warmup > 0:
                run_step(pool, servers, rate=min(args.rate, 20), duration=args.warmup, members=args.members)
            profile_path = None
            if args.profile:
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                profile_path = RESULTS_DIR / f"profile-fan-out-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.txt"
            step = run_step(
                pool,
                servers,
                rate=args.rate,
                duration=args.duration,
                members=args.members,
                profile_path=profile_path,
                client_cpus=target.client_cpus,
                stores=_stores(target),
            )
            report = audit(pool)
        finally:
            pool.close()
        log_errors = servers.log_errors()
    _say(Table(STEP_HEADERS, [_step_row(step)]).render())
    _warn_limits(step)
    _say_stores(step.get("stores"))
    if "profile" in step:
        _say(profiling.render(step["profile"]))
    elif "profile_error" in step:
        _say(yellow(f"profile failed: {step['profile_error']}"))
    if log_errors:
        _say(red(f"server logged {len(log_errors)} error lines, first: {log_errors[:3]}"))
    _print_audit(report)
    path = write_result(
        "fan-out",
        {
            "settings": _settings(
                args, target, rooms=args.rooms, members=args.members, rate=args.rate, duration=args.duration
            ),
            "connect": connect,
            "step": step,
            "audit": report,
            "server_log_errors": log_errors[:20],
        },
        args.json_out,
    )
    _say(f"result: {path}")
    failed_sends = sum(step["errors"].values()) + step["unanswered"]
    if failed_sends:
        _say(red(f"{failed_sends} of {step['sent']} sends failed or were never answered"))
    return 0 if report["ok"] and not connect["failed"] and not failed_sends else 1


# --- saturation -----------------------------------------------------------------------


def saturation(args: Any, target: Target) -> int:
    prepare_stores(target)
    _header(
        "saturation",
        target,
        f", {args.rooms} rooms x {args.members} members, from {args.start_rate:g} msg/s x{args.factor:g} "
        f"per {args.step_duration:g} s step until p99 > {args.p99_limit:g} ms",
    )
    data = seed(target, rooms=args.rooms, members=args.members)
    steps: list[dict[str, Any]] = []
    knee = None
    with ServerSet(target) as servers:
        pool = GeneratorPool(_specs(data, servers.ws_urls()), args.clients, target.client_cpus, args.client_lib)
        try:
            connect = _connect(pool, args.connect_concurrency, args.rooms * args.members)
            _say(f"connected {connect['connected']}/{connect['requested']} in {connect['seconds']} s")
            run_step(pool, servers, rate=min(args.start_rate, 20), duration=2, members=args.members)
            rate = args.start_rate
            table_rows = []
            while rate <= args.max_rate:
                step = run_step(
                    pool, servers, rate=rate, duration=args.step_duration, members=args.members, stores=_stores(target)
                )
                steps.append(step)
                table_rows.append(_step_row(step))
                _warn_limits(step)
                lat = step["latency"]
                _say(
                    f"  step {rate:g} msg/s: delivered {fmt_num(step['delivered_per_s'])}/s, "
                    f"p99 {fmt_ms(lat['p99_ms'])} ms, server CPU {step['server_cpu_percent']}, "
                    f"generator CPU {step['generator_cpu_percent']}, load {step['loadavg_before'][0]:.2f}"
                )
                over = lat["p99_ms"] is None or lat["p99_ms"] > args.p99_limit
                short = step["delivered_per_s"] < 0.9 * step["offered_deliveries_per_s"]
                if over or short or step["errors"]:
                    break
                knee = step
                rate = round(rate * args.factor, 1)
            report = audit(pool)
        finally:
            pool.close()
    _say(Table(STEP_HEADERS, table_rows).render())
    if knee is not None:
        _say(
            green(
                f"knee: {fmt_num(knee['delivered_per_s'])} delivered/s at {knee['offered_messages_per_s']:g} msg/s "
                f"(p99 {fmt_ms(knee['latency']['p99_ms'])} ms); the next step broke the {args.p99_limit:g} ms p99 "
                "or fell behind"
            )
        )
    else:
        _say(red(f"no step stayed under p99 {args.p99_limit:g} ms"))
    _print_audit(report)
    path = write_result(
        "saturation",
        {
            "settings": _settings(
                args,
                target,
                rooms=args.rooms,
                members=args.members,
                start_rate=args.start_rate,
                factor=args.factor,
                step_duration=args.step_duration,
                p99_limit_ms=args.p99_limit,
            ),
            "connect": connect,
            "steps": steps,
            "knee": {
                "offered_messages_per_s": knee["offered_messages_per_s"],
                "delivered_per_s": knee["delivered_per_s"],
                "p99_ms": knee["latency"]["p99_ms"],
            }
            if knee
            else None,
            "audit": report,
        },
        args.json_out,
    )
    _say(f"result: {path}")
    return 0 if report["ok"] else 1


# --- connections ----------------------------------------------------------------------


def connections(args: Any, target: Target) -> int:
    total = args.connections
    members = min(args.members, total)
    rooms = -(-total // members)
    prepare_stores(target)
    _header("connections", target, f", {total} idle connections ({rooms} rooms of {members})")
    data = seed(target, rooms=rooms, members=members)
    warm = 50
    with ServerSet(target) as servers:
        specs = _specs(data, servers.ws_urls())[:total]
        warm_pool = GeneratorPool(specs[:warm], 1, target.client_cpus, args.client_lib)
        main_pool = None
        try:
            _connect(warm_pool, 50, warm)
            # The collector's seconds so far (/metrics), only when asked: a server that served these requests
            # grew about 0.3 KiB a socket more while the sockets opened (measured, 2026-12-03).
            gc_seconds0 = servers.gc_seconds() if args.gc_seconds else None
            batches0 = _connect_batches(servers) if args.gc_seconds else None
            time.sleep(1.0)
            rss_before = servers.rss_kib()
            main_pool = GeneratorPool(specs[warm:], args.clients, target.client_cpus, args.client_lib)
            gen_cpu0 = sum(main_pool.call("cpu"))
            spy = profile_path = None
            if args.profile:
                RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                profile_path = RESULTS_DIR / f"profile-connect-{stamp}.txt"
                spy = profiling.start(servers.pids[0], None, profile_path, target.client_cpus)
                time.sleep(1.0)  # py-spy attaches
            stores = _stores(target)
            if stores is not None:
                stores.begin()
            server_cpu0 = sum(proc_cpu_seconds(pid) for pid in servers.pids)
            loop_cpu0 = sum(proc_loop_thread_cpu_seconds(pid) for pid in servers.pids)
            server_cores = target.server_cpus or sorted(os.sched_getaffinity(servers.pids[0]))
            cores0 = cores_busy_seconds(server_cores)
            writes0 = sum(proc_write_calls(pid) for pid in servers.pids)
            connect = _connect(main_pool, args.connect_concurrency, total - warm)
            writes_connect = sum(proc_write_calls(pid) for pid in servers.pids) - writes0
            cores1 = cores_busy_seconds(server_cores)
            server_cpu_connect = sum(proc_cpu_seconds(pid) for pid in servers.pids) - server_cpu0
            loop_cpu_connect = sum(proc_loop_thread_cpu_seconds(pid) for pid in servers.pids) - loop_cpu0
            gen_cpu_connect = sum(main_pool.call("cpu")) - gen_cpu0
            connect_stores = stores.report(connect["connected"], "connect") if stores is not None else None
            profile = None
            if spy is not None:
                err = profiling.stop(spy)
                if profile_path.exists():
                    profile = profiling.summarise(profile_path)
                    _say(profiling.render(profile))
                else:
                    _say(yellow(f"profile failed: {err[-300:]}"))
            _say(
                f"connected {connect['connected'] + warm}/{total}: {connect['connected']} in {connect['seconds']} s "
                f"= {connect['connects_per_s']}/s (generator CPU {100 * gen_cpu_connect / connect['seconds']:.0f}%)"
            )
            # Server CPU ms per connect: all threads, the event-loop threads, the others (database threads...).
            cpu_ms = {
                key: round(1000 * seconds / connect["connected"], 3) if connect["connected"] else None
                for key, seconds in (
                    ("all", server_cpu_connect),
                    ("loop", loop_cpu_connect),
                    ("other", server_cpu_connect - loop_cpu_connect),
                )
            }
            cores = None
            if connect["connected"]:
                _say(
                    f"  server CPU per connect {cpu_ms['all']:.2f} ms "
                    f"({members}-member rooms): one core opens at most "
                    f"{connect['connected'] / max(server_cpu_connect, 1e-9):,.0f} connections/s"
                )
                _say(
                    f"  of which the event-loop thread {cpu_ms['loop']:.2f} ms, "
                    f"other threads (database) {cpu_ms['other']:.2f} ms"
                )
                # What kept the server's cores from serving more connects: other processes on them
                # (PostgreSQL, Redis, unpinned) or nothing to run (every connect waiting on a store).
                core_seconds = max((cores1[0] - cores0[0]) + (cores1[1] - cores0[1]), 1e-9)
                cores = {
                    "server": 100 * server_cpu_connect / core_seconds,
                    "others": 100 * (cores1[0] - cores0[0] - server_cpu_connect) / core_seconds,
                    "idle": 100 * (cores1[1] - cores0[1]) / core_seconds,
                }
                _say(f"  the server's write system calls per connect: {writes_connect / connect['connected']:.2f}")
                _say(
                    f"  the server's core(s) {server_cores}: {cores['server']:.0f} % the server, "
                    f"{cores['others']:.0f} % other processes, {cores['idle']:.0f} % idle"
                )
            _say_stores(connect_stores)
            if connect["failed"]:
                _say(red(f"  {connect['failed']} connections failed: {connect['failures']}"))
            time.sleep(2.0)
            rss_after = servers.rss_kib()
            # The collector's time from just before the connect window (the idle server collects next to
            # nothing) to 2 s after it, which take the rest of the connects' garbage.
            gc_seconds1 = servers.gc_seconds() if args.gc_seconds else None
            gc_connect = None if gc_seconds0 is None or gc_seconds1 is None else gc_seconds1 - gc_seconds0
            batches1 = _connect_batches(servers) if args.gc_seconds else None
            connect_batch_mean = (
                round((batches1[1] - batches0[1]) / (batches1[0] - batches0[0]), 2)
                if batches0 is not None and batches1 is not None and batches1[0] > batches0[0]
                else None
            )
            if connect_batch_mean is not None:
                _say(f"  connects per database call (DatabaseBatches), mean: {connect_batch_mean}")
            cpu_ms["gc"] = (
                round(1000 * gc_connect / connect["connected"], 3)
                if connect["connected"] and gc_connect is not None
                else None
            )
            if cpu_ms["gc"] is not None:
                _say(
                    f"  of the connects' CPU, the cyclic garbage collector's (any thread, until 2 s after) "
                    f"{cpu_ms['gc']:.2f} ms ({100 * gc_connect / max(server_cpu_connect, 1e-9):.1f} %)"
                )
            load_before = loadavg()
            meter = CpuMeter(servers.pids)
            idle_spy = idle_profile_path = None
            if args.profile:
                idle_profile_path = RESULTS_DIR / f"profile-idle-{stamp}.txt"
                idle_spy = profiling.start(servers.pids[0], args.idle_seconds, idle_profile_path, target.client_cpus)
            meter.start()
            time.sleep(args.idle_seconds)
            idle_cpu = meter.stop()
            idle_profile = None
            if idle_spy is not None:
                err = profiling.stop(idle_spy, timeout=args.idle_seconds + 30)
                if idle_profile_path.exists():
                    idle_profile = profiling.summarise(idle_profile_path)
                    _say("idle " + profiling.render(idle_profile))
            load_after = loadavg()
            counts = main_pool.call("count") + warm_pool.call("count")
            still_open = sum(c["open"] for c in counts)
        finally:
            if main_pool is not None:
                main_pool.close()
            warm_pool.close()
    added = connect["connected"]
    per_conn = [(a - b) / max(1, added / len(servers.pids)) for a, b in zip(rss_after, rss_before, strict=True)]
    figures = {
        "connections": added + warm,
        "connect": connect,
        "server_cpu_ms_per_connect": cpu_ms["all"],
        # The same, split: the servers' main threads (event loops) and their other threads (database...).
        "server_cpu_ms_per_connect_loop_thread": cpu_ms["loop"],
        "server_cpu_ms_per_connect_other_threads": cpu_ms["other"],
        # Of all threads' CPU, the cyclic garbage collector's (its /metrics; None: the code reports none).
        "server_cpu_ms_per_connect_gc": cpu_ms["gc"],
        # Items per batched database call over the connect window (/metrics; None: not asked or not reported).
        "connect_batch_mean": connect_batch_mean,
        "server_write_calls_per_connect": round(writes_connect / added, 2) if added else None,
        # The server's cores during the connects, in %: the server's own use, other processes', idle.
        "server_cores_connecting": {key: round(value, 1) for key, value in cores.items()} if cores else None,
        "connect_stores": connect_stores,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_connection_kib": [round(x, 1) for x in per_conn],
        "idle_cpu_percent": [round(idle_cpu[pid], 2) for pid in servers.pids],
        "idle_cpu_wait_percent": [round(meter.waits[pid], 2) for pid in servers.pids],
        "idle_seconds": args.idle_seconds,
        "open_after_idle": still_open,
        "connect_profile": profile,
        "idle_profile": idle_profile,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    _say(
        Table(
            ["connections", "connect/s", "RSS before MiB", "RSS after MiB", "KiB/conn", "idle CPU%", "open", "load1"],
            [
                [
                    str(figures["connections"]),
                    fmt_num(connect["connects_per_s"]),
                    "/".join(f"{x / 1024:.0f}" for x in rss_before),
                    "/".join(f"{x / 1024:.0f}" for x in rss_after),
                    "/".join(f"{x:.1f}" for x in per_conn),
                    "/".join(f"{x:.2f}" for x in figures["idle_cpu_percent"]),
                    str(still_open) if still_open == total else red(str(still_open)),
                    f"{load_before[0]:.2f}",
                ]
            ],
        ).render()
    )
    ok = still_open == total and not connect["failed"]
    if not ok:
        _say(red(f"{total - still_open} connections were lost or failed"))
    path = write_result(
        "connections",
        {"settings": _settings(args, target, connections=total, members=members), "figures": figures},
        args.json_out,
    )
    _say(f"result: {path}")
    return 0 if ok else 1


# --- history ----------------------------------------------------------------------------


async def _history_load(
    bases: list[str], tokens: list[tuple[str, int]], concurrency: int, duration: float, endpoints: str = "both"
) -> dict[str, Any]:
    from .httpclient import HttpConnection

    stats: dict[str, array] = {"rooms": array("d"), "messages": array("d")}
    statuses: dict[str, int] = {}
    end = time.monotonic() + duration
    rng = random.Random(7)

    async def client(i: int) -> None:
        base = bases[i % len(bases)]
        host, port = base.split("//", 1)[1].split(":")
        conn = HttpConnection(host, int(port))
        token, room = tokens[i % len(tokens)]
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        n = 0
        while time.monotonic() < end:
            if endpoints in ("messages", "older") or (endpoints == "both" and n % 2 == 0):
                kind, path = "messages", f"/api/v1/rooms/{room}/messages/"
                if endpoints == "older" or rng.random() < 0.3:
                    path += f"?before={rng.randint(60, 500)}"
            else:
                kind, path = "rooms", "/api/v1/rooms/"
            t0 = time.monotonic_ns()
            try:
                status, _ = await conn.get(path, headers)
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
                await conn.close()
            stats[kind].append((time.monotonic_ns() - t0) / 1e6)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            n += 1
        await conn.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return {"latencies": {k: list(v) for k, v in stats.items()}, "statuses": statuses}


def history(args: Any, target: Target) -> int:
    prepare_stores(target)
    _header(
        "history",
        target,
        f", {args.concurrency} concurrent clients, {args.rooms} rooms with {args.history_messages} messages, "
        f"{args.duration:g} s",
    )
    data = seed(target, rooms=args.rooms, members=args.members, history=args.history_messages)
    tokens = [(m["token"], room["id"]) for room in data["rooms"] for m in room["members"]]
    random.Random(3).shuffle(tokens)
    with ServerSet(target) as servers:
        # Warm up every process (imports, first queries) before measuring.
        asyncio.run(_history_load(servers.http_bases(), tokens, 4, 1.0))
        load_before = loadavg()
        spy = profile_path = None
        if args.profile:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            profile_path = RESULTS_DIR / f"profile-history-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.txt"
            spy = profiling.start(servers.pids[0], args.duration, profile_path, target.client_cpus)
        stores = _stores(target)
        if stores is not None:
            stores.begin()
        meter = CpuMeter(servers.pids)
        meter.start()
        cpu0 = self_cpu_seconds()
        t0 = time.monotonic()
        outcome = asyncio.run(
            _history_load(servers.http_bases(), tokens, args.concurrency, args.duration, args.endpoints)
        )
        wall = time.monotonic() - t0
        gen_cpu = 100.0 * (self_cpu_seconds() - cpu0) / wall
        server_cpu = meter.stop()
        load_after = loadavg()
        requests = sum(len(v) for v in outcome["latencies"].values())
        history_stores = stores.report(requests, "request") if stores is not None else None
        log_errors = servers.log_errors()
    figures: dict[str, Any] = {"statuses": outcome["statuses"], "generator_cpu_percent": round(gen_cpu, 1)}
    if history_stores is not None:
        figures["stores"] = history_stores
    if spy is not None:
        profiling.stop(spy, timeout=args.duration + 30)
        if profile_path.exists():
            figures["profile"] = profiling.summarise(profile_path)
            _say(profiling.render(figures["profile"]))
    rows = []
    for kind, values in outcome["latencies"].items():
        if not values:
            continue
        summary = latency_summary(values)
        summary["requests_per_s"] = round(len(values) / wall, 1)
        figures[kind] = summary
        path = "GET /api/v1/rooms/" if kind == "rooms" else "GET /api/v1/rooms/{id}/messages/"
        rows.append(
            [
                path,
                fmt_num(summary["requests_per_s"]),
                fmt_ms(summary["p50_ms"]),
                fmt_ms(summary["p99_ms"]),
                fmt_ms(summary["max_ms"]),
            ]
        )
    total_rps = sum(figures[k]["requests_per_s"] for k in ("rooms", "messages") if k in figures)
    rows.append(["all", fmt_num(total_rps), "", "", ""])
    figures.update(
        total_requests_per_s=round(total_rps, 1),
        server_cpu_percent=[round(server_cpu[pid], 1) for pid in servers.pids],
        server_cpu_wait_percent=[round(meter.waits[pid], 1) for pid in servers.pids],
        loadavg_before=load_before,
        loadavg_after=load_after,
    )
    _say(Table(["request", "req/s", "p50 ms", "p99 ms", "max ms"], rows).render())
    _say(
        f"server CPU {figures['server_cpu_percent']}% (waited for a CPU {figures['server_cpu_wait_percent']}%), "
        f"generator CPU {gen_cpu:.0f}%, load {load_before[0]:.2f}"
    )
    total_requests = sum(len(v) for v in outcome["latencies"].values())
    if total_requests:
        server_cpu_s = sum(server_cpu.values()) / 100 * wall
        _say(f"server CPU per request {1000 * server_cpu_s / total_requests:.2f} ms ({args.endpoints})")
        figures["server_cpu_ms_per_request"] = round(1000 * server_cpu_s / total_requests, 3)
    _say_stores(figures.get("stores"))
    bad = {k: v for k, v in outcome["statuses"].items() if k != "200"}
    if bad:
        _say(red(f"non-200 answers: {bad}"))
    if log_errors:
        _say(red(f"server logged {len(log_errors)} error lines, first: {log_errors[:3]}"))
    path = write_result(
        "history",
        {
            "settings": _settings(
                args,
                target,
                rooms=args.rooms,
                members=args.members,
                history_messages=args.history_messages,
                concurrency=args.concurrency,
                duration=args.duration,
                endpoints=args.endpoints,
            ),
            "figures": figures,
            "server_log_errors": log_errors[:20],
        },
        args.json_out,
    )
    _say(f"result: {path}")
    return 0 if not bad else 1


# --- connect-steps --------------------------------------------------------------------


def connect_steps_scenario(args: Any, target: Target) -> int:
    """A connect's steps in one process (``bench.connect_steps``): CPU per call of each, no sockets."""
    prepare_stores(target)
    _header(
        "connect-steps",
        target,
        f", one room of {args.members}, {args.rounds} rounds of {args.iterations} calls per step",
    )
    load_before = loadavg()
    measured = connect_steps(target, members=args.members, iterations=args.iterations, rounds=args.rounds)
    rows = [
        [name, f"{step['us_per_call']:.0f}", ", ".join(f"{value:.0f}" for value in step["rounds"])]
        for name, step in measured["steps"].items()
    ]
    _say(Table(["step", "us CPU per call (median)", "rounds"], rows).render())
    figures = {**measured, "loadavg_before": load_before, "loadavg_after": loadavg()}
    path = write_result(
        "connect-steps",
        {
            "settings": _settings(args, target, members=args.members, iterations=args.iterations, rounds=args.rounds),
            "figures": figures,
        },
        args.json_out,
    )
    _say(f"result: {path}")
    return 0
