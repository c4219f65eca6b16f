"""OpenAPI: the schema and docs are served, cover every chat path, and document the payloads really built.

``chat.schema`` only documents; the payload builders of ``chat.payloads`` and
``chat.queries`` produce the responses. These tests compare the two so the
documentation cannot drift from the wire.
"""

import re

import pytest
from rest_framework.test import APIClient

from chat import actions, queries, schema
from chat.models import Message, RoomMember
from chat.payloads import member_payload, message_payloads, message_summary, room_payload
from chat.urls import urlpatterns as chat_urlpatterns
from core.payloads import user_payload
from core.schema import UserSchema
from uploads.models import Upload
from uploads.payloads import upload_payload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def openapi(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def fields(serializer_class) -> set[str]:
    return set(serializer_class().fields)


def openapi_path(route: str) -> str:
    return "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


CHAT_PATHS = [(openapi_path(str(p.pattern)), p.callback.view_class) for p in chat_urlpatterns]


# --- Served ------------------------------------------------------------------------------------


def test_schema_is_served_as_openapi_3(openapi):
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"] == "Confab API"


def test_schema_is_served_to_anonymous_callers_as_yaml_by_default(db):
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_docs_page_is_served(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize(("path", "view_class"), CHAT_PATHS, ids=[path for path, _ in CHAT_PATHS])
def test_schema_lists_every_chat_path_with_each_method_of_its_view(openapi, path, view_class):
    assert path in openapi["paths"]
    methods = {m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)}
    assert set(openapi["paths"][path]) - {"parameters"} == methods


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/register/", "/api/v1/users/"]
)
def test_schema_lists_the_auth_and_user_paths(openapi, path):
    assert path in openapi["paths"]


def test_schema_documents_send_statuses_including_retry_and_limits(openapi):
    responses = openapi["paths"]["/api/v1/rooms/{room_id}/messages/"]["post"]["responses"]

    assert {"200", "201", "400", "404", "409", "413", "429"} <= set(responses)


def test_schema_documents_the_history_cursors(openapi):
    parameters = openapi["paths"]["/api/v1/rooms/{room_id}/messages/"]["get"]["parameters"]

    assert {p["name"] for p in parameters if p["in"] == "query"} == {"before", "after", "limit"}


def test_schema_generation_has_no_errors():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(generated)

    assert not GENERATOR_STATS._error_cache


# --- Documented fields are the built keys -----------------------------------------------------------


@pytest.fixture
def rich_message(ann, bob, group_room) -> Message:
    payload, _ = actions.send_message(ann, group_room.id, body="documented")
    actions.set_reaction(bob, payload["id"], "👍", True)
    Upload.objects.create(
        owner=ann,
        file="uploads/a.txt",
        original_name="a.txt",
        content_type="text/plain",
        size=1,
        sha256="0" * 64,
        message_id=payload["id"],
    )
    return Message.objects.select_related("sender").get(pk=payload["id"])


def test_message_schema_fields_are_the_message_payload_keys(rich_message):
    (payload,) = message_payloads([rich_message])

    assert fields(schema.MessageSchema) == set(payload)
    assert fields(schema.ReactionSchema) == set(payload["reactions"][0])
    assert fields(schema.UploadSchema) == set(payload["attachments"][0])


def test_upload_schema_fields_are_the_upload_payload_keys(rich_message):
    assert fields(schema.UploadSchema) == set(upload_payload(Upload.objects.get()))


def test_user_schema_fields_are_the_user_payload_keys(ann):
    assert fields(UserSchema) == set(user_payload(ann))


def test_room_schema_fields_are_the_room_payload_keys(ann, group_room):
    membership = RoomMember.objects.get(room=group_room, user=ann)

    assert fields(schema.RoomSchema) == set(room_payload(group_room, membership))


def test_room_schema_fields_are_the_rooms_list_keys(ann, rich_message):
    (entry,) = queries.rooms_for_user(ann)

    assert fields(schema.RoomSchema) == set(entry)
    assert fields(schema.MessageSummarySchema) == set(entry["last_message"])


def test_message_summary_schema_fields_are_the_message_summary_keys(rich_message):
    assert fields(schema.MessageSummarySchema) == set(message_summary(rich_message))


def test_room_detail_schema_fields_are_the_room_detail_keys(ann, group_room):
    detail = queries.room_detail(RoomMember.objects.select_related("room").get(room=group_room, user=ann))

    assert fields(schema.RoomDetailSchema) == set(detail)
    assert fields(schema.MemberSchema) == set(detail["members"][0])


def test_member_schema_fields_are_the_member_payload_keys(ann, group_room):
    membership = RoomMember.objects.select_related("user").get(room=group_room, user=ann)

    assert fields(schema.MemberSchema) == set(member_payload(membership))


def test_history_schema_fields_are_the_history_page_keys(rich_message):
    assert fields(schema.HistorySchema) == set(queries.history_page(rich_message.room))


def test_read_schema_fields_are_the_read_answer_keys(bob, rich_message):
    assert fields(schema.ReadSchema) == set(actions.mark_as_read(bob, rich_message.room_id, 1))


