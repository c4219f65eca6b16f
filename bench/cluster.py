"""A Redis Cluster of the bench's own (``--redis-cluster``): the tests' 3 masters + 3 replicas, on 7300-7399.

The cluster code is the tests' (``tests/redis_cluster.py``); only the ports differ, so a bench and a test
run can each have one at the same time. Stopped and removed when the run ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

PORTS = range(7300, 7400)


@contextmanager
def bench_cluster() -> Iterator[object]:
    import shutil

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise SystemExit("--redis-cluster needs redis-server and redis-cli")
    from tests.redis_cluster import started_cluster

    with started_cluster(PORTS) as cluster:
        yield cluster
