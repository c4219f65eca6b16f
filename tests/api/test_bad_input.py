"""REST: bad input is a 4xx with a contract code, never a 500, and changes nothing.

Each case here answered 500 before (a TypeError, an OverflowError, a
RecursionError or PostgreSQL refusing NUL).
"""

from __future__ import annotations

import pytest

from chat import actions
from chat.models import Message, Reaction, Room
from moderation.models import Report
from presence.models import Presence

pytestmark = pytest.mark.django_db

DEEP_JSON = "[" * 5000 + "]" * 5000


def post_raw(client, method: str, path: str, raw: str):
    return getattr(client, method)(path, data=raw, content_type="application/json")


def assert_invalid(response) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"


@pytest.fixture
def message(ann, group_room) -> Message:
    payload, _ = actions.send_message(ann, group_room.id, body="hello")
    return Message.objects.get(pk=payload["id"])


# --- Keys that collide with the actions' own parameters ---------------------------------------


@pytest.mark.parametrize("key", ["user", "room_id", "bogus"])
def test_patching_a_room_with_an_unknown_key_is_invalid_and_changes_nothing(api_for, ann, group_room, key):
    response = api_for(ann).patch(f"/api/v1/rooms/{group_room.id}/", {key: 1, "name": "Renamed"}, format="json")

    assert_invalid(response)
    assert response.json()["detail"] == f"Unknown fields: {key}."
    assert Room.objects.get(pk=group_room.id).name == "General"


# --- Ids: ints or digit strings, nothing else ----------------------------------------------------


@pytest.mark.parametrize(
    "raw_id", ["1e400", "-1e400", "4.9", "true", "1.0", "[1]", '"1e3"', '"٣"', "4611686018427387905"]
)
def test_an_id_that_is_not_a_whole_number_in_range_is_invalid(api_for, ann, bob, group_room, raw_id):
    response = post_raw(api_for(ann), "post", "/api/v1/rooms/direct/", f'{{"user": {raw_id}}}')

    assert_invalid(response)
    assert response.json()["detail"] == "`user` must be an id."
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 0


def test_a_float_reply_to_is_not_read_as_the_message_it_truncates_to(api_for, ann, group_room, message):
    raw = f'{{"body": "hi", "reply_to": {message.id}.9}}'

    response = post_raw(api_for(ann), "post", f"/api/v1/rooms/{group_room.id}/messages/", raw)

    assert_invalid(response)
    assert Message.objects.count() == 1


@pytest.mark.parametrize("raw_seq", ["1e400", "2.5", "true"])
def test_a_read_mark_seq_that_is_not_a_whole_number_is_invalid(api_for, bob, group_room, raw_seq):
    response = post_raw(api_for(bob), "post", f"/api/v1/rooms/{group_room.id}/read/", f'{{"seq": {raw_seq}}}')

    assert_invalid(response)


@pytest.mark.parametrize("param", ["before=1e400", "after=99999999999999999999999", "limit=1.5", "before=%D9%A3"])
def test_a_history_cursor_that_is_not_a_whole_number_in_range_is_invalid(api_for, ann, group_room, param):
    assert_invalid(api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/?{param}"))


@pytest.mark.parametrize("users", ["²", "1,٣", "99999999999999999999999"])
def test_presence_user_ids_must_be_ascii_digits_in_range(api_for, ann, users):
    response = api_for(ann).get("/api/v1/presence/", {"users": users})

    assert_invalid(response)
    assert response.json()["detail"] == "`users` must be a comma-separated list of user ids."


# --- Choices: a string first -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [["text"], {"text": 1}, 5])
def test_a_message_kind_that_is_not_a_string_is_invalid(api_for, ann, group_room, kind):
    response = api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/messages/", {"body": "hi", "kind": kind}, format="json"
    )

    assert_invalid(response)
    assert response.json()["detail"] == "`kind` must be one of: code, file, image, text."
    assert Message.objects.count() == 0


