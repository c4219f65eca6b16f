"""A PostgreSQL of the bench's own (``--private-postgres``), to read ``pg_stat_statements`` cleanly.

``initdb`` into a temporary directory on disk (not tmpfs: a commit's fsync must cost what it costs),
a port in 5600-5699, ``shared_preload_libraries = pg_stat_statements``, ``synchronous_commit`` and
``fsync`` on as in production. Nobody else connects to it, so its statement statistics and its
processes' CPU are the server's alone. Stopped and removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.replica.conftest import as_postgres, free_port_in  # the replica tests start PostgreSQL the same way

from .common import CLOCK_TICKS

PORTS = range(5600, 5700)
DATABASE = "confab_bench"
START_SECONDS = 60


def pg_bin() -> Path:
    """CONFAB_PG_BIN, or the newest Debian-packaged PostgreSQL."""
    if os.environ.get("CONFAB_PG_BIN"):
        return Path(os.environ["CONFAB_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise SystemExit("--private-postgres needs PostgreSQL's binaries (set CONFAB_PG_BIN)")
    return found[-1]


def _free_port() -> int:
    try:
        return free_port_in(PORTS)
    except RuntimeError as error:
        raise SystemExit(f"{error} for the private PostgreSQL") from None


class PrivatePostgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.process: subprocess.Popen | None = None

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True)

    def start(self) -> None:
        binaries = pg_bin()
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        init = subprocess.run(
            as_postgres([str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]),
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise SystemExit(f"initdb failed: {init.stderr}")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.port,
            "unix_socket_directories": f"'{self.directory}'",
            "shared_preload_libraries": "'pg_stat_statements'",
            "pg_stat_statements.track": "top",
            "pg_stat_statements.max": 10000,
            "synchronous_commit": "on",
            "fsync": "on",
            "max_connections": 200,
        }
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("".join(f"{key} = {value}\n" for key, value in conf.items()))
        log = open(self.directory / "postgres.log", "wb")  # noqa: SIM115 - the server writes to it until stop()
        self.process = subprocess.Popen(
            as_postgres([str(binaries / "postgres"), "-D", str(self.data)]), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with self._connect() as conn:
                    conn.execute("SELECT 1")
                break
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the private PostgreSQL did not start: {self.log_tail()}")
                time.sleep(0.2)
        with self._connect() as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def log_tail(self) -> str:
        try:
            return (self.directory / "postgres.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_seconds(self) -> float:
        """CPU of the postmaster and every process it forked (backends, WAL writer, checkpointer ...)."""
        root = self.postmaster_pid()
        if root is None:
            return 0.0
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == root or int(fields[1]) == root:
                total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def reset_statements(self) -> None:
        with self._connect() as conn:
            conn.execute("SELECT pg_stat_statements_reset()")

    def statements(self, database: str = DATABASE) -> list[tuple[str, int, float, int]]:
        with self._connect() as conn:
            return conn.execute(
                "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements"
                " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
                [database],
            ).fetchall()

    def settings(self) -> dict[str, str]:
        names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
        with self._connect() as conn:
            rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(names)]).fetchall()
        return dict(rows)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pid = self.postmaster_pid()
            if pid is not None:
                try:
                    os.kill(pid, 2)  # SIGINT: fast shutdown
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    # On disk under /var/tmp, not /tmp: /tmp may be tmpfs, where fsync costs nothing.
    directory = Path(tempfile.mkdtemp(prefix="confab-bench-pg-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    server = PrivatePostgres(directory, _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
