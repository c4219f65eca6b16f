"""/healthz (the process answers) and /readyz (database and Redis reachable)."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from ops import health


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_answers(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_readyz_checks_redis_when_it_is_configured(client, redis_url):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_checks_every_master_of_a_redis_cluster(client, cluster_redis_url):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.django_db
def test_readyz_is_503_and_says_what_failed_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ConnectionError")


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, settings, monkeypatch):
    def broken() -> None:
        raise OperationalError("connection refused")

    # The real database cannot be taken away under the test run; the probe's failure path is what is checked.
    monkeypatch.setattr(health, "check_database", broken)
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "error: OperationalError: connection refused"},
    }


def test_probes_refuse_writes(client):
    assert client.post("/healthz").status_code == 405
