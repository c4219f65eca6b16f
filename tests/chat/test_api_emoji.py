"""GET /api/v1/emoji/: the shortcode table the server renders with; reactions by shortcode."""

import pytest
from rest_framework.test import APIClient

from chat import actions
from chat.emoji import SHORTCODES, TABLE_VERSION

pytestmark = pytest.mark.django_db


def test_the_table_lists_each_shortcode_with_its_emoji_and_keywords():
    rows = APIClient().get("/api/v1/emoji/").json()

    wave = next(row for row in rows if row["shortcode"] == "wave")
    assert wave == {"shortcode": "wave", "emoji": "👋", "keywords": ["hand", "wave", "waving"]}


def test_the_table_served_is_the_table_the_server_renders_with():
    rows = APIClient().get("/api/v1/emoji/").json()

    assert {row["shortcode"]: row["emoji"] for row in rows} == SHORTCODES
    assert len(rows) == len(SHORTCODES)


def test_the_table_is_cached_a_day_and_validated_by_its_version():
    response = APIClient().get("/api/v1/emoji/")

    assert (response["Cache-Control"], response["ETag"]) == ("public, max-age=86400", f'"{TABLE_VERSION}"')


def test_a_cached_copy_of_the_current_version_is_304_without_a_body():
    response = APIClient().get("/api/v1/emoji/", HTTP_IF_NONE_MATCH=f'"{TABLE_VERSION}"')

    assert (response.status_code, response.content) == (304, b"")


def test_a_reaction_given_as_a_shortcode_is_stored_as_its_emoji(api_for, ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 0
    message, _ = actions.send_message(ann, group_room.id, body="shipped")

    response = api_for(bob).post(f"/api/v1/messages/{message['id']}/reactions/", {"emoji": ":tada:"}, format="json")

    assert response.json()["reactions"] == [{"emoji": "🎉", "count": 1, "users": [bob.id]}]


def test_a_shortcode_and_its_emoji_are_one_reaction(api_for, ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 0
    message, _ = actions.send_message(ann, group_room.id, body="shipped")
    client = api_for(bob)
    client.post(f"/api/v1/messages/{message['id']}/reactions/", {"emoji": "🎉"}, format="json")

    response = client.delete(f"/api/v1/messages/{message['id']}/reactions/?emoji=:tada:")

    assert response.json()["reactions"] == []
