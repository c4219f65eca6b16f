"""The system under test: its environment, its database, and its server processes.

The harness builds the server's environment from its own options only (never
from an inherited DATABASE_URL or REDIS_URL), so a benchmark cannot write into
a developer's or CI's database by accident. Its own stores are:

- embedded: a fresh SQLite file under /tmp and the in-memory channel layer;
- redis: the PostgreSQL database ``confab_bench`` and Redis database 8 by
  default (both flushed before each run: they belong to the benchmark).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .common import PROJECT_DIR, proc_rss_kib

BIN_DIR = Path(sys.executable).parent
BENCH_SECRET_KEY = "confab-benchmark-secret-key-not-for-production-0123456789abcdef"
# The servers' /metrics (read for the cyclic collector's seconds) answers this token only.
BENCH_METRICS_TOKEN = "confab-benchmark-metrics-token"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/confab_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


@dataclass
class Target:
    """What is benchmarked: the server, its process count and its stores."""

    server: str = "daphne"
    processes: int = 1
    backend: str = "redis"
    layer: str = "default"  # "core", "pubsub", or the project's own default (CHANNEL_LAYER unset)
    capacity: int = 1000
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    server_cpus: list[int] = field(default_factory=lambda: [0])
    client_cpus: list[int] = field(default_factory=lambda: [1])
    extra_env: dict[str, str] = field(default_factory=dict)
    app: str = "config.asgi:application"
    source: str = "worktree"
    uvicorn_ws: str = "websockets-sansio"
    uvicorn_http: str = "auto"
    sqlite_path: str = ""
    effective_layer: str = ""
    private_pg: Any = None  # bench.privatepg.PrivatePostgres when --private-postgres
    _source_dir: Path | None = None
    _harness_dir: Path | None = None

    def validate(self) -> None:
        if self.server not in ("daphne", "uvicorn"):
            raise SystemExit("--server must be daphne or uvicorn")
        if self.backend not in ("embedded", "redis"):
            raise SystemExit("--backend must be embedded or redis")
        if self.layer not in ("default", "core", "pubsub"):
            raise SystemExit("--layer must be default, core or pubsub")
        if self.backend == "embedded" and self.processes != 1:
            raise SystemExit("--backend embedded keeps state in one process: use --processes 1")
        if self.processes < 1:
            raise SystemExit("--processes must be at least 1")

    def describe(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "processes": self.processes,
            "backend": self.backend,
            "layer": (self.effective_layer or self.layer) if self.backend == "redis" else "inmemory",
            "capacity": self.capacity,
            "database": _redact(self.env()["DATABASE_URL"]),
            "redis": self.redis_url if self.backend == "redis" else None,
            "server_cpus": self.server_cpus,
            "client_cpus": self.client_cpus,
            "extra_env": self.extra_env,
            "app": self.app,
            "uvicorn_ws": self.uvicorn_ws if self.server == "uvicorn" else None,
            "uvicorn_http": self.uvicorn_http if self.server == "uvicorn" else None,
            "source": self.source,
            "source_revision": self.source_revision(),
        }

    def env(self) -> dict[str, str]:
        """The server's environment: the harness's PATH and friends, the benchmark's own settings."""
        keep = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "PYTHONPATH", "TMPDIR"}
        env = {key: value for key, value in os.environ.items() if key in keep}
        env.update(
            SECRET_KEY=BENCH_SECRET_KEY,
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_COOKIES="0",
            SECURE_HSTS_SECONDS="0",
            RATE_LIMIT_MESSAGES="0",
            JWT_ACCESS_MINUTES="240",
            CHANNEL_CAPACITY=str(self.capacity),
            LOG_LEVEL="WARNING",
            METRICS_TOKEN=BENCH_METRICS_TOKEN,
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="config.settings",
            # The code under test, and the harness's own package (bench.seed) from a
            # directory that holds nothing else, so no module of the work tree leaks into a snapshot.
            PYTHONPATH=os.pathsep.join(dict.fromkeys([str(self.source_dir), self.harness_dir()])),
        )
        if self.layer != "default":
            env["CHANNEL_LAYER"] = self.layer
        if self.backend == "redis":
            env["DATABASE_URL"] = self.database_url
            env["REDIS_URL"] = self.redis_url
        else:
            env["DATABASE_URL"] = f"sqlite:///{self.sqlite_file()}"
        extra = dict(self.extra_env)
        if "PYTHONPATH" in extra:  # added after the code under test, never instead of it
            env["PYTHONPATH"] += os.pathsep + extra.pop("PYTHONPATH")
        env.update(extra)
        return env

    @property
    def source_dir(self) -> Path:
        """The code the servers run: the work tree, or a snapshot of a git revision.

        Several people edit the work tree at once; ``--source HEAD`` (or any
        revision) measures committed code, exported with ``git archive`` to a
        temporary directory, whatever is half-edited in the work tree.
        """
        if self.source == "worktree":
            return PROJECT_DIR
        if os.path.isdir(self.source):  # a tree prepared by hand, e.g. HEAD with a proposed diff applied
            if (Path(self.source) / "bench").exists():
                raise SystemExit(f"{self.source} holds a bench/ of its own: remove it, the harness brings its own")
            return Path(self.source).resolve()
        if self._source_dir is None:
            target_dir = Path(tempfile.mkdtemp(prefix="confab-bench-src-"))
            # Without bench/: the servers import the harness's own bench package, not the snapshot's.
            archive = subprocess.run(
                ["git", "archive", "--format=tar", self.source, "--", ".", ":(exclude)bench"],
                cwd=PROJECT_DIR,
                capture_output=True,
                check=False,
            )
            if archive.returncode != 0:
                raise SystemExit(f"git archive {self.source} failed: {archive.stderr.decode(errors='replace')}")
            subprocess.run(["tar", "-x", "-C", str(target_dir)], input=archive.stdout, check=True)
            self._source_dir = target_dir
        return self._source_dir

    def harness_dir(self) -> str:
        if self._harness_dir is None:
            self._harness_dir = Path(tempfile.mkdtemp(prefix="confab-bench-harness-"))
            (self._harness_dir / "bench").symlink_to(PROJECT_DIR / "bench", target_is_directory=True)
        return str(self._harness_dir)

    def source_revision(self) -> str | None:
        if self.source == "worktree" or os.path.isdir(self.source):
            return None
        result = subprocess.run(
            ["git", "rev-parse", "--short", self.source], cwd=PROJECT_DIR, capture_output=True, text=True
        )
        return result.stdout.strip() or None

    def cleanup(self) -> None:
        if self._harness_dir is not None:
            shutil.rmtree(self._harness_dir, ignore_errors=True)
            self._harness_dir = None
        if self._source_dir is not None:
            shutil.rmtree(self._source_dir, ignore_errors=True)
            self._source_dir = None
        if self.backend == "embedded" and self.sqlite_path:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(self.sqlite_path + suffix).unlink(missing_ok=True)

    def sqlite_file(self) -> str:
        if not self.sqlite_path:
            self.sqlite_path = str(Path(tempfile.gettempdir()) / f"confab-bench-{os.getpid()}.sqlite3")
        return self.sqlite_path


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


