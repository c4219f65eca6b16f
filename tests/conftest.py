"""Shared fixtures: users, clients, WebSocket connections, real server processes.

Services: with ``REDIS_URL``/``DATABASE_URL`` set (CI sets both) the whole
suite runs on Redis and PostgreSQL. Tests marked for a service skip with a
reason when it is missing, and fail instead when ``CONFAB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import runpy
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import pytest_asyncio
import schemathesis.reporting.html.writer  # noqa: F401 -- see below
import schemathesis.reporting.junitxml  # noqa: F401
from django.conf import settings

# schemathesis's pytest plugin imports its report writers only when the session finishes, and pytest's
# assertion rewriter then parses them. Python 3.11's AST constructor keeps its recursion counter in state that
# all threads share (around CPython gh-106905), and that parse failed the whole run twice in local runs
# (2026-12-03, "AST constructor recursion depth mismatch", with a test's server threads still running).
# Imported here, at collection, they are parsed while nothing else runs.
with contextlib.suppress(ImportError):  # the Allure writer needs allure-pytest, which is not installed
    import schemathesis.reporting.allure  # noqa: F401

# tests.event_schema: every frame the tests encode is checked against its schema; tests.redis_cluster: a real
# Redis Cluster (session fixture `redis_cluster`), started only for the tests that ask for it.
pytest_plugins = ["tests.event_schema", "tests.redis_cluster"]
REQUIRE_SERVICES = os.environ.get("CONFAB_REQUIRE_SERVICES") == "1"
PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('CONFAB_TEST_REDIS_DB', '15')}"


def missing_service(reason: str) -> None:
    """Skip locally; in CI a missing service is a failure, not a skip."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _redis_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _clean_shared_state() -> Iterator[None]:
    """Every test starts with empty rate limits, presence, typing state and history cache."""
    from channels.layers import channel_layers

    from chat.history_cache import clear_local
    from core.ratelimit import reset_local

    # A channel layer per test: channels_redis binds its locks to the event loop
    # that created it, and every async test has a loop of its own.
    channel_layers.backends.clear()
    reset_local()
    clear_local()
    if settings.REDIS_URL:
        from core.redis import sync_client

        sync_client().flushdb()
    _reset_presence_store()
    yield
    channel_layers.backends.clear()
    # The database threads hand their kept connections back: none outlives its test (nor the test database).
    from realtime.database import close_gateway

    close_gateway(wait=5)


def _reset_presence_store() -> None:
    try:
        from presence import store
    except ImportError:
        return
    reset = getattr(store, "reset_local", None)
    if reset is not None:
        reset()


@functools.cache
def _production_settings(redis_url: str) -> dict[str, Any]:
    with mock.patch.dict(os.environ, {"REDIS_URL": redis_url}):
        module = runpy.run_path(str(PROJECT_DIR / "config" / "settings.py"))
    return {name: module[name] for name in ("REDIS_URL", "CHANNEL_LAYERS", "CACHES")}


def production_settings(redis_url: str) -> dict[str, Any]:
    """The Redis URL, channel layer and cache config/settings.py makes of ``redis_url`` ("" for none).

    Read from the settings module itself (with ``CHANNEL_LAYER`` and the test
    prefix as this run has them), so tests run the layers production runs:
    ``realtime.layers.RedisFanOutChannelLayer`` on Redis,
    ``realtime.layers.LocalChannelLayer`` without.
    """
    return copy.deepcopy(_production_settings(redis_url))


def _switch_to(settings, redis_url: str) -> None:
    for name, value in production_settings(redis_url).items():
        setattr(settings, name, value)
    if settings.REDIS_URL:
        from core.redis import sync_client

        sync_client().flushdb()
    _reset_presence_store()


@pytest.fixture
def redis_url(settings) -> str:
    """Redis for this test: the configured one, or a local one switched on for it."""
    if settings.REDIS_URL:
        return settings.REDIS_URL
    if not _redis_reachable(LOCAL_REDIS_URL):
        missing_service(f"Redis is not reachable at {LOCAL_REDIS_URL}")
    _switch_to(settings, LOCAL_REDIS_URL)
    return settings.REDIS_URL


@pytest.fixture
def embedded(settings) -> None:
    """The embedded configuration for this test (no Redis: in-process layer, stores and cache), whatever the run's."""
    _switch_to(settings, "")


@pytest.fixture
def postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("needs PostgreSQL (set DATABASE_URL=postgres://...)")


# --- Users and clients -------------------------------------------------------------


