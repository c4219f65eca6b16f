"""The room rules for removing a member hold for moderators whichever way they act.

The rules live once, in ``chat.actions.check_remove_member``; the moderation
tools and chat's own endpoints both reach them. For a moderator they are the
only thing in the way (no room role is checked), so each test here fails when
its rule is removed.
"""

import pytest

from chat import actions as chat_actions
from chat.models import RoomMember
from core.errors import ActionError
from moderation import actions
from moderation.models import AuditLog

pytestmark = pytest.mark.django_db


def test_a_moderator_removing_the_owner_through_the_api_is_refused(api_for, moderator, ann, group_room):
    response = api_for(moderator).delete(f"/api/v1/rooms/{group_room.id}/members/{ann.id}/")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert RoomMember.objects.filter(room=group_room, user=ann, role=RoomMember.Role.OWNER).exists()
    assert not AuditLog.objects.exists()


def test_the_moderation_tools_cannot_remove_a_member_of_a_direct_room(moderator, ann, bob):
    room, _ = chat_actions.get_or_create_direct_room(ann, bob.id)

    with pytest.raises(ActionError) as error:
        actions.remove_member(moderator, room["id"], bob.id, "abuse")

    assert error.value.code == "forbidden"
    assert RoomMember.objects.filter(room_id=room["id"]).count() == 2
    assert not AuditLog.objects.exists()


def test_a_moderator_removing_a_member_of_a_direct_room_through_the_api_is_refused(api_for, moderator, ann, bob):
    room, _ = chat_actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(moderator).delete(f"/api/v1/rooms/{room['id']}/members/{bob.id}/")

    assert response.status_code == 403
    assert RoomMember.objects.filter(room_id=room["id"]).count() == 2


def test_a_failed_audit_undoes_the_removal(moderator, bob, group_room, monkeypatch):
    """The audit row is written inside the chat do_*'s transaction: no change without its record."""

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(actions, "record_member_removal", broken_audit)

    with pytest.raises(RuntimeError):
        actions.remove_member(moderator, group_room.id, bob.id, "abuse")

    assert RoomMember.objects.filter(room=group_room, user=bob).exists()
