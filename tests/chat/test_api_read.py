"""REST: read marks (forward only, clamped) and the unread counts they drive."""

import pytest

from chat import actions
from chat.models import RoomMember

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def three_from_ann(ann, group_room) -> list[dict]:
    return [actions.send_message(ann, group_room.id, body=f"n{n}")[0] for n in range(1, 4)]


def read_url(room) -> str:
    return f"/api/v1/rooms/{room.id}/read/"


def bob_mark(room) -> int:
    return RoomMember.objects.get(room=room, user__username="bob").last_read_seq


def test_read_answers_the_new_mark_and_what_is_left_unread(api_for, bob, group_room, three_from_ann):
    response = api_for(bob).post(read_url(group_room), {"seq": 2}, format="json")

    assert response.status_code == 200
    assert response.json() == {"room": group_room.id, "last_read_seq": 2, "unread": 1}
    assert bob_mark(group_room) == 2


def test_read_never_moves_the_mark_back(api_for, bob, group_room, three_from_ann):
    api_for(bob).post(read_url(group_room), {"seq": 3}, format="json")

    response = api_for(bob).post(read_url(group_room), {"seq": 1}, format="json")

    assert response.status_code == 200
    assert response.json() == {"room": group_room.id, "last_read_seq": 3, "unread": 0}
    assert bob_mark(group_room) == 3


def test_read_beyond_the_last_message_is_clamped_to_last_seq(api_for, bob, group_room, three_from_ann):
    response = api_for(bob).post(read_url(group_room), {"seq": 999}, format="json")

    assert response.json() == {"room": group_room.id, "last_read_seq": 3, "unread": 0}
    assert bob_mark(group_room) == 3


def test_read_zero_in_a_fresh_room_is_accepted(api_for, bob, group_room):
    response = api_for(bob).post(read_url(group_room), {"seq": 0}, format="json")

    assert response.json() == {"room": group_room.id, "last_read_seq": 0, "unread": 0}


def test_rooms_list_unread_follows_the_read_mark(api_for, bob, group_room, three_from_ann):
    client = api_for(bob)
    before = client.get("/api/v1/rooms/").json()[0]

    client.post(read_url(group_room), {"seq": 2}, format="json")

    after = client.get("/api/v1/rooms/").json()[0]
    assert (before["unread"], before["last_read_seq"]) == (3, 0)
    assert (after["unread"], after["last_read_seq"]) == (1, 2)


def test_unread_leaves_out_deleted_messages(api_for, ann, bob, group_room, three_from_ann):
    actions.delete_message(ann, three_from_ann[1]["id"])

    assert api_for(bob).get("/api/v1/rooms/").json()[0]["unread"] == 2
    assert api_for(bob).post(read_url(group_room), {"seq": 1}, format="json").json()["unread"] == 1


def test_unread_leaves_out_the_callers_own_messages(api_for, bob, group_room, three_from_ann):
    actions.send_message(bob, group_room.id, body="mine")  # also reads up to it
    RoomMember.objects.filter(room=group_room, user=bob).update(last_read_seq=0)

    assert api_for(bob).get("/api/v1/rooms/").json()[0]["unread"] == 3


def test_read_mark_shows_in_the_members_list(api_for, ann, bob, group_room, three_from_ann):
    api_for(bob).post(read_url(group_room), {"seq": 2}, format="json")

    members = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/members/").json()

    assert {m["user"]["username"]: m["last_read_seq"] for m in members} == {"ann": 3, "bob": 2}


@pytest.mark.parametrize("seq", [None, -1, "abc", [1], {"seq": 1}])
def test_read_with_a_bad_seq_is_400_and_changes_nothing(api_for, bob, group_room, three_from_ann, seq):
    response = api_for(bob).post(read_url(group_room), {"seq": seq}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert bob_mark(group_room) == 0


def test_read_without_a_seq_is_400(api_for, bob, group_room):
    response = api_for(bob).post(read_url(group_room), {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_read_with_a_boolean_seq_is_400(api_for, bob, group_room, three_from_ann):
    response = api_for(bob).post(read_url(group_room), {"seq": True}, format="json")

    assert response.status_code == 400
    assert bob_mark(group_room) == 0


def test_read_with_a_fractional_seq_is_400(api_for, bob, group_room, three_from_ann):
    response = api_for(bob).post(read_url(group_room), {"seq": 2.7}, format="json")

    assert response.status_code == 400
    assert bob_mark(group_room) == 0
