"""The benchmark harness tells the truth about deliveries.

These run the fan-out scenario at a tiny scale (a few seconds) against real
server processes and check its delivery audit, and check that the audit
itself catches a lost, duplicated or reordered delivery. They assert
correctness only, never timings: figures come from ``python -m bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from array import array
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.generator import Conn, ConnSpec, Worker

PROJECT_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.servers


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--json-out", str(out)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=110,
    )
    document = json.loads(out.read_text()) if out.exists() else {}
    return result, document


@pytest.mark.parametrize("client_lib", ["picows", "websockets"])
def test_tiny_fan_out_on_the_embedded_backend_delivers_every_acked_message_once_in_order(tmp_path, client_lib):
    result, document = run_bench(
        tmp_path,
        "fan-out",
        f"--client-lib={client_lib}",
        "--backend=embedded",
        "--rooms=2",
        "--members=5",
        "--rate=10",
        "--duration=2",
        "--warmup=0",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    audit = document["audit"]
    step = document["step"]
    assert audit["ok"] is True
    assert (audit["losses"], audit["duplicates"], audit["out_of_order"], audit["closed_connections"]) == (0, 0, 0, 0)
    assert step["sent"] == 20
    assert audit["acked_messages"] == 20
    assert step["deliveries"] == 20 * 5  # every member of the room, the sender's own connection included
    assert step["errors"] == {}
    assert document["settings"]["target"]["backend"] == "embedded"
    assert document["settings"]["client_lib"] == client_lib
    assert document["connect"]["connected"] == 10
    assert "audit: OK" in result.stdout


@pytest.mark.redis
@pytest.mark.postgres
def test_tiny_fan_out_on_two_processes_behind_redis_delivers_every_acked_message_once_in_order(tmp_path):
    from tests.conftest import missing_service

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not os.environ.get("REDIS_URL"):
        missing_service("needs DATABASE_URL=postgres://... and REDIS_URL")
    # The harness flushes its stores: give it a database and a Redis DB of this test run's own.
    parts = urlsplit(database_url)
    bench_db = urlunsplit(parts._replace(path=f"/confab_bench_test{os.environ.get('CONFAB_TEST_ID', '')}"))
    redis_parts = urlsplit(os.environ["REDIS_URL"])
    bench_redis = urlunsplit(redis_parts._replace(path=f"/{os.environ.get('CONFAB_TEST_REDIS_DB', '15')}"))

    result, document = run_bench(
        tmp_path,
        "fan-out",
        "--backend=redis",
        f"--database-url={bench_db}",
        f"--redis-url={bench_redis}",
        "--processes=2",
        "--rooms=2",
        "--members=6",
        "--rate=10",
        "--duration=2",
        "--warmup=0",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    audit = document["audit"]
    assert audit["ok"] is True
    assert (audit["losses"], audit["duplicates"], audit["out_of_order"], audit["closed_connections"]) == (0, 0, 0, 0)
    assert audit["acked_messages"] == 20
    assert document["step"]["deliveries"] == 20 * 6
    assert len(document["step"]["server_cpu_percent"]) == 2


def _conn(room: int, user: int, seqs: list[int]) -> Conn:
    conn = Conn(ConnSpec(index=user, url="ws://unused", room=room, user=user, token=""))
    conn.seqs = array("q", seqs)
    return conn


def test_the_audit_counts_a_delivery_missing_from_one_member_as_a_loss():
    worker = Worker(0, [])
    worker.conns = [_conn(1, 10, [1, 2, 3]), _conn(1, 11, [1, 3])]

    report = worker.audit({1: [1, 2, 3]})

    assert report["losses"] == 1
    assert report["examples"] == ["user 11 in room 1 missed 1 (first seqs [2])"]


def test_the_audit_reports_duplicates_out_of_order_and_dropped_connections_seen_on_arrival():
    worker = Worker(0, [])
    duplicated = _conn(1, 10, [1, 2, 2])
    duplicated.duplicates = 1
    reordered = _conn(1, 11, [2, 1])
    reordered.out_of_order = 1
    dropped = _conn(1, 12, [1, 2])
    dropped.closed = True
    dropped.close_reason = "code 1011"
    worker.conns = [duplicated, reordered, dropped]

    report = worker.audit({1: [1, 2]})

    assert (report["losses"], report["duplicates"], report["out_of_order"], report["closed"]) == (0, 1, 1, 1)


def test_a_failed_audit_is_not_ok_and_names_the_failure():
    from bench.scenarios import audit

    class FakePool:
        """Two workers' answers to ``acked`` and ``audit``, as the pipes would carry them."""

        def call(self, command, args=None):
            if command == "acked":
                return [{1: [1, 2]}, {1: [3]}]
            assert args == {"acked_by_room": {1: [1, 2, 3]}}
            clean = {"losses": 0, "duplicates": 0, "out_of_order": 0, "foreign": 0, "closed": 0}
            return [
                {**clean, "examples": [], "other_frames": {}},
                {**clean, "losses": 2, "examples": ["user 7 in room 1 missed 2"], "other_frames": {"user_online": 3}},
            ]

    report = audit(FakePool())

    assert report["ok"] is False
    assert report["losses"] == 2
    assert report["acked_messages"] == 3
    assert report["examples"] == ["user 7 in room 1 missed 2"]
    assert report["other_frames"] == {"user_online": 3}


