"""Browser tests: one Chromium per module, and the server's log in the report of a failure.

Tests that use the module's shared browser (the ``chromium`` fixture, a
``tests.e2e.browser.SharedBrowser``) get Playwright's event loop unregistered
during their setup and teardown, where fixtures write to the database, and
their browser contexts closed at the end of their call phase.
"""

from __future__ import annotations

import asyncio

import pytest


def _shared_browser(item):
    from tests.e2e.browser import SharedBrowser

    browser = getattr(item, "funcargs", {}).get("chromium")
    return browser if isinstance(browser, SharedBrowser) else None


def _outside_loop_phase(item):
    if "chromium" not in getattr(item, "fixturenames", ()):
        return None
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    return loop


def _restore(loop) -> None:
    asyncio._set_running_loop(loop if loop is not None and not loop.is_closed() else None)


def _phase_outside_the_loop(item):
    """A setup or teardown phase of a browser test, run with no event loop set, then the loop restored."""
    loop = _outside_loop_phase(item)
    try:
        yield
    finally:
        if "chromium" in item.fixturenames:
            _restore(loop)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _phase_outside_the_loop(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    try:
        yield
    finally:
        browser = _shared_browser(item)
        if browser is not None:
            browser.close_contexts()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield from _phase_outside_the_loop(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and server is not None and hasattr(server, "log"):
        report.sections.append(("server log (last 4000 characters)", server.log()[-4000:]))
