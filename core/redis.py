"""Shared Redis clients, one pool per process and per flavour (sync, async).

Every Redis-backed store (rate limits, presence, typing, history cache) gets
its client here, so timeouts and pool sizes are set in one place. None when
``REDIS_URL`` is unset: callers then use their in-process stores. On a
``redis+cluster://`` URL the clients are cluster clients: every script's
keys must then share a hash slot (docs/deploy.md, "Redis Cluster").

A client belongs to the process that made it, and an async client to its
event loop as well: a forked child (a preload-and-fork server's worker)
starts with none, and each loop gets its own.
"""

from __future__ import annotations

import asyncio
import os
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed

from .redis_pipeline import PipelinedRedis

CLUSTER_SCHEME = "redis+cluster://"
# Seconds to connect, and to wait for a reply where a client has a reply timeout (the sync clients, the
# cluster client, the pipelined connection): one figure for every client this module makes.
TIMEOUT = 5

_sync_client: redis.Redis | redis.RedisCluster | None = None
# Keyed by the loop itself, not id(loop): a new loop can get the address of a closed one.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis | aioredis.RedisCluster] = (
    weakref.WeakKeyDictionary()
)
_pipelines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PipelinedRedis | None] = weakref.WeakKeyDictionary()


class ClosedTransportSafeConnection(aioredis.Connection):
    """redis-py's asyncio connection, reporting a write to a transport that closed under it as the
    ``ConnectionError`` it is.

    Under uvloop such a write raises ``RuntimeError`` ("the handler is closed"),
    and a write after the connection was disconnected under it ``AttributeError``
    (its writer is gone); redis-py's cluster client takes neither for a lost
    connection: they escaped to the caller and failed WebSocket handshakes (seen
    in bursts of connects on the bench's cluster, while the client re-read the
    cluster's layout and closed connections other commands were starting on).
    As a ``ConnectionError`` the client retries the command on a fresh
    connection, as for any other lost one.
    """

    async def send_packed_command(self, command, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except (RuntimeError, AttributeError) as error:
            if "closed" not in str(error) and self._writer is not None:
                raise
            await self.disconnect(nowait=True)
            raise redis.exceptions.ConnectionError(
                f"{self.host}:{self.port} closed while a command was written"
            ) from error


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The seed nodes of ``redis+cluster://host:port,host:port,...`` (any few masters or replicas will do:
    the client reads the whole cluster's layout from them)."""
    if not is_cluster_url(url):
        raise ValueError(f"not a {CLUSTER_SCHEME} URL: {url!r}")
    nodes = []
    for item in url[len(CLUSTER_SCHEME) :].split("/")[0].split(","):
        item = item.strip()
        host, port = item, "6379"
        if ":" in item and not item.endswith("]"):  # host:port, [v6]:port (a bare v6 address needs brackets)
            host, _, port = item.rpartition(":")
        nodes.append((host.strip("[]") or "127.0.0.1", int(port)))
    return nodes


def sync_client() -> redis.Redis | redis.RedisCluster | None:
    global _sync_client
    if not settings.REDIS_URL:
        return None
    if _sync_client is None:
        if is_cluster_url(settings.REDIS_URL):
            _sync_client = redis.RedisCluster(
                startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in cluster_nodes(settings.REDIS_URL)],
                socket_timeout=TIMEOUT,
                socket_connect_timeout=TIMEOUT,
            )
        else:
            _sync_client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, health_check_interval=30
            )
    return _sync_client


def async_client() -> aioredis.Redis | aioredis.RedisCluster | None:
    """A client bound to the running event loop (asyncio pools cannot cross loops)."""
    if not settings.REDIS_URL:
        return None
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        _forget_closed_loops()
        if is_cluster_url(settings.REDIS_URL):
            client = async_cluster_client(cluster_nodes(settings.REDIS_URL), connect_timeout=TIMEOUT, timeout=TIMEOUT)
        else:
            client = aioredis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=TIMEOUT, health_check_interval=30
            )
        _async_clients[loop] = client
    return client


def async_pipeline() -> PipelinedRedis | None:
    """The running loop's pipelined connection (``core.redis_pipeline``) to ``REDIS_URL``, for the commands
    of every socket's connect and close; None without Redis and where only redis-py's client serves the URL
    (a cluster, TLS, a Unix socket): use ``async_client()`` there."""
    if not settings.REDIS_URL:
        return None
    loop = asyncio.get_running_loop()
    try:
        return _pipelines[loop]
    except KeyError:
        pass
    _forget_closed_loops()
    pipeline = None
    if not is_cluster_url(settings.REDIS_URL):
        options = aioredis.connection.parse_url(settings.REDIS_URL)
        if "connection_class" not in options:  # redis://host:port/db only; rediss:// and unix:// name a class
            pipeline = PipelinedRedis(
                options.get("host", "localhost"),
                int(options.get("port", 6379)),
                db=int(options.get("db", 0)),
                username=options.get("username"),
                password=options.get("password"),
                connect_timeout=TIMEOUT,
                timeout=TIMEOUT,
            )
    _pipelines[loop] = pipeline
    return pipeline


def async_cluster_client(
    nodes: list[tuple[str, int]], *, connect_timeout: float, timeout: float
) -> aioredis.RedisCluster:
    """An asyncio cluster client seeded with ``nodes``, on connections that report a closed transport
    as a lost connection (``ClosedTransportSafeConnection``)."""
    client = aioredis.RedisCluster(
        startup_nodes=[aioredis.cluster.ClusterNode(host, port) for host, port in nodes],
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
    )
    # RedisCluster takes no connection class; the nodes it makes (now and when it re-reads the layout)
    # take theirs from this shared dict (redis-py 7.4, held by realtime.layers.SUPPORTED_VERSIONS).
    client.connection_kwargs["connection_class"] = ClosedTransportSafeConnection
    for node in client.startup_nodes:
        node.connection_class = ClosedTransportSafeConnection
    return client


def _forget_closed_loops() -> None:
    """Let go of the clients of closed loops.

    The weak key alone does not: a client's connections hold their loop, so
    the entry would keep the loop (and its sockets) alive for good.
    """
    for by_loop in (_async_clients, _pipelines):
        for loop in [loop for loop in by_loop if loop.is_closed()]:
            del by_loop[loop]


def reset_clients() -> None:
    """Forget clients (tests switch REDIS_URL between runs; a forked child must not share its parent's)."""
    global _sync_client
    _sync_client = None
    _async_clients.clear()
    _pipelines.clear()


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        reset_clients()


setting_changed.connect(_on_setting_changed)
# A child's sockets would be its parent's too: two processes reading replies off one connection.
os.register_at_fork(after_in_child=reset_clients)
