"""A real streaming replica of the test run's PostgreSQL, for the read-replica tests.

``pg_basebackup -R`` copies the running primary (every database, the test
database included) into a temporary directory, and a second postgres serves
it as a hot standby on a free port in 5500-5599, streaming from the primary.
Needs the primary to allow replication connections (``wal_level`` replica,
``max_wal_senders`` > 0, a ``host replication`` line in pg_hba.conf); without
them the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from core.replica import REPLICA, unbench_replica
from tests.conftest import missing_service

PG_BIN = Path(os.environ.get("CONFAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
PORTS = range(5500, 5600)
START_SECONDS = 30
# Settings a hot standby must have at least as high as its primary's.
MATCHED_SETTINGS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def free_port_in(ports: range) -> int:
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class StreamingReplica:
    """A hot standby of the primary: its port, and replay control for the tests."""

    def __init__(self, directory: Path, port: int, process: subprocess.Popen) -> None:
        self.directory, self.port, self.process = directory, port, process

    def sql(self, query: str, dbname: str = "postgres") -> tuple | None:
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True) as conn:
            return conn.execute(query).fetchone()

    def pause_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # smart shutdown; a standby has no clients to wait for once tests end
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _primary() -> dict:
    primary = settings.DATABASES["default"]
    if primary["ENGINE"] != "django.db.backends.postgresql":
        missing_service("a streaming replica needs PostgreSQL (set DATABASE_URL=postgres://...)")
    return primary


@pytest.fixture(scope="session")
def streaming_replica(django_db_setup, django_db_blocker) -> Iterator[StreamingReplica]:
    primary = _primary()
    if not (PG_BIN / "pg_basebackup").exists():
        missing_service(f"pg_basebackup not found in {PG_BIN} (set CONFAB_PG_BIN)")
    host, port, user = primary.get("HOST") or "127.0.0.1", str(primary.get("PORT") or 5432), primary["USER"]
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute("SHOW wal_level")
        if cursor.fetchone()[0] not in ("replica", "logical"):
            missing_service("the primary's wal_level must be replica or logical")
        matched = {}
        for name in MATCHED_SETTINGS:
            cursor.execute(f"SHOW {name}")
            matched[name] = cursor.fetchone()[0]
    if int(matched["max_wal_senders"]) < 1:
        missing_service("the primary's max_wal_senders is 0")
    directory = Path(tempfile.mkdtemp(prefix="confab-replica-"))
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    process = None
    try:
        backup = subprocess.run(
            as_postgres(
                [str(PG_BIN / "pg_basebackup"), "-h", host, "-p", port, "-U", user]
                + ["-D", str(data), "-R", "-X", "stream", "-c", "fast", "-w"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if backup.returncode != 0:
            missing_service(f"pg_basebackup failed (does pg_hba.conf allow replication?): {backup.stderr.strip()}")
        replica_port = free_port_in(PORTS)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": replica_port,
            "unix_socket_directories": f"'{directory}'",
            "hot_standby": "on",
            "shared_buffers": "16MB",
            "fsync": "off",
            # A query that conflicts with replay is cancelled after a second, so replay never waits long.
            "max_standby_streaming_delay": "1s",
            **matched,
        }
        (data / "postgresql.conf").write_text("".join(f"{key} = {value}\n" for key, value in conf.items()))
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        (data / "pg_ident.conf").write_text("")
        if os.geteuid() == 0:
            for path in [data, *data.rglob("*")]:
                shutil.chown(path, "postgres")
        log = open(directory / "replica.log", "wb")  # noqa: SIM115 - the server writes to it until teardown
        process = subprocess.Popen(
            as_postgres([str(PG_BIN / "postgres"), "-D", str(data)]), stdout=log, stderr=subprocess.STDOUT
        )
        replica = StreamingReplica(directory, replica_port, process)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if replica.sql("SELECT pg_is_in_recovery()") == (True,):
                    break
            except psycopg.OperationalError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not start: {(directory / 'replica.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield replica
    finally:
        if process is not None:
            StreamingReplica(directory, 0, process).stop()
        shutil.rmtree(directory, ignore_errors=True)


def replica_settings(port: int, *, connect_timeout: float = 2.0, query_timeout: float = 10.0) -> dict:
    """The ``replica`` entry DATABASE_REPLICA_URL would make, on the test database at ``port``."""
    from config.db_router import replica_database

    primary = settings.DATABASES["default"]
    url = f"postgres://{primary['USER']}@127.0.0.1:{port}/{primary['NAME']}"
    replica = replica_database(primary, url, connect_timeout, query_timeout)
    return connections.configure_settings({"default": dict(primary), REPLICA: replica})[REPLICA]


def _drop_connection() -> None:
    connection = connections[REPLICA]
    connection.close()
    connection.close_pool()


@pytest.fixture(scope="module")
def replica_alias(streaming_replica) -> Iterator[StreamingReplica]:
    """The ``replica`` alias for a whole module.

    Module scope, so it exists before pytest-django sets up each test: Django
    lets a test use only the aliases that existed then (``databases="__all__"``).
    """
    connections.settings[REPLICA] = settings.DATABASES[REPLICA] = replica_settings(streaming_replica.port)
    yield streaming_replica
    _drop_connection()
    del connections[REPLICA]
    del connections.settings[REPLICA]
    settings.DATABASES.pop(REPLICA, None)
    unbench_replica()


def repoint_replica(port: int, **timeouts: float) -> None:
    """Point the ``replica`` alias elsewhere (a dead or slow replica) for the rest of a test."""
    _drop_connection()
    connections[REPLICA].settings_dict.update(replica_settings(port, **timeouts))


@pytest.fixture
def replica_db(replica_alias) -> Iterator[StreamingReplica]:
    """The streaming replica behind the ``replica`` alias; replay resumed and the alias restored afterwards."""
    yield replica_alias
    replica_alias.resume_replay()
    repoint_replica(replica_alias.port)
    unbench_replica()
