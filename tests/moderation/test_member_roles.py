"""A site moderator changes members' roles in any room, audited; the room's own rules still hold for them.

The rules are chat's ``check_set_member_role``; moderator power only lifts "you must be the room's
admin (or owner)". It is audited when it is what allowed the change, not when the moderator had the right anyway.
"""

import pytest

from chat import actions
from chat.models import RoomMember
from moderation.models import AuditLog

pytestmark = pytest.mark.django_db


def role_url(room_id: int, user_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/members/{user_id}/"


def roles(room) -> dict[str, str]:
    return dict(RoomMember.objects.filter(room=room).values_list("user__username", "role"))


def logged():
    return list(AuditLog.objects.order_by("id").values_list("action", "actor_username", "target_repr", "details"))


def test_a_moderator_outside_the_room_makes_a_member_an_admin_and_it_is_audited(api_for, moderator, group_room, bob):
    response = api_for(moderator).patch(role_url(group_room.id, bob.id), {"role": "admin"}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert roles(group_room) == {"ann": "owner", "bob": "admin"}
    assert logged() == [("set_member_role", "maud", "bob in General", {"role": "admin"})]


def test_a_moderator_makes_an_admin_a_member_where_only_the_owner_may(api_for, moderator, ann, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id, "admin")
    actions.add_member(ann, group_room.id, moderator.id, "admin")

    response = api_for(moderator).patch(role_url(group_room.id, cat.id), {"role": "member"}, format="json")

    assert response.status_code == 200
    assert roles(group_room)["cat"] == "member"
    assert logged() == [("set_member_role", "maud", "cat in General", {"role": "member"})]


def test_a_moderator_who_is_the_rooms_admin_uses_no_moderator_power_to_promote(
    api_for, moderator, ann, bob, group_room
):
    actions.add_member(ann, group_room.id, moderator.id, "admin")

    response = api_for(moderator).patch(role_url(group_room.id, bob.id), {"role": "admin"}, format="json")

    assert response.status_code == 200
    assert logged() == []


def test_a_moderator_cannot_change_the_owners_role(api_for, moderator, ann, group_room):
    response = api_for(moderator).patch(role_url(group_room.id, ann.id), {"role": "member"}, format="json")

    assert response.status_code == 403
    assert roles(group_room)["ann"] == "owner"
    assert logged() == []


def test_a_moderator_setting_the_role_a_member_has_logs_nothing(api_for, moderator, bob, group_room):
    response = api_for(moderator).patch(role_url(group_room.id, bob.id), {"role": "member"}, format="json")

    assert response.status_code == 200
    assert logged() == []


def test_a_moderator_gets_404_for_an_archived_room(api_for, moderator, ann, bob, group_room):
    actions.archive_room(ann, group_room.id)

    response = api_for(moderator).patch(role_url(group_room.id, bob.id), {"role": "admin"}, format="json")

    assert response.status_code == 404
    assert roles(group_room)["bob"] == "member"
