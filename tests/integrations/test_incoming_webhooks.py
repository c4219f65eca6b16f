"""Incoming webhooks: room admins make them; a POST to the URL sends a message as the webhook's bot."""

import hashlib
import json
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from chat.models import Message, RoomMember
from integrations.models import IncomingWebhook

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def hook(api_for, ann, group_room) -> dict:
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/webhooks/", {"name": "Alerts"}, format="json")
    assert response.status_code == 201
    return response.json()


def posted(room):
    """The room's messages but the timeline's lines (the bot's "added" line)."""
    return Message.objects.filter(room=room).exclude(kind=Message.Kind.SYSTEM)


def post(url_or_token: str, data, **kwargs):
    path = url_or_token if url_or_token.startswith("/") else f"/hooks/{url_or_token}/"
    return APIClient(enforce_csrf_checks=True).post(path, data, **kwargs)


def test_creating_answers_the_url_and_token_once(hook, ann, group_room):
    stored = IncomingWebhook.objects.get()
    assert hook == {
        "id": stored.id,
        "name": "Alerts",
        "room": group_room.id,
        "bot": {
            "id": stored.bot_id,
            "username": stored.bot.username,
            "display_name": "Alerts",
            "avatar_url": None,
            "avatar_small_url": None,
            "is_bot": True,
        },
        "created_by": ann.id,
        "created_at": hook["created_at"],
        "url": f"http://testserver/hooks/{hook['token']}/",
        "token": hook["token"],
    }
    assert hook["token"].startswith("cfh_")


def test_the_token_is_stored_only_as_its_hash(hook):
    stored = IncomingWebhook.objects.values().get()
    assert stored["token_hash"] == hashlib.sha256(hook["token"].encode()).hexdigest()
    assert all(hook["token"] not in str(value) for value in stored.values())


def test_the_webhooks_bot_is_a_member_of_the_room(hook, group_room):
    assert RoomMember.objects.filter(room=group_room, user_id=hook["bot"]["id"], role="member").exists()


def test_the_list_shows_no_token(api_for, ann, group_room, hook):
    listed = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/webhooks/").json()
    assert [set(h) for h in listed] == [{"id", "name", "room", "bot", "created_by", "created_at"}]


def test_only_room_admins_create_webhooks(api_for, bob, group_room):
    response = api_for(bob).post(f"/api/v1/rooms/{group_room.id}/webhooks/", {"name": "X"}, format="json")
    assert response.status_code == 403 and not IncomingWebhook.objects.exists()


def test_a_webhook_needs_a_name(api_for, ann, group_room):
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/webhooks/", {"name": " "}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_past_webhooks_per_room_max_none_is_made(api_for, ann, group_room, settings):
    settings.WEBHOOKS_PER_ROOM_MAX = 1
    client = api_for(ann)
    codes = [
        client.post(f"/api/v1/rooms/{group_room.id}/webhooks/", {"name": n}, format="json").status_code for n in "ab"
    ]
    assert codes == [201, 403] and IncomingWebhook.objects.count() == 1


def test_a_json_post_sends_a_rendered_message_as_the_bot(hook, group_room):
    response = post(hook["url"].removeprefix("http://testserver"), {"text": "**build** passed"}, format="json")
    assert response.status_code == 201
    message = posted(group_room).get()
    assert response.json() == {"ok": True, "message": message.id}
    assert message.sender_id == hook["bot"]["id"]
    assert message.body == "**build** passed" and "<strong>build</strong>" in message.body_html


def test_a_slack_form_encoded_payload_is_accepted_and_blocks_ignored(hook, group_room):
    payload = json.dumps({"text": "from slack", "username": "CI", "blocks": [{"type": "section"}]})
    response = post(hook["token"], urlencode({"payload": payload}), content_type=FORM)
    assert response.status_code == 201
    assert posted(group_room).get().body == "from slack"


def test_a_username_is_the_name_that_message_shows(hook, group_room, api_for, ann):
    response = post(hook["token"], {"text": "deployed", "username": "Deployer"}, format="json")
    assert response.status_code == 201
    [message] = [
        m
        for m in api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/").json()["messages"]
        if m["kind"] == "text"
    ]
    assert message["sender_name"] == "Deployer"
    assert message["sender"]["id"] == hook["bot"]["id"] and message["sender"]["display_name"] == "Alerts"


