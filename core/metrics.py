"""Process metrics for Prometheus (served by ``ops.metrics``).

Hot paths count with plain integers (``counts``): a delivery is one ``+= 1``
on the event loop, where prometheus_client's locked counters would cost a
lock per frame. A collector turns them into metric families when Prometheus
scrapes, together with gauges that the runtime registers (open sockets,
backlog bytes, database calls pending), read only then.

Each process has its own numbers; behind a balancer, scrape each process.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class Counts:
    """Monotonic counters of this process, bumped where things happen."""

    __slots__ = (
        "messages_sent",
        "frames_delivered",
        "publish_failures",
        "database_refused",
        "database_timeouts",
        "database_batches",
        "database_batched_items",
        "sockets_shed",
        "upload_bytes",
        "replica_reads",
        "replica_stale",
        "replica_failures",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)


counts = Counts()
rate_limited: Counter[str] = Counter()  # refusals by budget name

COUNTER_HELP = {
    "messages_sent": "Messages stored (every transport)",
    "frames_delivered": "Frames written to WebSocket connections",
    "publish_failures": "Channel-layer publishes that failed (retried or left to sync)",
    "database_refused": "Database calls refused at once because too many were pending (unavailable)",
    "database_timeouts": "Database calls answered unavailable after DB_CALL_TIMEOUT",
    "database_batches": "Database calls that loaded several callers' items together (connects: DatabaseBatches)",
    "database_batched_items": "Items those calls loaded (over database_batches: the mean batch)",
    "sockets_shed": "Connections closed for reading too slowly (4008)",
    "upload_bytes": "Bytes of files accepted by uploads",
    "replica_reads": "Reads served by the database replica (DATABASE_REPLICA_URL)",
    "replica_stale": "Reads sent to the primary because the replica had not replayed their rows yet",
    "replica_failures": "Replica errors (the read ran on the primary; replica unused DATABASE_REPLICA_RETRY_SECONDS)",
}

_gauges: dict[str, tuple[str, Callable[[], float]]] = {}


class CollectorTimes:
    """The cyclic garbage collector's runs and the CPU time they took, by generation (``gc.callbacks``).

    Full collections stop the event loop for tens of milliseconds once a
    process holds thousands of sockets, and their share of a process's CPU
    is what ``GC_THRESHOLDS`` trades (config/settings.py); the bench reads it
    here. Two calls of this per collection, so it costs nothing a run sees.
    """

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        # A collection runs in one thread, holding the GIL from its start to its stop: the pairs never nest.
        if phase == "start":
            self._started = time.thread_time()
            return
        generation = info["generation"]
        self.seconds[generation] += time.thread_time() - self._started
        self.runs[generation] += 1


collector_times = CollectorTimes()
gc.callbacks.append(collector_times)

registry = CollectorRegistry(auto_describe=False)

SEND_SECONDS = Histogram(
    "confab_send_seconds",
    "From a send_message frame's arrival to its ack being written, in seconds",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)


def register_gauge(name: str, help_text: str, read: Callable[[], float]) -> None:
    """A gauge read at scrape time (the runtime registers its own: sockets, backlogs, pending calls)."""
    _gauges[name] = (help_text, read)


class _Collector:
    def collect(self) -> Iterator[Metric]:
        for name, help_text in COUNTER_HELP.items():
            family = CounterMetricFamily(f"confab_{name}", help_text)
            family.add_metric([], getattr(counts, name))
            yield family
        limited = CounterMetricFamily("confab_rate_limited", "Requests refused by a rate limit", labels=["budget"])
        for budget, value in sorted(rate_limited.items()):
            limited.add_metric([budget], value)
        yield limited
        gc_seconds = CounterMetricFamily(
            "confab_gc_seconds", "CPU seconds of the cyclic garbage collector's runs", labels=["generation"]
        )
        gc_runs = CounterMetricFamily(
            "confab_gc_collections", "Runs of the cyclic garbage collector", labels=["generation"]
        )
        for generation in range(3):
            gc_seconds.add_metric([str(generation)], collector_times.seconds[generation])
            gc_runs.add_metric([str(generation)], collector_times.runs[generation])
        yield gc_seconds
        yield gc_runs
        for name, (help_text, read) in sorted(_gauges.items()):
            gauge = GaugeMetricFamily(f"confab_{name}", help_text)
            gauge.add_metric([], read())
            yield gauge


registry.register(_Collector())
