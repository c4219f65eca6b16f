"""The API docs and the admin work under their Content-Security-Policy: in a real browser, no violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, launch_server
from tests.e2e.browser import SharedBrowser

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000  # generous on shared machines; it bounds only how long a failure waits


@pytest.fixture(scope="module")
def chromium() -> Iterator[SharedBrowser]:
    shared = SharedBrowser()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    server_process = launch_server(tmp_path_factory.mktemp("server"))
    try:
        yield server_process
    finally:
        server_process.stop()


def open_page(chromium: SharedBrowser):
    """A page and the list its console errors (CSP violations among them) and uncaught exceptions go to."""
    page = chromium.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []

    def on_console(message) -> None:
        url = message.location.get("url", "")
        # The admin links no favicon, so the browser asks for /favicon.ico and gets a 404: no policy matter.
        if message.type == "error" and not url.endswith("/favicon.ico"):
            errors.append(f"{message.text} {url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def test_swagger_ui_lists_the_operations_with_no_policy_violation(server, chromium):
    from playwright.sync_api import expect

    page, errors = open_page(chromium)
    page.goto(f"{server.http_url}/api/docs/")

    expect(page.locator(".opblock").first).to_be_visible(timeout=TIMEOUT_MS)
    assert errors == []


def test_redoc_shows_the_api_with_no_policy_violation(server, chromium):
    from playwright.sync_api import expect

    page, errors = open_page(chromium)
    page.goto(f"{server.http_url}/api/redoc/")

    expect(page.get_by_role("heading", name="Confab API")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("h2", has_text="Create a group room")).to_be_visible(timeout=TIMEOUT_MS)
    # Redoc's "API docs by Redocly" badge asks for its logo from cdn.redoc.ly: the policy blocks it, as
    # it should (nothing from a CDN); the page works without it.
    assert [error for error in errors if "https://cdn.redoc.ly/" not in error] == []


def test_the_admin_signs_in_and_shows_its_index_with_no_policy_violation(server, chromium, admin_user):
    from playwright.sync_api import expect

    page, errors = open_page(chromium)
    page.goto(f"{server.http_url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "password")
    page.click("input[type=submit]")

    expect(page.locator("#site-name")).to_be_visible(timeout=TIMEOUT_MS)
    page.goto(f"{server.http_url}/admin/accounts/user/{admin_user.pk}/change/")
    expect(page.locator("input[name=username]")).to_have_value("admin")
    assert errors == []
