"""REST: rooms list, create, detail, change, delete (archive), public rooms and direct rooms."""

import pytest

from chat import actions
from chat.models import Message, Room, RoomMember

pytestmark = pytest.mark.django_db

ROOMS = "/api/v1/rooms/"

ROOM_KEYS = {
    "id",
    "peer",
    "kind",
    "name",
    "topic",
    "is_public",
    "members_can_pin",
    "archived",
    "last_seq",
    "last_read_seq",
    "unread",
    "role",
    "notify_level",
    "muted",
    "last_message",
    "created_at",
}


@pytest.fixture(autouse=True)
def fast_setup(settings):
    """No send limit while arranging; a fast password hasher for the users the fixtures make."""
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def room_url(room_id: int) -> str:
    return f"{ROOMS}{room_id}/"


def send(user, room, body: str) -> dict:
    return actions.send_message(user, room.id, body=body)[0]


# --- List -------------------------------------------------------------------------


def test_rooms_list_shows_only_the_callers_rooms(api_for, ann, bob, cat, group_room):
    actions.create_group_room(cat, name="Cat's corner")

    response = api_for(bob).get(ROOMS)

    assert response.status_code == 200
    assert [room["id"] for room in response.json()] == [group_room.id]


def test_rooms_list_entry_has_exactly_the_contract_fields(api_for, bob, group_room):
    (entry,) = api_for(bob).get(ROOMS).json()

    assert set(entry) == ROOM_KEYS
    assert entry["kind"] == "group"
    assert entry["name"] == "General"
    assert entry["role"] == "member"
    assert entry["last_message"] is None
    assert entry["unread"] == 0
    assert entry["peer"] is None


def test_a_direct_room_in_the_list_names_the_other_user(api_for, ann, bob):
    actions.get_or_create_direct_room(ann, bob.id)

    (entry,) = api_for(bob).get(ROOMS).json()

    assert entry["kind"] == "direct"
    assert entry["peer"] == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }


def test_rooms_list_puts_the_most_recently_active_room_first(api_for, ann, bob, group_room):
    other = Room.objects.get(pk=actions.create_group_room(ann, name="Other", members=[bob.id])["id"])
    send(ann, other, "first")
    send(ann, group_room, "later")

    ids = [room["id"] for room in api_for(bob).get(ROOMS).json()]

    assert ids == [group_room.id, other.id]


def test_rooms_list_shows_unread_count_and_last_message_for_the_caller(api_for, ann, bob, group_room):
    send(ann, group_room, "one")
    last = send(ann, group_room, "two")

    (bob_entry,) = api_for(bob).get(ROOMS).json()
    (ann_entry,) = api_for(ann).get(ROOMS).json()

    assert bob_entry["unread"] == 2
    assert bob_entry["last_read_seq"] == 0
    assert bob_entry["last_seq"] == 2
    assert bob_entry["last_message"]["id"] == last["id"]
    assert bob_entry["last_message"]["body"] == "two"
    assert bob_entry["last_message"]["sender"]["username"] == "ann"
    assert ann_entry["unread"] == 0  # a sender has read their own messages


def test_rooms_list_leaves_out_archived_rooms(api_for, ann, bob, group_room):
    actions.archive_room(ann, group_room.id)

    assert api_for(bob).get(ROOMS).json() == []


# --- Create ---------------------------------------------------------------------


def test_create_group_room_returns_201_with_the_caller_as_owner(api_for, ann):
    response = api_for(ann).post(ROOMS, {"name": "Design", "topic": "Pixels", "is_public": True}, format="json")

    assert response.status_code == 201
    room = response.json()
    assert set(room) == ROOM_KEYS
    assert (room["name"], room["topic"], room["is_public"], room["kind"], room["role"]) == (
        "Design",
        "Pixels",
        True,
        "group",
        "owner",
    )
    assert RoomMember.objects.get(room_id=room["id"], user=ann).role == "owner"


def test_create_group_room_adds_the_initial_members_as_members(api_for, ann, bob, cat):
    response = api_for(ann).post(ROOMS, {"name": "Team", "members": [bob.id, cat.id]}, format="json")

    assert response.status_code == 201
    roles = dict(RoomMember.objects.filter(room_id=response.json()["id"]).values_list("user__username", "role"))
    assert roles == {"ann": "owner", "bob": "member", "cat": "member"}


def test_create_group_room_listing_the_caller_as_a_member_keeps_them_owner(api_for, ann, bob):
    response = api_for(ann).post(ROOMS, {"name": "Team", "members": [ann.id, bob.id]}, format="json")

    roles = dict(RoomMember.objects.filter(room_id=response.json()["id"]).values_list("user__username", "role"))
    assert roles == {"ann": "owner", "bob": "member"}


