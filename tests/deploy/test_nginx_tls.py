"""The documented deployment, running: nginx (deploy/nginx/confab.conf.template) ends TLS in front of two
Confab processes started as deploy/systemd/confab@.service starts them, with the production environment of
deploy/confab.env.example. Pages, static files, a browser's chat over wss://, delivery across the two
processes, and a rolling restart of one of them, all through the real thing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from tests.conftest import PROJECT_DIR, database_url_for_subprocess, free_port, missing_service
from tests.deploy.conftest import UnitProcess, production_env, render_nginx_site, wait_until_listening
from tests.wsclient import Client
from uploads.handlers import max_request_bytes

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True)]

NGINX = Path("/usr/sbin/nginx")
PASSWORD = "correct-horse-battery"
TIMEOUT_MS = 20_000  # bounds how long a failing browser step waits; a passing one takes well under a second
STATIC_ROOT = PROJECT_DIR / "staticfiles"


@dataclass
class Deployment:
    https_port: int
    http_port: int
    upstreams: list[UnitProcess]
    certificate: Path
    nginx: subprocess.Popen
    nginx_log: Path

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://localhost:{self.https_port}/ws/chat/"

    def tls(self) -> ssl.SSLContext:
        """Trusts exactly the test's self-signed certificate (no verification switched off)."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def get(self, url: str) -> tuple[int, Message, bytes]:
        """A GET that does not follow redirects: (status, headers, body); header names in any case, as in HTTP."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=self.tls()))
        try:
            with opener.open(url, timeout=20) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


def nginx_main_conf(prefix: Path, site: Path) -> str:
    """The test's stand-in for Debian's /etc/nginx/nginx.conf: its own pid, logs and temp paths, the site included."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read STATIC_ROOT inside this checkout
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def deployment(django_db_setup, tmp_path_factory) -> Iterator[Deployment]:
    if not NGINX.exists():
        missing_service(f"nginx is not installed at {NGINX} (scripts/ensure-nginx installs it)")
    if not settings.REDIS_URL:
        missing_service("two processes behave as one server only on Redis (set REDIS_URL)")
    if shutil.which("openssl") is None:
        missing_service("openssl is not installed")
    tmp = tmp_path_factory.mktemp("deploy")
    https_port, http_port = free_port(), free_port()
    env = production_env(
        SECRET_KEY=settings.SECRET_KEY,  # the tests sign their JWTs with it
        ALLOWED_HOSTS="localhost",
        CSRF_TRUSTED_ORIGINS=f"https://localhost:{https_port}",
        DATABASE_URL=database_url_for_subprocess(),
        REDIS_URL=settings.REDIS_URL,
        MEDIA_ROOT=str(tmp / "media"),
    )
    # The rolling restart test sends more than a person may per minute.
    env.update(RATE_LIMIT_MESSAGES="0", PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "-v", "0"],
        cwd=PROJECT_DIR, env={**os.environ, **env}, check=True, timeout=300,
    )  # fmt: skip
    cert, key = make_certificate(tmp)
    upstreams = [UnitProcess(free_port(), env, tmp) for _ in range(2)]
    site = tmp / "confab.conf"
    site.write_text(
        render_nginx_site(
            {
                "CONFAB_SERVER_NAME": "localhost",
                "CONFAB_HTTP_PORT": str(http_port),
                "CONFAB_HTTPS_PORT": str(https_port),
                "CONFAB_TLS_CERT": str(cert),
                "CONFAB_TLS_KEY": str(key),
                "CONFAB_UPSTREAM_1": f"127.0.0.1:{upstreams[0].port}",
                "CONFAB_UPSTREAM_2": f"127.0.0.1:{upstreams[1].port}",
                "CONFAB_STATIC_ROOT": str(STATIC_ROOT),
                "CONFAB_MAX_BODY": f"{max_request_bytes() // 1024}k",
            }
        )
    )
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_main_conf(tmp, site))
    nginx_log = tmp / "nginx.out"
    with nginx_log.open("w") as out:
        nginx = subprocess.Popen([str(NGINX), "-c", str(conf), "-p", str(tmp)], stdout=out, stderr=subprocess.STDOUT)
    deployment = Deployment(https_port, http_port, upstreams, cert, nginx, nginx_log)
    try:
        wait_until_listening(https_port, nginx, lambda: nginx_log.read_text() + (tmp / "error.log").read_text())
        for upstream in upstreams:
            upstream.start()
        yield deployment
    finally:
        if nginx.poll() is None:
            nginx.terminate()
            nginx.wait(timeout=10)
        for upstream in upstreams:
            upstream.stop()


