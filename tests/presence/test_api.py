"""REST: GET|PATCH presence/me/ and GET presence/?users=."""

from __future__ import annotations

import pytest

from presence.models import Presence

pytestmark = pytest.mark.django_db


def ids(body: list[dict]) -> list[int]:
    return [p["user"]["id"] for p in body]


def test_my_presence_defaults_to_online_status_while_offline(backend, api_for, ann):
    response = api_for(ann).get("/api/v1/presence/me/")
    assert response.status_code == 200
    assert response.json() == {
        "user": {
            "id": ann.id,
            "username": "ann",
            "display_name": "Ann",
            "avatar_url": None,
            "avatar_small_url": None,
            "is_bot": False,
        },
        "online": False,
        "status": "online",
        "status_text": "",
        "status_expires_at": None,
        "last_seen": None,
    }


def test_patch_sets_status_and_text(backend, api_for, ann):
    response = api_for(ann).patch("/api/v1/presence/me/", {"status": "busy", "status_text": "In a call"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "busy"
    assert response.json()["status_text"] == "In a call"
    row = Presence.objects.get(user=ann)
    assert (row.status, row.status_text) == ("busy", "In a call")
    assert api_for(ann).get("/api/v1/presence/me/").json()["status"] == "busy"


def test_patch_with_only_text_keeps_the_status(backend, api_for, ann):
    client = api_for(ann)
    client.patch("/api/v1/presence/me/", {"status": "away"}, format="json")
    response = client.patch("/api/v1/presence/me/", {"status_text": "Back at 3"}, format="json")
    assert (response.json()["status"], response.json()["status_text"]) == ("away", "Back at 3")


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "Give `status` (online, away or busy) and/or `status_text`."),
        ({"status": "offline"}, "`status` must be one of: online, away, busy."),
        ({"status_text": ["x"]}, "`status_text` must be a string."),
        ({"status_text": "x" * 141}, "`status_text` is limited to 140 characters."),
    ],
    ids=["empty", "unknown-status", "text-not-string", "text-too-long"],
)
def test_patch_rejects_bad_input_and_changes_nothing(backend, api_for, ann, body, message):
    response = api_for(ann).patch("/api/v1/presence/me/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["message"] == message
    assert not Presence.objects.filter(user=ann).exists()


def test_presence_of_users_lists_only_the_caller_and_co_members(backend, api_for, ann, bob, cat, group_room):
    response = api_for(ann).get(f"/api/v1/presence/?users={cat.id},{bob.id},{ann.id},999999")
    assert response.status_code == 200
    assert ids(response.json()) == [ann.id, bob.id]


def test_presence_of_users_in_an_archived_room_only_is_hidden(backend, api_for, ann, bob, group_room):
    group_room.archived = True
    group_room.save(update_fields=["archived"])
    assert ids(api_for(ann).get(f"/api/v1/presence/?users={bob.id}").json()) == []


@pytest.mark.parametrize("query", ["", "?users=", "?users=a,b", "?users=0", "?users=1;2"])
def test_presence_of_users_needs_a_list_of_ids(backend, api_for, ann, query):
    response = api_for(ann).get(f"/api/v1/presence/{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_presence_of_users_is_capped(backend, api_for, ann):
    users = ",".join(str(n) for n in range(1, 202))
    response = api_for(ann).get(f"/api/v1/presence/?users={users}")
    assert response.status_code == 400
    assert response.json()["message"] == "At most 200 users per request."


def test_presence_of_users_takes_the_same_queries_for_2_or_60_users(
    backend, api_for, ann, django_assert_num_queries, settings
):
    from chat import actions
    from tests.presence.test_scaling import bulk_users

    settings.ROOM_MEMBERS_ADD_MAX = 60  # one room of 60 people at once: a measure, not a limit
    settings.RATE_LIMIT_MEMBER_ADDS = 0
    others = bulk_users(60)
    actions.create_group_room(ann, name="Big", members=[u.id for u in others])
    client = api_for(ann)
    client.get("/api/v1/presence/me/")  # warm the JWT user lookup path
    for count in (2, 60):
        query = ",".join(str(u.id) for u in others[:count])
        # 1 JWT user, 1 visibility, 1 users with their presence rows.
        with django_assert_num_queries(3):
            response = client.get(f"/api/v1/presence/?users={query}")
        assert len(response.json()) == count


def test_presence_needs_authentication(backend, client):
    assert client.get("/api/v1/presence/me/").status_code == 401
