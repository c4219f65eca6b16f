"""REST: changing a member's role, `PATCH rooms/{id}/members/{user}/` {"role"}.

The owner and admins make members admins; only the owner makes another admin a
member again (an admin may step down); nobody changes the owner's role; direct
rooms have no roles. Every refusal changes nothing. (Moderators: tests/moderation/test_member_roles.py.)
"""

import pytest
from channels.db import database_sync_to_async

from chat import actions
from chat.models import Message, RoomMember
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def member_url(room_id: int, user_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/members/{user_id}/"


def roles(room) -> dict[str, str]:
    return dict(RoomMember.objects.filter(room=room).values_list("user__username", "role"))


def set_role(client, room, user, role):
    return client.patch(member_url(room.id, user.id), {"role": role}, format="json")


@pytest.fixture
def cat_admin(ann, cat, group_room):
    """Cat, an admin of General (with Ann the owner and Bob a member)."""
    actions.add_member(ann, group_room.id, cat.id, "admin")
    return cat


# --- Allowed ------------------------------------------------------------------------


def test_the_owner_makes_a_member_an_admin_and_gets_the_member_back(api_for, ann, bob, group_room):
    response = set_role(api_for(ann), group_room, bob, "admin")

    assert response.status_code == 200
    member = RoomMember.objects.get(room=group_room, user=bob)
    assert response.json() == {
        "user": {
            "id": bob.id,
            "username": "bob",
            "display_name": "Bob",
            "avatar_url": None,
            "avatar_small_url": None,
            "is_bot": False,
        },
        "role": "admin",
        "joined_at": response.json()["joined_at"],
        "last_read_seq": member.last_read_seq,
    }
    assert roles(group_room) == {"ann": "owner", "bob": "admin"}


def test_an_admin_makes_a_member_an_admin(api_for, bob, cat_admin, group_room):
    response = set_role(api_for(cat_admin), group_room, bob, "admin")

    assert response.status_code == 200
    assert roles(group_room) == {"ann": "owner", "bob": "admin", "cat": "admin"}


def test_the_owner_makes_an_admin_a_member_again(api_for, ann, cat_admin, group_room):
    response = set_role(api_for(ann), group_room, cat_admin, "member")

    assert response.status_code == 200
    assert response.json()["role"] == "member"
    assert roles(group_room)["cat"] == "member"


def test_an_admin_steps_down_to_member(api_for, cat_admin, group_room):
    response = set_role(api_for(cat_admin), group_room, cat_admin, "member")

    assert response.status_code == 200
    assert roles(group_room)["cat"] == "member"


def test_setting_the_role_a_member_has_answers_it_and_writes_no_line(api_for, ann, cat_admin, group_room):
    lines_before = Message.objects.filter(room=group_room).count()

    response = set_role(api_for(ann), group_room, cat_admin, "admin")

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert Message.objects.filter(room=group_room).count() == lines_before


def test_a_role_change_writes_the_line_of_who_made_whom_what(api_for, ann, bob, group_room):
    set_role(api_for(ann), group_room, bob, "admin")
    set_role(api_for(ann), group_room, bob, "member")

    lines = list(Message.objects.filter(room=group_room, kind="system").order_by("seq").values_list("body", "system"))
    assert lines == [
        ("Ann made Bob an admin", {"event": "promoted", "actor": ann.id, "target": bob.id, "name": None}),
        ("Ann removed Bob as admin", {"event": "demoted", "actor": ann.id, "target": bob.id, "name": None}),
    ]


def test_an_admin_stepping_down_says_so(api_for, cat_admin, group_room):
    set_role(api_for(cat_admin), group_room, cat_admin, "member")

    assert Message.objects.filter(room=group_room, kind="system").latest("seq").body == "Cat stepped down as admin"


# --- Refused, and nothing changes ---------------------------------------------------------


def test_a_member_cannot_change_roles(api_for, bob, cat, ann, group_room):
    actions.add_member(ann, group_room.id, cat.id)

    response = set_role(api_for(bob), group_room, cat, "admin")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert response.json()["message"] == "Only room admins can change roles."
    assert roles(group_room) == {"ann": "owner", "bob": "member", "cat": "member"}


def test_a_member_cannot_make_themself_an_admin(api_for, bob, group_room):
    response = set_role(api_for(bob), group_room, bob, "admin")

    assert response.status_code == 403
    assert roles(group_room)["bob"] == "member"


def test_an_admin_cannot_make_another_admin_a_member(api_for, ann, bob, cat_admin, group_room):
    RoomMember.objects.filter(room=group_room, user=bob).update(role="admin")

    response = set_role(api_for(cat_admin), group_room, bob, "member")

    assert response.status_code == 403
    assert response.json()["message"] == "Only the owner can make an admin a member again."
    assert roles(group_room) == {"ann": "owner", "bob": "admin", "cat": "admin"}


@pytest.mark.parametrize("role", ["member", "admin"])
def test_nobody_changes_the_owners_role(api_for, ann, cat_admin, group_room, role):
    for caller in (ann, cat_admin):
        response = set_role(api_for(caller), group_room, ann, role)

        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
        assert response.json()["message"] == (
            "Nobody can change the owner's role: the owner hands the room on by leaving it."
        )
    assert roles(group_room)["ann"] == "owner"


def test_owner_is_not_a_role_to_give(api_for, ann, bob, group_room):
    response = set_role(api_for(ann), group_room, bob, "owner")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["message"] == "`role` must be one of: admin, member."
    assert roles(group_room) == {"ann": "owner", "bob": "member"}


@pytest.mark.parametrize("body", [{}, {"role": None}, {"role": ["admin"]}, {"role": "Admin"}])
def test_a_missing_or_unknown_role_is_400(api_for, ann, bob, group_room, body):
    response = api_for(ann).patch(member_url(group_room.id, bob.id), body, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "`role` must be one of: admin, member."
    assert roles(group_room)["bob"] == "member"


def test_other_fields_are_refused(api_for, ann, bob, group_room):
    response = api_for(ann).patch(member_url(group_room.id, bob.id), {"role": "admin", "muted": True}, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == "Unknown fields: muted."
    assert roles(group_room)["bob"] == "member"


def test_someone_who_is_not_a_member_is_404(api_for, ann, cat, group_room):
    response = set_role(api_for(ann), group_room, cat, "admin")

    assert response.status_code == 404
    assert response.json()["message"] == "Member not found."
    assert not RoomMember.objects.filter(room=group_room, user=cat).exists()


def test_a_room_the_caller_is_not_in_is_404(api_for, bob, cat, group_room):
    response = set_role(api_for(cat), group_room, bob, "admin")

    assert response.status_code == 404
    assert response.json()["message"] == "Room not found."
    assert roles(group_room)["bob"] == "member"


def test_direct_rooms_have_no_roles(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).patch(member_url(room["id"], bob.id), {"role": "admin"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["message"] == "Direct rooms have no roles to change."
    assert set(RoomMember.objects.filter(room_id=room["id"]).values_list("role", flat=True)) == {"member"}


# --- Live --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_role_change_reaches_the_room_as_member_updated_with_only_the_role(ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    await database_sync_to_async(actions.set_member_role)(ann, group_room.id, bob.id, "admin")

    event = await receive_until(bob_ws, "member_updated")
    assert event["data"] == {"room": group_room.id, "user": bob.id, "role": "admin"}
    line = await receive_until(bob_ws, "new_message")
    assert line["data"]["message"]["body"] == "Ann made Bob an admin"


@pytest.mark.django_db(transaction=True)
async def test_the_owner_leaving_tells_the_room_who_owns_it_now(ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    await database_sync_to_async(actions.leave_room)(ann, group_room.id)

    event = await receive_until(bob_ws, "member_updated")
    assert event["data"] == {"room": group_room.id, "user": bob.id, "role": "owner"}