# --- Pages and static files over HTTPS ---------------------------------------------------------------------


def test_the_login_page_loads_over_https_with_hsts(deployment):
    status, headers, _ = deployment.get(f"{deployment.origin}/accounts/login/")

    # HSTS is sent only on a request Django sees as secure: X-Forwarded-Proto from nginx is honoured.
    assert (status, headers["Strict-Transport-Security"]) == (200, "max-age=31536000; includeSubDomains; preload")


def test_plain_http_is_redirected_to_https(deployment):
    status, headers, _ = deployment.get(f"http://localhost:{deployment.http_port}/accounts/login/?next=/")

    # In production the HTTPS port is 443, so the redirect names none.
    assert (status, headers["Location"]) == (301, "https://localhost/accounts/login/?next=/")


def test_static_css_is_served_by_nginx_from_static_root(deployment):
    status, headers, body = deployment.get(f"{deployment.origin}/static/confab/confab.css")

    # "no-cache" is the static location's own header; Confab's WhiteNoise would say "max-age=60, public".
    assert (status, headers["Content-Type"], headers["Cache-Control"]) == (200, "text/css", "no-cache")
    assert body == (STATIC_ROOT / "confab" / "confab.css").read_bytes()


# --- A browser over wss:// ------------------------------------------------------------------------------