@pytest.fixture
def make_user(django_user_model):
    counter = {"n": 0}

    def make(username: str | None = None, **fields):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        fields.setdefault("display_name", username.capitalize())
        return django_user_model.objects.create_user(username=username, password="correct-horse-battery", **fields)

    return make


@pytest.fixture
def ann(make_user):
    return make_user("ann", display_name="Ann")


@pytest.fixture
def bob(make_user):
    return make_user("bob", display_name="Bob")


@pytest.fixture
def cat(make_user):
    return make_user("cat", display_name="Cat")


@pytest.fixture
def api_for():
    """A DRF client authenticated as a user with a real JWT access token."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return make


@pytest.fixture
def group_room(ann, bob):
    """A private group room owned by Ann with Bob as a member."""
    from chat import actions
    from chat.models import Room

    payload = actions.create_group_room(ann, name="General", members=[bob.id])
    return Room.objects.get(pk=payload["id"])


# --- WebSocket -----------------------------------------------------------------------


@pytest_asyncio.fixture
async def ws_connect():
    """Open authenticated WebSocket connections through the real ASGI application.

    Authenticates with a JWT ``authenticate`` frame and returns the
    communicator after ``ready``; every connection is closed at teardown.
    """
    from channels.testing import WebsocketCommunicator
    from rest_framework_simplejwt.tokens import AccessToken

    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def connect(user, *, timeout: float = 5) -> WebsocketCommunicator:
        communicator = WebsocketCommunicator(application, "/ws/chat/")
        connected, _ = await communicator.connect(timeout=timeout)
        assert connected
        opened.append(communicator)
        await communicator.send_json_to({"type": "authenticate", "data": {"token": str(AccessToken.for_user(user))}})
        ready = await communicator.receive_json_from(timeout=timeout)
        assert ready["type"] == "ready", ready
        communicator.ready = ready
        return communicator

    yield connect
    for communicator in opened:
        try:
            await communicator.disconnect()
        except Exception:  # already closed by the test or the server
            pass


def browser_socket(session_cookie: str):
    """A communicator for ``/ws/chat/`` as a page of this site opens it: its session cookie, host and origin."""
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    return WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[
            (b"cookie", f"sessionid={session_cookie}".encode()),
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
        ],
    )


async def receive_until(communicator, event_type: str, *, timeout: float = 3, request_id: str | None = None) -> dict:
    """Frames are read in order until one of ``event_type`` (and ``id``) arrives."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event_type!r} frame within {timeout} s")
        frame = await communicator.receive_json_from(timeout=remaining)
        if frame["type"] == event_type and (request_id is None or frame.get("id") == request_id):
            return frame


# --- Real server processes -------------------------------------------------------------


def prepared_statements() -> list[str]:
    """The statements prepared on this thread's PostgreSQL connection, sorted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY statement")
        return [row[0] for row in cursor.fetchall()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_subprocess() -> str:
    """The URL of the database this test uses (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class ServerProcess:
    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int | None = None) -> None:
        if self.process.poll() is not None:
            return
        if sig is None:
            self.process.terminate()
        else:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def launch_server(log_dir: Path, *, server: str = "daphne", extra_env: dict[str, str] | None = None) -> ServerProcess:
    """Start a real ASGI server process on the test database and wait until it listens."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
        "SECURE_COOKIES": "0",
        "DEBUG": "0",
        "RATE_LIMIT_MESSAGES": str(settings.RATE_LIMIT_MESSAGES),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    bin_dir = Path(sys.executable).parent
    if server.startswith("uvicorn"):
        command = [str(bin_dir / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        if server == "uvicorn-sansio":  # as `make run` and the benchmarks serve
            command += ["--ws", "websockets-sansio", "--loop", "uvloop"]
    else:
        command = [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server_process = ServerProcess(process, port, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server_process.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server_process
        except OSError:
            time.sleep(0.1)
    server_process.stop()
    raise RuntimeError(f"server did not listen within 30 s:\n{server_process.log()}")


@pytest.fixture
def start_server(settings, tmp_path) -> Iterator:
    """Start real ASGI server processes (daphne by default) on the test database.

    Tests that use it need ``django_db(transaction=True)`` so what they write
    is committed and visible to the servers.
    """
    servers: list[ServerProcess] = []

    def start(*, server: str = "daphne", extra_env: dict[str, str] | None = None) -> ServerProcess:
        server_process = launch_server(tmp_path, server=server, extra_env=extra_env)
        servers.append(server_process)
        return server_process

    yield start
    for server_process in servers:
        server_process.stop()
