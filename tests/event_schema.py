"""A pytest plugin: every frame the server encodes during the tests is checked against its spec.

``core.publishing.encode_frame`` is where every server frame is encoded; this
plugin installs itself as its ``_frame_observer`` for the session. A frame of
a type no app registered (``core.events``), or whose ``data`` breaks the
registered schema, fails the test that produced it (in the phase that
produced it: a frame encoded by a fixture fails that fixture's setup or
teardown). The check is recorded, not raised, in the observer: frames are
encoded in worker threads and consumer tasks whose exceptions the code under
test would catch and turn into other outcomes.

Frames encoded in other processes (``start_server``) are not seen.

It also records which types were produced: the ``produced_events`` fixture
gives a test the set of types encoded while it ran.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

_lock = threading.Lock()
_violations: list[str] = []
_recorders: list[set[str]] = []
_validators: dict[str, Draft202012Validator] = {}


def frame_problem(event_type: str, data: Any) -> str | None:
    """Why a server frame of ``event_type`` carrying ``data`` breaks the protocol, or None when it does not."""
    from core.events import SERVER, spec_for

    spec = spec_for(event_type)
    if spec is None:
        return f"{event_type!r} is not a registered event (core.events)"
    if spec.direction != SERVER:
        return f"{event_type!r} is a client request, not a server event"
    validator = _validators.get(event_type)
    if validator is None:
        validator = _validators[event_type] = Draft202012Validator(spec.data)
    errors = sorted(validator.iter_errors(data), key=lambda error: list(error.absolute_path))
    if not errors:
        return None
    details = "; ".join(f"at {'/'.join(map(str, e.absolute_path)) or '(data)'}: {e.message}" for e in errors[:5])
    return f"{event_type!r} frame breaks its schema: {details}"


def _observe(event_type: str, data: dict[str, Any]) -> None:
    problem = frame_problem(event_type, data)
    with _lock:
        for recorder in _recorders:
            recorder.add(event_type)
        if problem is not None:
            _violations.append(problem)


def pytest_sessionstart(session: pytest.Session) -> None:
    from core import publishing

    publishing._frame_observer = _observe


def pytest_sessionfinish(session: pytest.Session) -> None:
    from core import publishing

    publishing._frame_observer = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """A phase (setup, call, teardown) that encoded a bad frame fails, naming the frame."""
    report = yield
    with _lock:
        problems = list(_violations)
        _violations.clear()
    if not problems:
        return report
    text = "Frames that break the wire protocol (docs/protocol.md, core.events):\n" + "\n".join(
        f"  - {problem}" for problem in problems
    )
    if report.failed:
        report.sections.append(("wire protocol", text))  # failed anyway: keep its own reason first
    else:
        report.outcome = "failed"
        report.longrepr = text
    return report


@pytest.fixture
def produced_events() -> Iterator[set[str]]:
    """The types of the server frames encoded while the test runs (in this process)."""
    recorder: set[str] = set()
    with _lock:
        _recorders.append(recorder)
    try:
        yield recorder
    finally:
        with _lock:
            _recorders.remove(recorder)