def test_two_people_in_a_browser_chat_over_wss(deployment, group_room, ann, bob):
    from playwright.sync_api import expect

    from tests.e2e.browser import launch_chromium, wait_until_offline

    sockets: dict[str, list[str]] = {"ann": [], "bob": []}
    with launch_chromium() as browser:
        pages = {}
        for name, user in (("ann", ann), ("bob", bob)):
            context = browser.new_context(ignore_https_errors=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.on("websocket", lambda socket, name=name: sockets[name].append(socket.url))
            page.goto(f"{deployment.origin}/accounts/login/?next=/rooms/{group_room.id}/")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{deployment.origin}/rooms/{group_room.id}/")
            expect(page.locator('[data-testid="connection"]')).to_have_attribute(
                "data-state", "online", timeout=TIMEOUT_MS
            )
            pages[name] = page

        composer = pages["ann"].locator('textarea[data-testid="composer"]')
        composer.fill("hello over TLS")
        composer.press("Enter")

        expect(pages["bob"].locator('[data-testid="message-body"]', has_text="hello over TLS")).to_have_count(
            1, timeout=TIMEOUT_MS
        )
        for context in browser.contexts:
            context.close()
    # The servers write last_seen as the sockets close; the database is emptied after the test.
    for user in (ann, bob):
        wait_until_offline(deployment.upstreams[0], user)
    assert sockets == {"ann": [deployment.wss_url], "bob": [deployment.wss_url]}


# --- WebSocket clients, on each process and through nginx --------------------------------------------------


async def open_client(url: str, user, tls: ssl.SSLContext | None = None) -> Client:
    """tests.wsclient.Client, on any URL (``Client.open`` takes a server's plain ws:// one)."""
    socket = await connect(url, max_size=2**22, ssl=tls)
    await socket.send(
        orjson.dumps({"type": "authenticate", "data": {"token": str(AccessToken.for_user(user))}}).decode()
    )
    ready = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
    assert ready["type"] == "ready", ready
    return Client(socket, ready)


async def offline(deployment: Deployment, *users) -> None:
    from tests.e2e.browser import wait_until_offline

    for user in users:
        await asyncio.to_thread(wait_until_offline, deployment.upstreams[1], user)


async def test_a_message_sent_through_one_process_reaches_the_other_and_nginx(deployment, group_room, ann, bob):
    first, second = deployment.upstreams
    sender = await open_client(first.ws_url, ann)
    on_second = await open_client(second.ws_url, bob)
    through_nginx = await open_client(deployment.wss_url, bob, deployment.tls())

    ack = await sender.request(
        "send_message", {"room": group_room.id, "body": "across", "client_id": str(uuid.uuid4())}
    )
    sent = ack["data"]["message"]

    for client in (on_second, through_nginx):
        [event] = await client.collect("new_message", 1)
        assert (event["data"]["message"]["id"], event["data"]["message"]["body"]) == (sent["id"], "across")
    for client in (sender, on_second, through_nginx):
        await client.close()
    await offline(deployment, ann, bob)


class Receiver:
    """A client through nginx that does what static/confab/client.js does on a close: reconnect, then `sync`."""

    def __init__(self, deployment: Deployment, user, room_id: int) -> None:
        self.deployment = deployment
        self.user = user
        self.room_id = room_id
        self.messages: dict[int, dict] = {}  # by id: an event and a sync answer may both carry one
        self.close_codes: list[int | None] = []
        self.stopping = False
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = None

    def last_seq(self) -> int:
        return max((message["seq"] for message in self.messages.values()), default=0)

    async def run(self) -> None:
        while not self.stopping:
            try:
                client = await open_client(self.deployment.wss_url, self.user, self.deployment.tls())
            except (OSError, TimeoutError, WebSocketException):  # refused, or nginx's 502 while no process took it
                await asyncio.sleep(0.2)
                continue
            try:
                await self._serve(client)
            finally:
                await client.close()

    async def _serve(self, client: Client) -> None:
        events = asyncio.ensure_future(self._events(client))
        if self.messages:  # a reconnect: what was missed while away
            try:
                answer = await client.request("sync", {"rooms": {str(self.room_id): self.last_seq()}})
            except (ConnectionClosed, TimeoutError):
                answer = None
            if answer is not None and answer["type"] == "ack":
                for message in answer["data"]["messages"].get(str(self.room_id), []):
                    self.messages[message["id"]] = message
        self.connected.set()
        await asyncio.wait([events, client.reader], return_when=asyncio.FIRST_COMPLETED)
        events.cancel()
        if not self.stopping:
            self.close_codes.append(client.socket.close_code)

    async def _events(self, client: Client) -> None:
        while True:
            frame = await client.events.get()
            if frame["type"] == "new_message":
                message = frame["data"]["message"]
                self.messages[message["id"]] = message


async def test_a_restarted_process_loses_nothing_for_clients_through_nginx(deployment, group_room, ann, bob):
    first, second = deployment.upstreams
    receivers = [Receiver(deployment, user, group_room.id) for user in (ann, bob, ann, bob)]
    for receiver in receivers:  # one after another: nginx's round robin puts two on each process
        receiver.task = asyncio.ensure_future(receiver.run())
        await asyncio.wait_for(receiver.connected.wait(), 20)
    sender = await open_client(second.ws_url, ann)  # on the process that stays up
    acked: dict[int, dict] = {}

    async def send(count: int) -> None:
        for _ in range(count):
            ack = await sender.request(
                "send_message", {"room": group_room.id, "body": f"m{len(acked)}", "client_id": str(uuid.uuid4())}
            )
            assert ack["type"] == "ack", ack
            acked[ack["data"]["message"]["id"]] = ack["data"]["message"]

    await send(10)
    first.stop(signal.SIGTERM)  # drains, closes its sockets with 1012, exits (as `systemctl restart` stops it)
    await send(10)  # while it is down
    await asyncio.to_thread(first.start)
    await send(10)

    async with asyncio.timeout(30):  # bounded wait for the stragglers' sync, not a measurement
        while not all(set(receiver.messages) >= set(acked) for receiver in receivers):
            await asyncio.sleep(0.05)
    for receiver in receivers:
        receiver.stopping = True
        receiver.task.cancel()
    await sender.close()

    expected = {message_id: (message["seq"], message["body"]) for message_id, message in acked.items()}
    for receiver in receivers:
        got = {message_id: (message["seq"], message["body"]) for message_id, message in receiver.messages.items()}
        assert got == expected
    closed = [code for receiver in receivers for code in receiver.close_codes]
    assert closed and set(closed) == {1012}
    assert "SIGTERM: draining" in (first.log_dir / f"confab@{first.port}.1.log").read_text()
    await offline(deployment, ann, bob)