def test_create_group_room_without_a_name_is_400(api_for, ann):
    response = api_for(ann).post(ROOMS, {"topic": "nameless"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exists()


def test_create_group_room_with_an_unknown_member_is_400_and_creates_nothing(api_for, ann):
    response = api_for(ann).post(ROOMS, {"name": "Team", "members": [999_999]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exists()


def test_create_group_room_with_a_non_boolean_is_public_is_400(api_for, ann):
    response = api_for(ann).post(ROOMS, {"name": "Team", "is_public": "yes"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exists()


def test_create_group_room_with_a_too_long_name_is_413(api_for, ann):
    response = api_for(ann).post(ROOMS, {"name": "x" * 101}, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Room.objects.exists()


def test_create_group_room_with_a_nul_in_the_name_is_400(api_for, ann):
    response = api_for(ann).post(ROOMS, {"name": "a\x00b"}, format="json")

    assert response.status_code == 400
    assert not Room.objects.exists()


def test_create_group_room_with_a_json_list_body_is_400(api_for, ann):
    response = api_for(ann).post(ROOMS, [{"name": "Team"}], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_create_group_room_with_malformed_json_is_400(api_for, ann):
    response = api_for(ann).post(ROOMS, b'{"name": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- Detail -----------------------------------------------------------------------


def test_room_detail_lists_the_members_with_their_roles(api_for, ann, bob, group_room):
    response = api_for(bob).get(room_url(group_room.id))

    assert response.status_code == 200
    detail = response.json()
    assert set(detail) == ROOM_KEYS | {"members"}
    assert [(m["user"]["username"], m["role"]) for m in detail["members"]] == [("ann", "owner"), ("bob", "member")]


def test_room_detail_for_a_non_member_is_404(api_for, cat, group_room):
    response = api_for(cat).get(room_url(group_room.id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_room_detail_for_an_unknown_room_is_404(api_for, ann):
    response = api_for(ann).get(room_url(999_999))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_room_detail_of_an_archived_room_is_404(api_for, ann, group_room):
    actions.archive_room(ann, group_room.id)

    response = api_for(ann).get(room_url(group_room.id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Change -----------------------------------------------------------------------


def test_patch_room_by_the_owner_changes_name_topic_and_flags(api_for, ann, group_room):
    response = api_for(ann).patch(
        room_url(group_room.id),
        {"name": "Renamed", "topic": "New topic", "is_public": True, "members_can_pin": False},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["topic"]) == ("Renamed", "New topic")
    group_room.refresh_from_db()
    assert (group_room.name, group_room.topic, group_room.is_public, group_room.members_can_pin) == (
        "Renamed",
        "New topic",
        True,
        False,
    )


def test_patch_room_by_an_admin_is_allowed(api_for, ann, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).patch(room_url(group_room.id), {"topic": "Set by an admin"}, format="json")

    assert response.status_code == 200
    group_room.refresh_from_db()
    assert group_room.topic == "Set by an admin"


def test_patch_room_by_a_plain_member_is_403_and_changes_nothing(api_for, bob, group_room):
    response = api_for(bob).patch(room_url(group_room.id), {"name": "Hijacked"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    group_room.refresh_from_db()
    assert group_room.name == "General"


def test_patch_room_by_a_non_member_is_404(api_for, cat, group_room):
    response = api_for(cat).patch(room_url(group_room.id), {"name": "Hijacked"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_patch_room_with_an_unknown_field_is_400(api_for, ann, group_room):
    response = api_for(ann).patch(room_url(group_room.id), {"last_seq": 99}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    group_room.refresh_from_db()
    assert group_room.last_seq == 0


def test_patch_room_with_an_empty_name_is_400(api_for, ann, group_room):
    response = api_for(ann).patch(room_url(group_room.id), {"name": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_patch_room_notify_level_by_a_member_changes_only_their_own_setting(api_for, ann, bob, group_room):
    response = api_for(bob).patch(room_url(group_room.id), {"notify_level": "mentions", "muted": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["notify_level"], response.json()["muted"]) == ("mentions", True)
    assert RoomMember.objects.get(room=group_room, user=bob).notify_level == "mentions"
    assert RoomMember.objects.get(room=group_room, user=ann).notify_level == "all"


def test_patch_room_with_a_bad_notify_level_is_400(api_for, bob, group_room):
    response = api_for(bob).patch(room_url(group_room.id), {"notify_level": "sometimes"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_patch_room_with_one_bad_field_changes_nothing_at_all(api_for, ann, group_room):
    response = api_for(ann).patch(room_url(group_room.id), {"name": "Renamed", "notify_level": "bogus"}, format="json")

    assert response.status_code == 400
    group_room.refresh_from_db()
    assert group_room.name == "General"


def test_patch_room_answers_the_room_as_the_rooms_list_shows_it(api_for, ann, bob, group_room):
    send(bob, group_room, "unread for ann")

    response = api_for(ann).patch(room_url(group_room.id), {"topic": "Fresh"}, format="json")

    (listed,) = api_for(ann).get(ROOMS).json()
    assert response.json() == listed
    assert response.json()["unread"] == 1


def test_patch_direct_room_mute_is_allowed(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).patch(room_url(room["id"]), {"muted": True}, format="json")

    assert response.status_code == 200
    assert response.json()["muted"] is True


def test_patch_direct_room_name_is_403(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).patch(room_url(room["id"]), {"name": "Ours"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


# --- Delete (archive) -------------------------------------------------------------


def test_delete_room_by_the_owner_archives_it_and_keeps_its_messages(api_for, ann, bob, group_room):
    send(bob, group_room, "kept for the record")

    response = api_for(ann).delete(room_url(group_room.id))

    assert response.status_code == 204
    group_room.refresh_from_db()
    assert group_room.archived is True
    assert Message.objects.filter(room=group_room).count() == 1
    assert api_for(bob).get(room_url(group_room.id)).status_code == 404
    assert api_for(bob).get(ROOMS).json() == []


def test_delete_room_by_an_admin_is_403(api_for, ann, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).delete(room_url(group_room.id))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    group_room.refresh_from_db()
    assert group_room.archived is False


def test_delete_room_by_a_member_is_403(api_for, bob, group_room):
    response = api_for(bob).delete(room_url(group_room.id))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_delete_room_by_a_non_member_is_404(api_for, cat, group_room):
    response = api_for(cat).delete(room_url(group_room.id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_delete_direct_room_is_403(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).delete(room_url(room["id"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_delete_room_twice_is_404(api_for, ann, group_room):
    api_for(ann).delete(room_url(group_room.id))

    response = api_for(ann).delete(room_url(group_room.id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Public rooms -------------------------------------------------------------------


def test_public_rooms_lists_public_group_rooms_the_caller_can_join(api_for, ann, bob, cat):
    open_room = actions.create_group_room(ann, name="Open", is_public=True, members=[bob.id])
    actions.create_group_room(ann, name="Closed", is_public=False)
    actions.create_group_room(cat, name="Mine already", is_public=True)
    archived = actions.create_group_room(ann, name="Gone", is_public=True)
    actions.archive_room(ann, archived["id"])

    response = api_for(cat).get(f"{ROOMS}public/")

    assert response.status_code == 200
    assert [(room["id"], room["name"], room["member_count"]) for room in response.json()] == [
        (open_room["id"], "Open", 2)
    ]


def test_public_rooms_filters_by_name(api_for, ann, cat):
    actions.create_group_room(ann, name="Python", is_public=True)
    actions.create_group_room(ann, name="Rust", is_public=True)

    names = [room["name"] for room in api_for(cat).get(f"{ROOMS}public/", {"q": "pyth"}).json()]

    assert names == ["Python"]


def test_public_rooms_search_with_a_nul_character_is_400(api_for, cat):
    response = api_for(cat).get(f"{ROOMS}public/", {"q": "a\x00b"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- Direct rooms --------------------------------------------------------------------


def test_direct_room_is_created_with_201_then_returned_with_200_and_the_same_id(api_for, ann, bob):
    first = api_for(ann).post(f"{ROOMS}direct/", {"user": bob.id}, format="json")
    again = api_for(ann).post(f"{ROOMS}direct/", {"user": bob.id}, format="json")
    from_bob = api_for(bob).post(f"{ROOMS}direct/", {"user": ann.id}, format="json")

    assert (first.status_code, again.status_code, from_bob.status_code) == (201, 200, 200)
    assert first.json()["id"] == again.json()["id"] == from_bob.json()["id"]
    assert Room.objects.filter(kind="direct").count() == 1


def test_direct_room_is_the_detail_form_with_both_members(api_for, ann, bob):
    room = api_for(ann).post(f"{ROOMS}direct/", {"user": bob.id}, format="json").json()

    assert set(room) == ROOM_KEYS | {"members"}
    assert room["kind"] == "direct"
    assert room["is_public"] is False
    assert sorted(m["user"]["username"] for m in room["members"]) == ["ann", "bob"]


def test_direct_room_with_yourself_is_400(api_for, ann):
    response = api_for(ann).post(f"{ROOMS}direct/", {"user": ann.id}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Room.objects.exists()


def test_direct_room_with_an_unknown_user_is_404(api_for, ann):
    response = api_for(ann).post(f"{ROOMS}direct/", {"user": 999_999}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_direct_room_with_an_inactive_user_is_404(api_for, ann, make_user):
    gone = make_user("gone", is_active=False)

    response = api_for(ann).post(f"{ROOMS}direct/", {"user": gone.id}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_direct_room_without_a_user_is_400(api_for, ann):
    response = api_for(ann).post(f"{ROOMS}direct/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_method_the_path_does_not_have_is_405_with_a_code(api_for, ann):
    response = api_for(ann).put(ROOMS, {"name": "x"}, format="json")

    assert response.status_code == 405
    assert response.json()["code"] == "invalid"
