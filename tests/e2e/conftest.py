"""Browser tests: when one fails, its report carries the end of the server's log."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and server is not None and hasattr(server, "log"):
        report.sections.append(("server log (last 4000 characters)", server.log()[-4000:]))
