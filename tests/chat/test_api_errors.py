"""REST error mapping: every error, even an unexpected one, is JSON with a contract code."""

import logging

import pytest

from chat import queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_rooms_list(monkeypatch):
    """Make the rooms query fail as a bug would; the error mapping is what is under test."""

    def fail(user):
        raise RuntimeError("a bug in a query")

    monkeypatch.setattr(queries, "rooms_for_user", fail)


def test_an_unexpected_error_is_a_json_500_with_code_server_error(api_for, ann, broken_rooms_list):
    client = api_for(ann)
    client.raise_request_exception = False

    response = client.get("/api/v1/rooms/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Server error.", "code": "server_error"}


def test_an_unexpected_error_is_logged_once_with_its_traceback(api_for, ann, broken_rooms_list, caplog):
    client = api_for(ann)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR, logger="django.request"):
        client.get("/api/v1/rooms/")

    records = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert len(records) == 1
    assert records[0].exc_info[0] is RuntimeError


def test_an_unexpected_error_still_reaches_the_test_client(api_for, ann, broken_rooms_list):
    with pytest.raises(RuntimeError, match="a bug in a query"):
        api_for(ann).get("/api/v1/rooms/")


def test_with_debug_on_an_unexpected_error_gets_djangos_debug_handling(api_for, ann, broken_rooms_list, settings):
    settings.DEBUG = True
    client = api_for(ann)
    client.raise_request_exception = False

    response = client.get("/api/v1/rooms/")

    assert response.status_code == 500
    assert "RuntimeError" in response.content.decode()