# --- Documented responses are what the views answer -------------------------------------------------


def response_fields(openapi: dict, path: str, method: str, status: str) -> set[str]:
    content = openapi["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    if content.get("type") == "array":
        content = content["items"]
    name = content["$ref"].rsplit("/", 1)[-1]
    component = openapi["components"]["schemas"][name]
    return set(component["properties"])


def test_public_rooms_answer_is_documented(openapi, api_for, ann, cat):
    actions.create_group_room(ann, name="Lobby", is_public=True)

    (listed,) = api_for(cat).get("/api/v1/rooms/public/").json()

    assert response_fields(openapi, "/api/v1/rooms/public/", "get", "200") == set(listed)


def test_joining_by_your_own_id_answers_the_documented_member(openapi, api_for, ann, cat):
    room = actions.create_group_room(ann, name="Lobby", is_public=True)

    response = api_for(cat).post(f"/api/v1/rooms/{room['id']}/members/", {"user": cat.id}, format="json")

    assert response.status_code == 201
    assert set(response.json()) == response_fields(openapi, "/api/v1/rooms/{room_id}/members/", "post", "201")
    assert response.json()["user"]["id"] == cat.id


def test_patch_room_answer_is_documented(openapi, api_for, ann, group_room):
    response = api_for(ann).patch(f"/api/v1/rooms/{group_room.id}/", {"topic": "t"}, format="json")

    assert set(response.json()) == response_fields(openapi, "/api/v1/rooms/{room_id}/", "patch", "200")


def test_direct_room_answer_is_documented(openapi, api_for, ann, bob):
    response = api_for(ann).post("/api/v1/rooms/direct/", {"user": bob.id}, format="json")

    assert set(response.json()) == response_fields(openapi, "/api/v1/rooms/direct/", "post", "201")


def test_register_answer_is_documented(openapi, db, settings):
    settings.REGISTRATION_OPEN = True  # off by default unless DEBUG
    response = APIClient().post(
        "/api/v1/auth/register/", {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json"
    )

    assert set(response.json()) == response_fields(openapi, "/api/v1/auth/register/", "post", "201")


def test_error_answer_is_documented(openapi, api_for, cat, group_room):
    response = api_for(cat).get(f"/api/v1/rooms/{group_room.id}/")

    assert set(response.json()) <= response_fields(openapi, "/api/v1/rooms/{room_id}/", "get", "404")


def test_schema_names_the_chat_enums_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)

    assert not [w for w in GENERATOR_STATS._warn_cache if '"kind"' in w or '"role"' in w]
    assert {"RoomKindEnum", "MessageKindEnum"} <= set(generated["components"]["schemas"])


def test_every_chat_answer_has_exactly_the_documented_fields(openapi, api_for, ann, bob, group_room):
    sent, _ = actions.send_message(ann, group_room.id, body="documented")
    actions.set_pinned(ann, sent["id"], True)
    client = api_for(ann)
    room = f"/api/v1/rooms/{group_room.id}"
    message = f"/api/v1/messages/{sent['id']}"
    calls = [
        ("get", "/api/v1/rooms/{room_id}/", f"{room}/", None, "200"),
        ("get", "/api/v1/rooms/", "/api/v1/rooms/", None, "200"),
        ("post", "/api/v1/rooms/", "/api/v1/rooms/", {"name": "New"}, "201"),
        ("get", "/api/v1/rooms/{room_id}/members/", f"{room}/members/", None, "200"),
        ("get", "/api/v1/rooms/{room_id}/messages/", f"{room}/messages/", None, "200"),
        ("post", "/api/v1/rooms/{room_id}/messages/", f"{room}/messages/", {"body": "x"}, "201"),
        ("get", "/api/v1/rooms/{room_id}/pins/", f"{room}/pins/", None, "200"),
        ("post", "/api/v1/rooms/{room_id}/read/", f"{room}/read/", {"seq": 1}, "200"),
        ("patch", "/api/v1/messages/{message_id}/", f"{message}/", {"body": "edited"}, "200"),
        ("post", "/api/v1/messages/{message_id}/reactions/", f"{message}/reactions/", {"emoji": "👍"}, "200"),
        ("delete", "/api/v1/messages/{message_id}/reactions/", f"{message}/reactions/", {"emoji": "👍"}, "200"),
        ("delete", "/api/v1/messages/{message_id}/pin/", f"{message}/pin/", None, "200"),
        ("post", "/api/v1/messages/{message_id}/pin/", f"{message}/pin/", None, "200"),
        ("get", "/api/v1/search/", "/api/v1/search/?q=edited", None, "200"),
        ("get", "/api/v1/users/", "/api/v1/users/", None, "200"),
    ]
    for method, path, url, data, status in calls:
        response = getattr(client, method)(url, data, format="json")
        assert str(response.status_code) == status, (method, url, response.content)
        body = response.json()
        if isinstance(body, list):
            assert body, (method, url)
            body = body[0]
        assert set(body) == response_fields(openapi, path, method, status), (method, path)
