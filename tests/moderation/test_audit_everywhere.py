"""Moderator power is audited whichever way it is used: admin, REST or the socket."""

import pytest

from chat import actions
from chat.models import RoomMember
from moderation.models import AuditLog

pytestmark = pytest.mark.django_db


def actions_logged():
    return list(AuditLog.objects.order_by("id").values_list("action", "actor_username", "reason"))


def test_a_moderator_deleting_through_rest_is_audited(api_for, moderator, ann, bob, group_room, say):
    message = say(bob, group_room, "spam")
    RoomMember.objects.create(room=group_room, user=moderator)

    response = api_for(moderator).delete(f"/api/v1/messages/{message.id}/")

    assert response.status_code == 204
    assert actions_logged() == [("delete_message", "maud", "")]


def test_a_sender_deleting_their_own_message_is_not_a_moderation_action(api_for, bob, group_room, say):
    message = say(bob, group_room, "oops")

    assert api_for(bob).delete(f"/api/v1/messages/{message.id}/").status_code == 204
    assert actions_logged() == []


def test_a_room_admin_deleting_in_their_room_is_not_a_moderation_action(ann, bob, group_room, say):
    message = say(bob, group_room, "off topic")

    actions.delete_message(ann, message.id)

    assert actions_logged() == []


def test_a_moderator_pinning_where_members_may_not_is_audited(moderator, ann, group_room, say):
    group_room.members_can_pin = False
    group_room.save()
    RoomMember.objects.create(room=group_room, user=moderator)
    message = say(ann, group_room, "rules")

    actions.set_pinned(moderator, message.id, True)
    actions.set_pinned(moderator, message.id, True)  # no change, nothing to log

    assert actions_logged() == [("pin_message", "maud", "")]


def test_a_moderator_removing_a_member_through_rest_is_audited(api_for, moderator, bob, group_room):
    response = api_for(moderator).delete(f"/api/v1/rooms/{group_room.id}/members/{bob.id}/")

    assert response.status_code == 204
    assert actions_logged() == [("remove_member", "maud", "")]


def test_the_moderation_tools_log_their_reason_once(moderator, bob, group_room, say):
    from moderation import actions as moderation

    message = say(bob, group_room, "spam")

    moderation.delete_message(moderator, message.id, reason="spam link")

    assert actions_logged() == [("delete_message", "maud", "spam link")]
