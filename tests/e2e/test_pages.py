"""The server-rendered pages: who may see them, what they cost, and how they hand data to the scripts."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.RATE_LIMIT_MESSAGES = 0
    settings.RATE_LIMIT_ROOMS = 0  # the query-count test makes 28 rooms
    settings.RATE_LIMIT_MEMBER_ADDS = 0
    settings.REGISTRATION_OPEN = True  # a visitor registers in these tests; off by default unless DEBUG


def bootstrap_of(response) -> dict:
    match = re.search(rb'<script id="confab-bootstrap" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the page carries its data for the scripts"
    return json.loads(match.group(1))


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_signed_out_visitors_are_sent_to_the_sign_in_page(client, group_room):
    for url in ("/", f"/rooms/{group_room.id}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"


def test_a_room_the_user_is_not_in_is_not_found(client, group_room, cat):
    client.force_login(cat)
    assert client.get(f"/rooms/{group_room.id}/").status_code == 404
    assert client.get("/rooms/999999/").status_code == 404


def test_the_room_page_renders_history_and_hands_the_same_payloads_to_the_scripts(client, ann, bob, group_room):
    from chat import actions, queries

    actions.send_message(bob, group_room.id, body="hello **ann**")
    direct, _ = actions.get_or_create_direct_room(ann, bob.id)
    client.force_login(ann)
    response = client.get(f"/rooms/{group_room.id}/")
    html = response.content.decode()
    assert '<div class="message-body" data-testid="message-body"><p>hello <strong>ann</strong></p></div>' in html
    assert 'data-testid="composer"' in html
    data = bootstrap_of(response)
    assert data["me"] == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    group_room.refresh_from_db()
    assert data["history"] == queries.history_page(group_room, limit=50)
    assert [room["id"] for room in data["rooms"]] == [room["id"] for room in queries.rooms_for_user(ann)]
    bob_payload = {
        "id": bob.id,
        "username": "bob",
        "display_name": "Bob",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    assert data["peers"] == {str(direct["id"]): bob_payload}
    assert data["room"]["id"] == group_room.id and len(data["room"]["members"]) == 2


def test_user_text_in_the_page_data_cannot_end_the_script_block(client, ann):
    from chat import actions

    actions.create_group_room(ann, name="</script><script>alert(1)</script>")
    client.force_login(ann)
    response = client.get("/")
    assert b"<script>alert(1)" not in response.content
    assert bootstrap_of(response)["rooms"][0]["name"] == "</script><script>alert(1)</script>"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_pages_cost_the_same_queries_for_2_rooms_as_for_30(client, ann, bob, make_user, group_room):
    from chat import actions

    actions.send_message(bob, group_room.id, body="hi")
    actions.get_or_create_direct_room(ann, bob.id)
    client.force_login(ann)
    few_home = queries_for(client, "/")
    few_room = queries_for(client, f"/rooms/{group_room.id}/")
    for n in range(14):
        room = actions.create_group_room(ann, name=f"room {n}", members=[bob.id])
        actions.send_message(bob, room["id"], body=f"message {n}")
        direct, _ = actions.get_or_create_direct_room(ann, make_user().id)
        actions.send_message(ann, direct["id"], body="hello")
    for n in range(40):
        actions.send_message(bob, group_room.id, body=f"more {n}")
    assert queries_for(client, "/") == few_home
    assert queries_for(client, f"/rooms/{group_room.id}/") == few_room


def test_a_wrong_password_shows_the_form_again_with_an_error_and_no_session(client, ann):
    response = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})
    assert response.status_code == 200
    assert b'class="form-error" role="alert"' in response.content
    assert b"Please enter a correct username and password" in response.content
    assert b'value="ann"' in response.content  # the username stays filled in
    assert "_auth_user_id" not in client.session


def test_registration_errors_are_shown_next_to_their_fields(client, ann):
    response = client.post(
        "/accounts/register/",
        {"username": "ann", "display_name": "", "password1": "trust-no-one-1013", "password2": "trust-no-one-1014"},
    )
    assert response.status_code == 200
    errors = re.findall(
        r'<label class="field has-error">\s*<span>([^<]+)<.*?class="field-error" role="alert">([^<]+)<',
        response.content.decode(),
        re.S,
    )
    assert errors == [
        ("Username", "A user with that username already exists."),
        ("Password confirmation", "The two password fields didn’t match."),
    ]


def test_the_room_list_previews_the_last_message_as_plain_text(client, ann, bob, group_room):
    from chat import actions

    actions.send_message(bob, group_room.id, body="| *Design* | table |\n|---|---|\n| **bold** | x |")
    client.force_login(ann)
    html = client.get("/").content.decode()
    preview = re.search(r'<span class="entry-preview">([^<]*)</span>', html).group(1)
    assert preview == "Bob: Design table bold x"


def test_a_room_page_names_a_webhook_post_by_its_own_name_and_a_timeline_line_without_sender(
    client, ann, bob, group_room
):
    from integrations.actions import check_create_incoming_webhook, do_create_incoming_webhook, post_to_hook

    hook = do_create_incoming_webhook(check_create_incoming_webhook(ann, group_room.id, "Deploys"), "http://x")
    post_to_hook(hook["url"].rstrip("/").rsplit("/", 1)[1], {"text": "Build 42 passed", "username": "CI"})
    client.force_login(bob)
    client.raise_request_exception = True

    html = client.get(f"/rooms/{group_room.id}/").content.decode()
    assert re.search(r'<strong class="sender">CI</strong><span class="bot-tag" data-testid="bot-tag">bot</span>', html)
    # "Ann added Deploys": a system line, whose sender is None.
    assert re.search(r'class="message system"[^>]*>.*?<strong class="sender">System</strong>', html, re.S)


def test_the_page_tells_the_scripts_whether_the_user_is_a_moderator_and_links_staff_to_the_admin(
    client, ann, bob, group_room
):
    from django.contrib.auth.models import Permission

    ann.is_staff = True
    ann.save(update_fields=["is_staff"])
    ann.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    url = f"/rooms/{group_room.id}/"

    client.force_login(ann)
    response = client.get(url)
    assert bootstrap_of(response)["moderator"] is True
    assert b'href="/admin/"' in response.content

    client.force_login(bob)
    response = client.get(url)
    assert bootstrap_of(response)["moderator"] is False
    assert b'href="/admin/"' not in response.content
