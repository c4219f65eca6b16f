"""The frame check of tests/event_schema.py: what makes a server frame break the protocol."""

import subprocess
import sys
import textwrap

import pytest

from core.publishing import encode_frame
from tests.conftest import PROJECT_DIR
from tests.event_schema import frame_problem


def test_a_frame_of_an_unregistered_type_is_a_problem():
    assert frame_problem("message_exploded", {"message": 1}) == (
        "'message_exploded' is not a registered event (core.events)"
    )


def test_a_client_request_is_not_a_server_frame():
    assert frame_problem("send_message", {"room": 1, "body": "hi"}) == (
        "'send_message' is a client request, not a server event"
    )


def test_a_frame_without_a_required_key_is_a_problem():
    assert frame_problem("message_deleted", {"room": 1, "message": 2}) == (
        "'message_deleted' frame breaks its schema: at (data): 'seq' is a required property"
    )


def test_a_frame_with_a_key_its_schema_does_not_name_is_a_problem():
    problem = frame_problem("message_deleted", {"room": 1, "message": 2, "seq": 3, "body": "gone"})
    assert problem == (
        "'message_deleted' frame breaks its schema: at (data): "
        "Additional properties are not allowed ('body' was unexpected)"
    )


def test_a_frame_as_its_schema_says_is_no_problem():
    assert frame_problem("message_deleted", {"room": 1, "message": 2, "seq": 3}) is None


def test_every_encoded_frame_is_recorded(produced_events):
    encode_frame("ack", {}, request_id="r1")
    assert produced_events == {"ack"}


@pytest.fixture(scope="module")
def session_of_two_tests(tmp_path_factory) -> subprocess.CompletedProcess:
    """One pytest session of its own with the plugin (a nested session would reset this one's observer),
    holding a test that encodes a bad frame and one that encodes only valid frames: one Django start-up
    for both (8 s each on a slow machine)."""
    test_file = tmp_path_factory.mktemp("frames") / "test_frames.py"
    test_file.write_text(
        textwrap.dedent(
            """
            from core.publishing import encode_frame

            def test_sends_an_unknown_event():
                encode_frame("message_exploded", {})

            def test_sends_a_deletion():
                encode_frame("message_deleted", {"room": 1, "message": 2, "seq": 3})
            """
        )
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(PROJECT_DIR / "pyproject.toml"), "-p", "tests.event_schema"]
        + ["-v", str(test_file)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=110,
    )


def test_a_test_that_encodes_a_bad_frame_fails_naming_the_frame(session_of_two_tests):
    output = session_of_two_tests.stdout
    assert "::test_sends_an_unknown_event FAILED" in output, output + session_of_two_tests.stderr
    assert "'message_exploded' is not a registered event (core.events)" in output


def test_a_test_that_encodes_only_valid_frames_passes(session_of_two_tests):
    output = session_of_two_tests.stdout
    assert "::test_sends_a_deletion PASSED" in output, output + session_of_two_tests.stderr