@pytest.mark.parametrize("level", [["all"], {"all": True}])
def test_a_notify_level_that_is_not_a_string_is_invalid(api_for, bob, group_room, level):
    response = api_for(bob).patch(f"/api/v1/rooms/{group_room.id}/", {"notify_level": level}, format="json")

    assert_invalid(response)
    assert response.json()["detail"] == "`notify_level` must be one of: all, mentions, none."


def test_a_presence_status_that_is_a_list_is_invalid(api_for, ann):
    response = api_for(ann).patch("/api/v1/presence/me/", {"status": ["away"]}, format="json")

    assert_invalid(response)
    assert response.json()["detail"] == "`status` must be one of: online, away, busy."


# --- NUL in text -----------------------------------------------------------------------------------


def test_nul_in_an_emoji_is_invalid(api_for, bob, message):
    response = api_for(bob).post(f"/api/v1/messages/{message.id}/reactions/", {"emoji": "👍\x00"}, format="json")

    assert_invalid(response)
    assert Reaction.objects.count() == 0


def test_nul_in_a_status_text_is_invalid(api_for, ann):
    response = api_for(ann).patch("/api/v1/presence/me/", {"status_text": "in\x00a call"}, format="json")

    assert_invalid(response)
    assert response.json()["detail"] == "`status_text` must not contain NUL characters."
    assert not Presence.objects.filter(user=ann).exclude(status_text="").exists()


def test_nul_in_a_report_reason_is_invalid(api_for, bob, message):
    response = api_for(bob).post(f"/api/v1/messages/{message.id}/report/", {"reason": "spam\x00"}, format="json")

    assert_invalid(response)
    assert response.json()["detail"] == "`reason` must not contain NUL characters."
    assert Report.objects.count() == 0


# --- JSON nesting depth ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/auth/token/", "/api/v1/auth/register/", "/api/v1/auth/token/refresh/"])
def test_deeply_nested_json_to_an_unauthenticated_endpoint_is_invalid(client, path):
    response = client.post(path, data=DEEP_JSON, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON may nest arrays and objects at most 32 deep.", "code": "invalid"}


def test_json_nested_past_the_setting_is_invalid_and_at_it_is_read(api_for, ann, group_room, settings):
    settings.JSON_MAX_DEPTH = 3
    client = api_for(ann)
    path = f"/api/v1/rooms/{group_room.id}/messages/"

    too_deep = post_raw(client, "post", path, '{"body": "x", "attachments": [[[]]]}')
    at_limit = post_raw(client, "post", path, '{"body": "x", "attachments": [[]]}')

    assert too_deep.json()["detail"] == "JSON may nest arrays and objects at most 3 deep."
    assert at_limit.json()["detail"] != too_deep.json()["detail"]  # parsed; refused by the action for its content


def test_brackets_inside_strings_do_not_count_as_nesting(api_for, ann, group_room, settings):
    settings.JSON_MAX_DEPTH = 2
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": '[[[[{{{{ \\" ]]'}, format="json")

    assert response.status_code == 201
    assert response.json()["body"] == '[[[[{{{{ \\" ]]'


def _json_operations() -> list[tuple[str, str]]:
    """Every operation of the schema that takes a JSON body."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                found.append((method, path))
    return sorted(found)


def test_deeply_nested_json_is_invalid_on_every_json_endpoint(api_for, ann, group_room, message):
    client = api_for(ann)
    client.raise_request_exception = False
    operations = _json_operations()
    ids = {"room_id": group_room.id, "message_id": message.id, "user_id": ann.id, "id": 1}
    ids |= {"bot_id": 1, "token_id": 1, "hook_id": 1, "token": "cfh_unknown"}  # integrations' paths

    answers = {
        (method, path): post_raw(client, method, path.format(**ids), DEEP_JSON).status_code
        for method, path in operations
    }

    assert len(operations) >= 10
    assert answers == dict.fromkeys(operations, 400)


# --- Unknown API paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/", "/api/v1/nope/", "/api/v2/rooms/", "/api/v1/rooms/abc/"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No such API endpoint.", "code": "not_found"}