# --- Stores ---------------------------------------------------------------------------


def prepare_stores(target: Target) -> None:
    """Fresh stores for a run: an empty database at the current migration, an empty Redis DB."""
    if target.backend == "embedded":
        base = target.sqlite_file()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(base + suffix).unlink(missing_ok=True)
    else:
        _ensure_postgres_database(target.database_url)
        _flush_redis(target.redis_url)
    manage("migrate", "--noinput", target=target)
    if target.backend == "redis":
        manage("flush", "--noinput", target=target)
    # The layer the servers will really use (the project's default when --layer is not given).
    probe = "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
    output = manage("shell", "-v", "0", "-c", probe, target=target).strip()
    backend = output.splitlines()[-1] if output else ""
    target.effective_layer = {
        "channels_redis.core.RedisChannelLayer": "core",
        "channels_redis.pubsub.RedisPubSubChannelLayer": "channels-pubsub",
        "realtime.layers.RedisFanOutChannelLayer": "pubsub",
        "realtime.layers.LocalChannelLayer": "in-memory",
    }.get(backend, backend)


def _ensure_postgres_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _flush_redis(url: str) -> None:
    import redis

    from core.redis import cluster_nodes, is_cluster_url

    if is_cluster_url(url):  # every master's keys (replicas follow)
        cluster = redis.RedisCluster(startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in cluster_nodes(url)])
        try:
            cluster.flushdb(target_nodes=redis.RedisCluster.PRIMARIES)
        finally:
            cluster.close()
        return
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def manage(*args: str, target: Target) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=target.source_dir,
        env=target.env(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def seed(target: Target, **spec: Any) -> dict[str, Any]:
    """Users, rooms, memberships and tokens, created by ``bench.seed`` in the server's environment."""
    return run_in_server_env(target, "bench.seed", spec)


def connect_steps(target: Target, **spec: Any) -> dict[str, Any]:
    """``bench.connect_steps`` in the server's environment, pinned to the server's cores."""
    return run_in_server_env(target, "bench.connect_steps", spec, cpus=target.server_cpus)


# Seconds a seeding or connect-steps process may take (seeding 20,000 users takes about a minute here).
IN_SERVER_TIMEOUT = 1800


def run_in_server_env(target: Target, module: str, spec: dict[str, Any], cpus: list[int] | None = None) -> Any:
    """``python -m <module>`` of ``bench.in_server``'s kind, in the server's environment (on ``cpus``)."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as out:
        out_path = out.name
    command = [sys.executable, "-m", module, "--spec", json.dumps(spec), "--out", out_path]
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
    try:
        try:
            result = subprocess.run(
                command,
                cwd=target.source_dir,
                env=target.env(),
                capture_output=True,
                text=True,
                timeout=IN_SERVER_TIMEOUT,
            )
        except subprocess.TimeoutExpired as expired:
            raise SystemExit(f"{module} did not finish within {IN_SERVER_TIMEOUT} s") from expired
        if result.returncode != 0:
            raise SystemExit(f"{module} failed:\n{result.stdout}\n{result.stderr}")
        with open(out_path) as f:
            return json.load(f)
    finally:
        os.unlink(out_path)


# --- Server processes ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(self, target: Target, port: int, log_dir: Path) -> None:
        self.port = port
        self.log_path = log_dir / f"{target.server}-{port}.log"
        if target.server == "uvicorn":
            command = [
                str(BIN_DIR / "uvicorn"),
                target.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--ws",
                target.uvicorn_ws,
                "--http",
                target.uvicorn_http,
                "--no-access-log",
                "--log-level",
                "warning",
                "--backlog",
                "4096",
                # As `make run` serves: keepalive pings every 60 s, no permessage-deflate (see the Makefile).
                "--ws-ping-interval",
                "60",
                "--ws-per-message-deflate",
                "false",
            ]
        else:
            # -v 0: no access log on stdout (it costs the server time on every HTTP request).
            command = [str(BIN_DIR / "daphne"), "-v", "0", "--ping-interval", "60", "-b", "127.0.0.1", "-p", str(port)]
            command.append(target.app)
        if target.server_cpus and shutil.which("taskset"):
            command = ["taskset", "-c", ",".join(map(str, target.server_cpus)), *command]
        self.command = command
        self._log = self.log_path.open("w")
        # taskset execs the server, so this pid is the server's own.
        self.process = subprocess.Popen(
            command, cwd=target.source_dir, env=target.env(), stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        return proc_rss_kib(self.pid)

    def gc_seconds(self) -> float | None:
        """CPU seconds of the process's cyclic garbage collector so far (its ``/metrics``), or None when
        the code under test reports none (a revision from before ``confab_gc_seconds``)."""
        return self.metric_total("confab_gc_seconds_total")

    def metric_total(self, name: str) -> float | None:
        """The sum of the process's ``/metrics`` samples named ``name`` (any labels), or None when it has none."""
        request = urllib.request.Request(
            f"{self.http_base}/metrics", headers={"Authorization": f"Bearer {BENCH_METRICS_TOKEN}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
        except (OSError, urllib.error.URLError):
            return None
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith((f"{name} ", f"{name}{{"))]
        return sum(values) if values else None

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited early (code {self.process.returncode}):\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"server did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class ServerSet:
    """One or more server processes of the target, started together and stopped together."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.log_dir = Path(tempfile.mkdtemp(prefix="confab-bench-logs-"))
        self.servers: list[ServerProcess] = []

    def __enter__(self) -> ServerSet:
        for _ in range(self.target.processes):
            self.servers.append(ServerProcess(self.target, free_port(), self.log_dir))
        for server in self.servers:
            server.wait_listening()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for server in self.servers:
            server.stop()
        if exc_type is None and not os.environ.get("CONFAB_BENCH_KEEP_LOGS"):
            shutil.rmtree(self.log_dir, ignore_errors=True)
        else:
            print(f"server logs kept in {self.log_dir}", flush=True)

    @property
    def pids(self) -> list[int]:
        return [s.pid for s in self.servers]

    def ws_urls(self) -> list[str]:
        return [s.ws_url for s in self.servers]

    def http_bases(self) -> list[str]:
        return [s.http_base for s in self.servers]

    def rss_kib(self) -> list[int]:
        return [s.rss_kib() for s in self.servers]

    def gc_seconds(self) -> float | None:
        """The cyclic collector's CPU seconds so far, all processes together (None: not reported)."""
        return self.metric_total("confab_gc_seconds_total")

    def metric_total(self, name: str) -> float | None:
        """A ``/metrics`` sample's sum over all processes (None: a process does not report it)."""
        readings = [s.metric_total(name) for s in self.servers]
        return None if None in readings else sum(readings)

    def check_alive(self) -> None:
        for server in self.servers:
            if server.process.poll() is not None:
                raise SystemExit(f"server {server.port} died (code {server.process.returncode}):\n{server.log_tail()}")

    def log_errors(self) -> list[str]:
        """Tracebacks and errors the servers logged (a benchmark must not hide them)."""
        found: list[str] = []
        for server in self.servers:
            try:
                text = server.log_path.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                if any(word in line for word in ("Traceback", "Error", "ERROR", "Exception")):
                    found.append(f"[{server.port}] {line.strip()}")
        return found