def test_connect_steps_times_each_step_of_a_connect_in_every_round(tmp_path):
    result, document = run_bench(
        tmp_path, "connect-steps", "--backend=embedded", "--members=4", "--iterations=3", "--rounds=2"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    figures = document["figures"]
    assert (figures["members"], figures["iterations"], figures["rounds"], figures["online_co_members"]) == (4, 3, 2, 2)
    assert sorted(figures["steps"]) == ["load", "load_batched", "presence_ask", "snapshot", "token"]
    assert all(len(step["rounds"]) == 2 and step["us_per_call"] > 0 for step in figures["steps"].values())


def test_the_announcing_floor_app_answers_every_socket_with_a_ready_naming_its_room(tmp_path):
    # The announcing app is the plain floor app plus its writes to the room's open sockets
    # (tests/bench/test_floor_app.py has who gets what): one server run covers both under uvicorn.
    app = "bench.floor_app:announcing_application"
    result, document = run_bench(
        tmp_path,
        "connections",
        "--backend=embedded",
        "--connections=60",
        "--members=3",
        "--idle-seconds=1",
        f"--app={app}",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    figures = document["figures"]
    assert (figures["connect"]["failed"], figures["connect"]["failures"]) == (0, [])  # a ready lacking the room fails
    assert figures["open_after_idle"] == 60
    assert document["settings"]["target"]["app"] == app
    assert figures["server_cpu_ms_per_connect_gc"] is None  # not asked for (--gc-seconds)


@pytest.fixture(scope="module")
def connections_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    """One connections run on the embedded backend, asked for the collector's share (``--gc-seconds``).

    250 sockets, of which the first 50 warm up: 200 measured connects take some 300 ms of server CPU,
    thirty of /proc's 10 ms ticks. With ten, a run could read no tick at all (CI did: 0.0 ms per connect).
    """
    return run_bench(
        tmp_path_factory.mktemp("connections"),
        "connections",
        "--backend=embedded",
        "--connections=250",
        "--idle-seconds=1",
        "--gc-seconds",
    )


def test_a_connections_run_quotes_the_cyclic_collectors_cpu_per_connect_from_the_servers_metrics(connections_run):
    result, document = connections_run

    assert result.returncode == 0, result.stdout + result.stderr
    figures = document["figures"]
    assert 0 <= figures["server_cpu_ms_per_connect_gc"] < figures["server_cpu_ms_per_connect"]
    assert "the cyclic garbage collector's (any thread, until 2 s after)" in result.stdout


def test_a_connections_run_shares_out_the_servers_core_and_counts_its_writes_per_connect(connections_run):
    result, document = connections_run

    assert result.returncode == 0, result.stdout + result.stderr
    figures = document["figures"]
    shares = figures["server_cores_connecting"]
    assert sorted(shares) == ["idle", "others", "server"]
    # Shares of /proc's 10 ms ticks over a window of a few tenths of a second: a few % either way.
    assert shares["server"] > 0 and shares["idle"] >= 0
    assert abs(sum(shares.values()) - 100) < 0.5
    # Each connect is written at least the handshake's answer and its ready (with the ack).
    assert figures["server_write_calls_per_connect"] >= 2
    assert "the server's write system calls per connect" in result.stdout


def test_the_older_pages_history_run_asks_only_for_pages_before_a_seq_and_gets_each(tmp_path):
    result, document = run_bench(
        tmp_path,
        "history",
        "--backend=embedded",
        "--endpoints=older",
        "--rooms=1",
        "--members=2",
        "--history-messages=80",
        "--concurrency=2",
        "--duration=1",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    figures = document["figures"]
    assert "rooms" not in figures  # no room list asked for
    assert figures["messages"]["count"] > 0
    assert figures["statuses"] == {"200": figures["messages"]["count"]}
