"""Launching Debian's Chromium for the browser tests (no `playwright install` needed)."""

from __future__ import annotations

from contextlib import contextmanager
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
