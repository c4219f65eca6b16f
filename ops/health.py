"""Health probes for load balancers and orchestrators.

``/healthz`` says the process serves requests and touches nothing else, so a
slow database never gets a healthy process restarted. ``/readyz`` says this
process can do its work: the database answers and, when configured, Redis
does; otherwise 503 with what failed, so traffic goes elsewhere.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.redis import cluster_nodes, is_cluster_url

PROBE_TIMEOUT = 2  # seconds; probes must answer before the balancer gives up


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    if is_cluster_url(settings.REDIS_URL):
        check_redis_cluster()
        return
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def check_redis_cluster() -> None:
    """Every master answers: each owns rooms' channels and keys that nothing else serves."""
    client = redis.RedisCluster(
        startup_nodes=[redis.cluster.ClusterNode(host, port) for host, port in cluster_nodes(settings.REDIS_URL)],
        socket_timeout=PROBE_TIMEOUT,
        socket_connect_timeout=PROBE_TIMEOUT,
    )
    try:
        client.ping(target_nodes=redis.RedisCluster.PRIMARIES)
    finally:
        client.close()


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    probes = [("database", check_database)]
    if settings.REDIS_URL:
        probes.append(("redis", check_redis))
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready", and says why
            checks[name] = f"error: {type(error).__name__}: {error}"[:300]
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
