"""Launching Debian's Chromium for the browser tests (no `playwright install` needed)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import missing_service

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps trying hosts it cannot reach.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launch_chromium():
    """Yield a Playwright browser on /usr/bin/chromium; skip (fail in CI) when it is missing."""
    if not CHROMIUM.exists():
        missing_service(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class SharedBrowser:
    """One Chromium for a whole test module, launched by the first test that opens a context.

    Playwright's sync API keeps its event loop registered on this thread from
    launch to exit, and Django's sync-only code (the ORM, ``async_to_sync``)
    refuses to run while a loop is registered. tests/e2e/conftest.py therefore
    unregisters it around the setup and teardown phases of the tests that use
    one (where fixtures write to the database) and closes each test's contexts
    at the end of its call phase, so no Playwright call happens outside it.
    Test bodies that touch the ORM use ``outside_playwright_loop()``.
    """

    def __init__(self) -> None:
        self._manager = None
        self._browser = None
        self.loop = None
        self.contexts: list = []
        self.signed_in: list = []

    def new_context(self, **options):
        if self._browser is None:
            self._manager = launch_chromium()
            self._browser = self._manager.__enter__()
            self.loop = asyncio._get_running_loop()
        context = self._browser.new_context(**options)
        self.contexts.append(context)
        return context

    def watch(self, server, user) -> None:
        """``user`` has a socket open on ``server``: wait for it to be gone after the test."""
        self.signed_in.append((server, user))

    def close_contexts(self) -> None:
        closed_at = datetime.now(UTC)
        contexts, self.contexts = self.contexts, []
        for context in contexts:
            try:
                context.close()
            except Exception:  # already closed, or the browser went away: nothing left to free
                pass
        signed_in, self.signed_in = self.signed_in, []
        for server, user in {(server, user.pk): (server, user) for server, user in signed_in}.values():
            wait_until_offline(server, user, closed_at=closed_at)

    def close(self) -> None:
        if self._manager is not None:
            asyncio._set_running_loop(self.loop)  # Playwright's exit runs its loop once more
            manager, self._manager, self._browser = self._manager, None, None
            manager.__exit__(None, None, None)


OFFLINE_WRITE_GRACE = 2.0


def wait_until_offline(server, user, *, closed_at: datetime | None = None, timeout: float = 10) -> None:
    """Until the server has handled the user's closed sockets (presence says offline, and its
    ``last_seen`` is from after ``closed_at``).

    The server writes on a disconnect (``last_seen``); the database is emptied
    right after each test, and on PostgreSQL that TRUNCATE can deadlock with
    such a write. Presence says offline (Redis) just before that write, so the
    write itself is waited for too. Asking the server is exact where a pause would guess.
    """
    from rest_framework_simplejwt.tokens import AccessToken

    request = urllib.request.Request(
        f"{server.http_url}/api/v1/presence/me/", headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"}
    )
    deadline = time.monotonic() + timeout
    offline_since = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                presence = json.loads(response.read())
                last_seen = presence.get("last_seen")
                written = closed_at is None or (
                    last_seen is not None and datetime.fromisoformat(last_seen.replace("Z", "+00:00")) >= closed_at
                )
                if not presence["online"]:
                    # A page that never opened a socket writes nothing: give the write a moment, no more.
                    offline_since = offline_since or time.monotonic()
                    if written or time.monotonic() - offline_since > OFFLINE_WRITE_GRACE:
                        return
        except (OSError, ValueError, KeyError):
            return  # the server or the user is gone: nothing left to wait for
        time.sleep(0.05)


@contextmanager
def outside_playwright_loop():
    """Run Django's sync code (ORM calls) between Playwright calls."""
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)
