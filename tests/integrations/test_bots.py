"""Bots and their API tokens over REST: made by their owner, tokens shown once and stored hashed."""

import hashlib

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from chat import actions as chat_actions
from integrations.models import BotToken
from moderation.actions import suspend_user

pytestmark = pytest.mark.django_db


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_person_creates_a_bot_they_own_labelled_as_a_bot(api_for, ann):
    response = api_for(ann).post("/api/v1/bots/", {"username": "ci-bot", "display_name": "CI"}, format="json")
    assert response.status_code == 201
    bot = User.objects.get(username="ci-bot")
    assert response.json() == {
        "id": bot.id,
        "username": "ci-bot",
        "display_name": "CI",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": True,
        "owner": ann.id,
        "created_at": response.json()["created_at"],
    }
    assert bot.is_bot and bot.bot_owner == ann and not bot.has_usable_password()


def test_the_bot_list_holds_only_the_callers_live_bots(api_for, ann, bob, ann_bot):
    api_for(bob).post("/api/v1/bots/", {"username": "bobs-bot"}, format="json")
    assert [b["username"] for b in api_for(ann).get("/api/v1/bots/").json()] == ["deploybot"]


def test_a_taken_username_is_a_conflict_and_creates_nothing(api_for, ann, bob):
    response = api_for(ann).post("/api/v1/bots/", {"username": "BOB"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert not User.objects.filter(is_bot=True).exists()


def test_a_bad_username_is_invalid(api_for, ann):
    response = api_for(ann).post("/api/v1/bots/", {"username": "no spaces"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_bot_cannot_create_bots(ann_bot, bot_token):
    response = bearer(bot_token).post("/api/v1/bots/", {"username": "child-bot"}, format="json")
    assert response.status_code == 403
    assert not User.objects.filter(username="child-bot").exists()


def test_past_bots_per_user_max_no_bot_is_created(api_for, ann, settings):
    settings.BOTS_PER_USER_MAX = 2
    client = api_for(ann)
    assert [client.post("/api/v1/bots/", {"username": f"b{i}"}, format="json").status_code for i in range(3)] == [
        201,
        201,
        403,
    ]
    assert User.objects.filter(bot_owner=ann).count() == 2


def test_making_integrations_is_rate_limited(api_for, ann, settings):
    settings.RATE_LIMIT_INTEGRATIONS = 2
    client = api_for(ann)
    codes = [client.post("/api/v1/bots/", {"username": f"b{i}"}, format="json").status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_a_token_is_shown_once_and_only_its_hash_is_stored(api_for, ann, ann_bot):
    response = api_for(ann).post(f"/api/v1/bots/{ann_bot.id}/tokens/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("cfb_") and len(token) > 40
    stored = BotToken.objects.get()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in BotToken.objects.values().get().values())
    listed = api_for(ann).get(f"/api/v1/bots/{ann_bot.id}/tokens/").json()
    assert listed == [
        {
            "id": stored.id,
            "bot": ann_bot.id,
            "name": "ci",
            "hint": token[4:10],
            "created_at": listed[0]["created_at"],
            "last_used_at": None,
        }
    ]


def test_someone_elses_bot_has_no_tokens_to_make(api_for, bob, ann_bot):
    response = api_for(bob).post(f"/api/v1/bots/{ann_bot.id}/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 404 and not BotToken.objects.exists()


def test_past_bot_tokens_per_bot_max_no_token_is_made(api_for, ann, ann_bot, settings):
    settings.BOT_TOKENS_PER_BOT_MAX = 1
    client = api_for(ann)
    codes = [client.post(f"/api/v1/bots/{ann_bot.id}/tokens/", {"name": "t"}, format="json").status_code for _ in "ab"]
    assert codes == [201, 403] and BotToken.objects.count() == 1


def test_a_bot_uses_the_rest_api_with_its_token(ann_bot, bot_token):
    response = bearer(bot_token).get("/api/v1/rooms/")
    assert response.status_code == 200 and response.json() == []
    assert BotToken.objects.get().last_used_at is not None


def test_a_bot_added_to_a_room_sends_messages_like_any_member(ann, ann_bot, bot_token, group_room):
    chat_actions.add_member(ann, group_room.id, ann_bot.id)
    response = bearer(bot_token).post(f"/api/v1/rooms/{group_room.id}/messages/", {"body": "deployed"}, format="json")
    assert response.status_code == 201
    assert response.json()["sender"]["is_bot"] is True and response.json()["body"] == "deployed"


def test_a_jwt_still_authenticates_beside_bot_tokens(api_for, ann):
    assert api_for(ann).get("/api/v1/bots/").status_code == 200


def test_a_revoked_token_is_refused(api_for, ann, ann_bot, bot_token):
    token_id = BotToken.objects.get().id
    assert api_for(ann).delete(f"/api/v1/tokens/{token_id}/").status_code == 204
    response = bearer(bot_token).get("/api/v1/rooms/")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated" and response.json()["reason"] == "token_revoked"
    assert api_for(ann).get(f"/api/v1/bots/{ann_bot.id}/tokens/").json() == []


def test_an_unknown_token_with_the_prefix_is_refused(ann_bot):
    assert bearer("cfb_" + "x" * 43).get("/api/v1/rooms/").status_code == 401


def test_only_the_owner_revokes_a_token(api_for, bob, bot_token):
    assert api_for(bob).delete(f"/api/v1/tokens/{BotToken.objects.get().id}/").status_code == 404
    assert bearer(bot_token).get("/api/v1/rooms/").status_code == 200


def test_deleting_a_bot_deactivates_it_and_ends_its_tokens(api_for, ann, ann_bot, bot_token):
    assert api_for(ann).delete(f"/api/v1/bots/{ann_bot.id}/").status_code == 204
    ann_bot.refresh_from_db()
    assert not ann_bot.is_active
    assert BotToken.objects.get().revoked_at is not None
    assert bearer(bot_token).get("/api/v1/rooms/").status_code == 401
    assert api_for(ann).get("/api/v1/bots/").json() == []


def test_a_suspended_owners_bots_are_refused_too(ann, ann_bot, bot_token, make_user):
    moderator = make_user("mod", is_staff=True, is_superuser=True)
    suspend_user(moderator, ann.id, "spam")
    assert bearer(bot_token).get("/api/v1/rooms/").status_code == 401


def test_a_suspended_bot_is_refused(ann_bot, bot_token, make_user):
    moderator = make_user("mod", is_staff=True, is_superuser=True)
    suspend_user(moderator, ann_bot.id, "spam")
    assert bearer(bot_token).get("/api/v1/rooms/").status_code == 401
