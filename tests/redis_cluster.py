"""A real Redis Cluster for the tests: 3 masters with a replica each, on local ports in 7100-7199.

Started once per session (about a second), torn down with its files at the end. ``fail_over_master``
kills the master of a slot so its replica takes over, as a crashed machine would, and brings the killed
node back as a replica, so later tests find a whole cluster again.

``started_cluster`` is the same cluster outside pytest: the benchmark harness (``python -m bench
--redis-cluster``) starts one with it on ports of its own.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

PORTS = range(7100, 7200)
NODES = 6  # 3 masters, 3 replicas
NODE_TIMEOUT_MS = 1000  # how long a master may be silent before its replica takes over
READY_SECONDS = 30


def _free(port: int) -> bool:
    for candidate in (port, port + 10000):  # the node's port and its cluster bus port
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def _free_ports(count: int, ports: range = PORTS) -> list[int]:
    found: list[int] = []
    for port in ports:
        if _free(port):
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError(f"fewer than {count} free ports in {ports.start}-{ports.stop - 1}")


class RedisCluster:
    """The running cluster: its nodes' ports and processes."""

    def __init__(self, directory: Path, ports: list[int]) -> None:
        self.directory = directory
        self.ports = ports
        self.processes: dict[int, subprocess.Popen] = {}
        self.frozen: set[int] = set()  # stopped with SIGSTOP: running, but answering nothing

    @property
    def url(self) -> str:
        """As ``REDIS_URL`` takes it: a few seed nodes are enough."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(exist_ok=True)
        self.processes[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
            + ["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
            # A replica syncs at once (not after the default 5 s wait for more replicas) and may always take over.
            + ["--repl-diskless-sync-delay", "0", "--cluster-replica-validity-factor", "0"]
            + ["--save", "", "--appendonly", "no", "--dir", str(node_dir), "--logfile", str(node_dir / "log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if redis.Redis(port=port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=2)

    def master_of(self, key: str) -> int:
        """The port of the master that now owns ``key``'s slot."""
        cluster = redis.RedisCluster(host="127.0.0.1", port=self.live_port(), socket_timeout=2)
        try:
            return cluster.get_node_from_key(key).port
        finally:
            cluster.close()

    def live_port(self) -> int:
        return next(
            port for port, process in self.processes.items() if process.poll() is None and port not in self.frozen
        )

    def wait_until_healthy(self) -> None:
        """Every live node says the cluster is ok and every slot has a master; every replica is in sync."""
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                infos = [
                    self.client(port).cluster("info")
                    for port, process in self.processes.items()
                    if process.poll() is None
                ]
                links = [
                    self.client(port).info("replication").get("master_link_status", "up")
                    for port, process in self.processes.items()
                    if process.poll() is None
                ]
                if all(info["cluster_state"] == "ok" and int(info["cluster_slots_ok"]) == 16384 for info in infos) and (
                    set(links) == {"up"}
                ):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become healthy")
            time.sleep(0.1)

    def fail_over_master(self, key: str) -> int:
        """Kill the master of ``key``'s slot; return once its replica serves the slot. Returns the killed port."""
        port = self.master_of(key)
        self.processes[port].kill()
        self.processes[port].wait(timeout=10)
        self._wait_for_new_master(key, port)
        self.wait_until_healthy()
        return port

    def move_slot(self, key: str) -> int:
        """Hand ``key``'s empty slot to another master, as resharding does; returns the new master's port."""
        source = self.master_of(key)
        slot = self.client(source).cluster("keyslot", key)
        masters = {
            port: self.client(port).execute_command("CLUSTER MYID").decode()
            for port, process in self.processes.items()
            if process.poll() is None and self.client(port).info("replication")["role"] == "master"
        }
        target = next(port for port in masters if port != source)
        self.client(target).execute_command("CLUSTER SETSLOT", slot, "IMPORTING", masters[source])
        self.client(source).execute_command("CLUSTER SETSLOT", slot, "MIGRATING", masters[target])
        for port in (target, source, *masters):
            self.client(port).execute_command("CLUSTER SETSLOT", slot, "NODE", masters[target])
        self.wait_until_healthy()
        return target

    def drop_channels_of_slot(self, key: str) -> None:
        """Make the master of ``key``'s slot drop every sharded subscription in that slot, telling each
        subscriber with ``sunsubscribe``, as a master does whenever a slot is assigned (``CLUSTER SETSLOT
        <slot> NODE``), even to itself: each master is told in turn during a resharding."""
        port = self.master_of(key)
        master = self.client(port)
        slot = master.cluster("keyslot", key)
        master.execute_command("CLUSTER SETSLOT", slot, "NODE", master.execute_command("CLUSTER MYID").decode())

    def hang_master(self, key: str) -> int:
        """Freeze the master of ``key``'s slot (SIGSTOP: its sockets stay open and silent, as a hung machine's);
        return once its replica serves the slot. Returns the frozen port."""
        port = self.master_of(key)
        self.processes[port].send_signal(signal.SIGSTOP)
        self.frozen.add(port)
        self._wait_for_new_master(key, port)
        return port

    def _wait_for_new_master(self, key: str, old: int) -> None:
        # While a replica takes over, a client's view of the cluster may lack the dead master's slots: the
        # client says so with RedisClusterException, which is not a RedisError.
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if self.master_of(key) != old:
                    return
            except (redis.RedisError, redis.exceptions.RedisClusterException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no replica took over")
            time.sleep(0.1)

    def restore(self) -> None:
        """Wake every frozen node and start every killed one (each rejoins as a replica of its replacement)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
        self.frozen.clear()
        for port, process in list(self.processes.items()):
            if process.poll() is not None:
                self.start_node(port)
        self.wait_until_healthy()

    def flushall(self) -> None:
        for port, process in self.processes.items():
            if process.poll() is None:
                try:
                    self.client(port).flushall()
                except redis.ReadOnlyError:
                    pass  # a replica: its master's flush reaches it

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def started_cluster(ports: range = PORTS) -> Iterator[RedisCluster]:
    """A healthy cluster of 3 masters and 3 replicas on free ports of ``ports``, stopped and removed on exit."""
    directory = Path(tempfile.mkdtemp(prefix="confab-cluster-"))
    cluster = RedisCluster(directory, _free_ports(NODES, ports))
    try:
        for port in cluster.ports:
            cluster.start_node(port)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in cluster.ports)]
            + ["--cluster-replicas", "1", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster.wait_until_healthy()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    from tests.conftest import missing_service

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        missing_service("redis-server and redis-cli are needed for the Redis Cluster tests")
    with started_cluster() as cluster:
        yield cluster


@pytest.fixture
def cluster_redis_url(settings, redis_cluster) -> str:
    """This test runs on the Redis Cluster: channel layer, presence, typing, rate limits and history cache
    (and the servers it starts, which take ``REDIS_URL`` from these settings)."""
    from tests.conftest import _switch_to

    _switch_to(settings, redis_cluster.url)
    return settings.REDIS_URL


@pytest.fixture(params=["redis", "cluster"])
def any_redis(request) -> str:
    """The test runs twice: on one Redis, and on the Redis Cluster (sharded pub/sub, hash-tagged scripts)."""
    return request.getfixturevalue("redis_url" if request.param == "redis" else "cluster_redis_url")