def test_a_username_that_is_not_a_string_is_invalid(hook, group_room):
    response = post(hook["token"], {"text": "x", "username": ["a"]}, format="json")
    assert response.status_code == 400 and not posted(group_room).exists()


def test_a_message_without_username_shows_no_sender_name(hook, group_room):
    post(hook["token"], {"text": "plain"}, format="json")
    assert posted(group_room).get().sender_name == ""


def test_a_text_starting_with_a_slash_is_posted_as_text_not_run(hook, group_room):
    assert post(hook["token"], {"text": "/leave"}, format="json").status_code == 201
    assert posted(group_room).get().body == "/leave"
    assert RoomMember.objects.filter(room=group_room, user_id=hook["bot"]["id"]).exists()


@pytest.mark.parametrize(
    "data,kwargs",
    [
        ({"username": "no text"}, {"format": "json"}),
        ({"text": ""}, {"format": "json"}),
        ({"text": 5}, {"format": "json"}),
        ("[1, 2]", {"content_type": "application/json"}),
        ("not json", {"content_type": "application/json"}),
        ("[" * 5000 + "]" * 5000, {"content_type": "application/json"}),  # nested past JSON_MAX_DEPTH
        ("other=x", {"content_type": FORM}),  # a form without payload=
        ("payload=%7Bnot", {"content_type": FORM}),
        ("hello", {"content_type": "text/plain"}),
    ],
)
def test_a_bad_body_is_invalid_and_sends_nothing(hook, group_room, data, kwargs):
    response = post(hook["token"], data, **kwargs)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert not posted(group_room).exists()


def test_a_too_long_text_is_too_large(hook, group_room, settings):
    settings.MESSAGE_MAX_LENGTH = 10
    response = post(hook["token"], {"text": "x" * 11}, format="json")
    assert response.status_code == 413 and not posted(group_room).exists()


def test_an_unknown_token_is_not_found(hook):
    assert post("cfh_" + "x" * 43, {"text": "hi"}, format="json").status_code == 404
    assert post("anything", {"text": "hi"}, format="json").status_code == 404


def test_a_revoked_webhook_is_not_found(api_for, ann, hook, group_room):
    assert api_for(ann).delete(f"/api/v1/webhooks/{hook['id']}/").status_code == 204
    response = post(hook["token"], {"text": "hi"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not posted(group_room).exists()
    assert api_for(ann).get(f"/api/v1/rooms/{group_room.id}/webhooks/").json() == []


def test_renaming_renames_the_bot_its_messages_show(api_for, ann, hook):
    response = api_for(ann).patch(f"/api/v1/webhooks/{hook['id']}/", {"name": "Pager"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Pager" and response.json()["bot"]["display_name"] == "Pager"


def test_a_member_who_is_not_admin_cannot_rename_or_revoke(api_for, bob, hook):
    client = api_for(bob)
    assert client.patch(f"/api/v1/webhooks/{hook['id']}/", {"name": "X"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/webhooks/{hook['id']}/").status_code == 404
    assert IncomingWebhook.objects.get().revoked_at is None


def test_posts_past_the_send_limit_are_rate_limited(hook, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 2
    codes = [post(hook["token"], {"text": f"n{i}"}, format="json").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert posted(group_room).count() == 2


def test_posting_sends_new_message_to_the_room_through_the_send_action(
    hook, group_room, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post(hook["token"], {"text": "hi"}, format="json").status_code == 201
    assert callbacks  # the send action's publish of new_message, after commit


def test_listing_costs_the_same_queries_for_one_webhook_as_for_five(
    api_for, ann, group_room, django_assert_num_queries
):
    client = api_for(ann)
    path = f"/api/v1/rooms/{group_room.id}/webhooks/"
    client.post(path, {"name": "first"}, format="json")
    with django_assert_num_queries(3):  # the caller (token), their membership, the webhooks with their bots
        assert len(client.get(path).json()) == 1
    for n in range(4):
        client.post(path, {"name": f"more {n}"}, format="json")
    with django_assert_num_queries(3):
        assert len(client.get(path).json()) == 5
