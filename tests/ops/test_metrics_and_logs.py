"""/metrics for Prometheus behind a token, and logs that carry the request id of what they report."""

from __future__ import annotations

import logging

import orjson
import pytest

import config.asgi  # noqa: F401  (what a server loads: the runtime registers its gauges)
from core import logs
from core.metrics import counts
from realtime.database import database_call
from tests.conftest import receive_until

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the scrape")


@pytest.mark.django_db
def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_a_wrong_token_gets_the_same_404_as_no_endpoint(client, metrics_on):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 404


@pytest.mark.django_db
def test_the_scrape_lists_every_confab_metric(client, metrics_on):
    text = scrape(client)
    for name in (
        "confab_messages_sent_total",
        "confab_frames_delivered_total",
        "confab_publish_failures_total",
        "confab_database_refused_total",
        "confab_database_timeouts_total",
        "confab_database_batches_total",
        "confab_database_batched_items_total",
        "confab_sockets_shed_total",
        "confab_upload_bytes_total",
        "confab_open_sockets",
        "confab_backlog_bytes",
        "confab_requests_in_flight",
        "confab_database_calls_pending",
        "confab_send_seconds_bucket",
    ):
        assert name in text, name


@pytest.mark.django_db(transaction=True)
async def test_a_send_over_the_socket_shows_in_the_send_histogram_and_the_deliveries(
    ws_connect, ann, bob, group_room, client, metrics_on
):
    from asgiref.sync import sync_to_async

    before = await sync_to_async(scrape)(client)
    ann_ws, bob_ws = await ws_connect(ann), await ws_connect(bob)
    await ann_ws.send_json_to({"type": "send_message", "id": "s1", "data": {"room": group_room.id, "body": "hi"}})
    await receive_until(ann_ws, "ack", request_id="s1")
    await receive_until(bob_ws, "new_message")
    after = await sync_to_async(scrape)(client)

    assert sample(after, "confab_send_seconds_count") == sample(before, "confab_send_seconds_count") + 1
    assert sample(after, "confab_frames_delivered_total") >= sample(before, "confab_frames_delivered_total") + 2
    assert sample(after, "confab_open_sockets") >= 2


@pytest.mark.django_db(transaction=True)
async def test_a_socket_leaves_the_drains_open_sockets_when_it_closes(ws_connect, ann):
    from realtime import shutdown

    before = set(shutdown.state.sockets)
    ann_ws = await ws_connect(ann)
    [opened] = shutdown.state.sockets - before
    await ann_ws.disconnect()

    assert opened not in shutdown.state.sockets  # held by a plain set: only the consumer's exit removes it
    assert shutdown.state.sockets == before


@pytest.mark.django_db
def test_an_http_response_carries_the_proxy_request_id_or_a_new_one(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-42").headers["X-Request-ID"] == "edge-42"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="not a sane id \n").headers["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()


@pytest.mark.django_db
async def test_the_request_id_follows_work_into_the_database_threads():
    token = logs.request_id.set("ws:abcd1234:r7")
    try:
        assert await database_call(logs.request_id.get) == "ws:abcd1234:r7"
    finally:
        logs.request_id.reset(token)


def test_a_json_log_line_has_the_message_level_logger_and_request_id():
    record = logging.LogRecord("chat.consumers", logging.WARNING, __file__, 1, "sent %s", ("late",), None)
    token = logs.request_id.set("edge-42")
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        logs.request_id.reset(token)
    line = orjson.loads(logs.JsonFormatter().format(record))
    assert {key: line[key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING",
        "logger": "chat.consumers",
        "message": "sent late",
        "request_id": "edge-42",
    }
    assert line["time"].endswith("Z")


@pytest.mark.django_db
def test_a_full_collection_shows_in_the_collectors_runs_and_seconds(client, metrics_on):
    import gc

    before = scrape(client)
    cycle: list = []
    cycle.append(cycle)  # something for it to find
    del cycle
    gc.collect()
    after = scrape(client)

    runs = 'confab_gc_collections_total{generation="2"}'
    seconds = 'confab_gc_seconds_total{generation="2"}'
    assert sample(after, runs) == sample(before, runs) + 1
    assert sample(after, seconds) > sample(before, seconds)


def test_counts_start_as_whole_numbers():
    assert all(isinstance(getattr(counts, name), int) for name in counts.__slots__)


@pytest.mark.django_db
def test_every_metric_of_the_sample_dashboard_is_served(client, metrics_on):
    import re

    from tests.conftest import PROJECT_DIR

    dashboard = (PROJECT_DIR / "docs" / "grafana-dashboard.json").read_text()
    used = set(re.findall(r"confab_[a-z_]+", dashboard)) - {"confab"}
    served = scrape(client)
    assert used and {name for name in used if name not in served} == set()
