"""REST: a room's members: list, add (and join), remove (and leave), and 404 for non-members everywhere."""

import uuid

import pytest

from chat import actions
from chat.models import Room, RoomMember

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def members_url(room_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/members/"


def member_url(room_id: int, user_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/members/{user_id}/"


def roles(room) -> dict[str, str]:
    return dict(RoomMember.objects.filter(room=room).values_list("user__username", "role"))


@pytest.fixture
def public_room(ann, bob):
    return Room.objects.get(pk=actions.create_group_room(ann, name="Lobby", is_public=True, members=[bob.id])["id"])


# --- List -------------------------------------------------------------------------


def test_members_list_gives_user_role_joined_at_and_read_mark(api_for, bob, group_room):
    response = api_for(bob).get(members_url(group_room.id))

    assert response.status_code == 200
    members = response.json()
    assert [set(m) for m in members] == [{"user", "role", "joined_at", "last_read_seq"}] * 2
    assert [(m["user"]["username"], m["role"], m["last_read_seq"]) for m in members] == [
        ("ann", "owner", 0),
        ("bob", "member", 0),
    ]


# --- Add ----------------------------------------------------------------------------


def test_owner_adds_a_member_to_a_private_room(api_for, ann, cat, group_room):
    response = api_for(ann).post(members_url(group_room.id), {"user": cat.id}, format="json")

    assert response.status_code == 201
    assert response.json()["user"]["id"] == cat.id
    assert response.json()["role"] == "member"
    assert roles(group_room)["cat"] == "member"
    assert [room["id"] for room in api_for(cat).get("/api/v1/rooms/").json()] == [group_room.id]


def test_admin_adds_a_member_to_a_private_room(api_for, ann, cat, make_user, group_room):
    dan = make_user("dan")
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).post(members_url(group_room.id), {"user": dan.id}, format="json")

    assert response.status_code == 201
    assert roles(group_room)["dan"] == "member"


def test_admin_adds_another_admin(api_for, ann, cat, group_room):
    response = api_for(ann).post(members_url(group_room.id), {"user": cat.id, "role": "admin"}, format="json")

    assert response.status_code == 201
    assert response.json()["role"] == "admin"
    assert roles(group_room)["cat"] == "admin"


def test_member_cannot_add_to_a_private_room(api_for, bob, cat, group_room):
    response = api_for(bob).post(members_url(group_room.id), {"user": cat.id}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "cat" not in roles(group_room)


def test_member_of_a_public_room_may_add_a_member(api_for, bob, cat, public_room):
    response = api_for(bob).post(members_url(public_room.id), {"user": cat.id}, format="json")

    assert response.status_code == 201
    assert roles(public_room)["cat"] == "member"


def test_member_of_a_public_room_cannot_add_an_admin(api_for, bob, cat, public_room):
    response = api_for(bob).post(members_url(public_room.id), {"user": cat.id, "role": "admin"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "cat" not in roles(public_room)


def test_adding_with_the_owner_role_is_400(api_for, ann, cat, group_room):
    response = api_for(ann).post(members_url(group_room.id), {"user": cat.id, "role": "owner"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "cat" not in roles(group_room)


def test_adding_an_existing_member_is_409(api_for, ann, bob, group_room):
    response = api_for(ann).post(members_url(group_room.id), {"user": bob.id}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert roles(group_room) == {"ann": "owner", "bob": "member"}


def test_adding_an_unknown_user_is_404(api_for, ann, group_room):
    response = api_for(ann).post(members_url(group_room.id), {"user": 999_999}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_adding_without_a_user_is_400(api_for, ann, group_room):
    response = api_for(ann).post(members_url(group_room.id), {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_adding_to_a_direct_room_is_403(api_for, ann, bob, cat):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).post(members_url(room["id"]), {"user": cat.id}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_posting_your_own_id_joins_a_public_room(api_for, cat, public_room):
    response = api_for(cat).post(members_url(public_room.id), {"user": cat.id}, format="json")

    assert response.status_code == 201
    assert roles(public_room)["cat"] == "member"


def test_joining_a_public_room_starts_with_its_history_and_own_join_line_read(api_for, ann, cat, public_room):
    actions.send_message(ann, public_room.id, body="before you came")

    api_for(cat).post(members_url(public_room.id), {"user": cat.id}, format="json")

    # seq 1 is Ann's message, seq 2 the "Cat joined" line.
    assert RoomMember.objects.get(room=public_room, user=cat).last_read_seq == 2


def test_posting_your_own_id_to_a_private_room_is_404(api_for, cat, group_room):
    response = api_for(cat).post(members_url(group_room.id), {"user": cat.id}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "cat" not in roles(group_room)


# --- Remove and leave -----------------------------------------------------------------


def test_owner_removes_a_member(api_for, ann, bob, group_room):
    response = api_for(ann).delete(member_url(group_room.id, bob.id))

    assert response.status_code == 204
    assert roles(group_room) == {"ann": "owner"}
    assert api_for(bob).get(f"/api/v1/rooms/{group_room.id}/").status_code == 404


def test_admin_removes_a_member(api_for, ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).delete(member_url(group_room.id, bob.id))

    assert response.status_code == 204
    assert "bob" not in roles(group_room)


def test_member_cannot_remove_another_member(api_for, ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id)

    response = api_for(bob).delete(member_url(group_room.id, cat.id))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "cat" in roles(group_room)


def test_owner_cannot_be_removed(api_for, ann, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).delete(member_url(group_room.id, ann.id))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert roles(group_room)["ann"] == "owner"


def test_admin_cannot_remove_another_admin(api_for, ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")
    RoomMember.objects.filter(room=group_room, user=bob).update(role="admin")

    response = api_for(cat).delete(member_url(group_room.id, bob.id))

    assert response.status_code == 403
    assert roles(group_room)["bob"] == "admin"


def test_owner_removes_an_admin(api_for, ann, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(ann).delete(member_url(group_room.id, cat.id))

    assert response.status_code == 204
    assert "cat" not in roles(group_room)


def test_removing_a_user_who_is_not_a_member_is_404(api_for, ann, cat, group_room):
    response = api_for(ann).delete(member_url(group_room.id, cat.id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_deleting_your_own_id_leaves_the_room(api_for, bob, group_room):
    response = api_for(bob).delete(member_url(group_room.id, bob.id))

    assert response.status_code == 204
    assert roles(group_room) == {"ann": "owner"}
    assert api_for(bob).get("/api/v1/rooms/").json() == []


def test_owner_leaving_hands_ownership_to_an_admin_before_older_members(api_for, ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(ann).delete(member_url(group_room.id, ann.id))

    assert response.status_code == 204
    assert roles(group_room) == {"bob": "member", "cat": "owner"}


def test_owner_leaving_hands_ownership_to_the_longest_standing_member(api_for, ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id)

    api_for(ann).delete(member_url(group_room.id, ann.id))

    assert roles(group_room) == {"bob": "owner", "cat": "member"}


def test_leaving_a_direct_room_is_403(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).delete(member_url(room["id"], ann.id))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert RoomMember.objects.filter(room_id=room["id"]).count() == 2


# --- Non-members see nothing ------------------------------------------------------------


def _calls(room_id: int, user_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/api/v1/rooms/{room_id}/", None),
        ("patch", f"/api/v1/rooms/{room_id}/", {"topic": "x"}),
        ("delete", f"/api/v1/rooms/{room_id}/", None),
        ("get", members_url(room_id), None),
        ("post", members_url(room_id), {"user": user_id}),
        ("delete", member_url(room_id, user_id), None),
        ("get", f"/api/v1/rooms/{room_id}/messages/", None),
        ("post", f"/api/v1/rooms/{room_id}/messages/", {"body": "hi", "client_id": str(uuid.uuid4())}),
        ("get", f"/api/v1/rooms/{room_id}/pins/", None),
        ("post", f"/api/v1/rooms/{room_id}/read/", {"seq": 1}),
    ]


@pytest.mark.parametrize("index", range(10))
def test_non_member_gets_404_for_the_room_and_everything_under_it(api_for, ann, bob, cat, group_room, index):
    actions.send_message(ann, group_room.id, body="secret")
    method, url, data = _calls(group_room.id, bob.id)[index]

    response = getattr(api_for(cat), method)(url, data, format="json")

    assert response.status_code == 404, (method, url, response.content)
    assert response.json()["code"] == "not_found"
    assert "secret" not in response.content.decode()


@pytest.mark.parametrize("index", range(10))
def test_an_unknown_room_gives_the_same_404_as_a_hidden_one(api_for, cat, index):
    method, url, data = _calls(999_999, cat.id + 1)[index]

    response = getattr(api_for(cat), method)(url, data, format="json")

    assert response.status_code == 404, (method, url, response.content)
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_non_member_gets_404_for_a_message_of_the_room(api_for, ann, cat, group_room, method):
    message, _ = actions.send_message(ann, group_room.id, body="secret")

    response = getattr(api_for(cat), method)(f"/api/v1/messages/{message['id']}/", {"body": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("suffix", ["reactions/", "pin/"])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_non_member_gets_404_for_reactions_and_pins(api_for, ann, cat, group_room, suffix, method):
    message, _ = actions.send_message(ann, group_room.id, body="secret")

    response = getattr(api_for(cat), method)(
        f"/api/v1/messages/{message['id']}/{suffix}", {"emoji": "👍"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
