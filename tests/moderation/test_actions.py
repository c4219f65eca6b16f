"""moderation.actions: each action's effect, its audit row, and who may do it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message, RoomMember
from core.errors import ActionError
from moderation import actions
from moderation.models import AuditLog, Report

pytestmark = pytest.mark.django_db


def test_the_migration_creates_a_moderator_group_with_the_moderation_permission():
    group = Group.objects.get(name="moderator")
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"moderate_messages", "view_message", "view_user", "view_auditlog", "view_report"} <= codenames
    assert "change_user" not in codenames and "change_message" not in codenames


def test_a_moderator_deletes_any_message_and_the_audit_log_records_who_what_and_why(moderator, bob, group_room, say):
    message = say(bob, group_room, "spam spam")
    actions.delete_message(moderator, message.id, "  spam  ")
    message.refresh_from_db()
    assert message.deleted_at is not None and message.deleted_by == moderator
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.actor_username, entry.action) == (moderator, "maud", "delete_message")
    assert (entry.target_type, entry.target_id, entry.room_id, entry.reason) == (
        "message",
        message.id,
        group_room.id,
        "spam",
    )
    assert "spam spam" in entry.target_repr


def test_restore_brings_a_deleted_message_back_and_is_audited(moderator, bob, group_room, say):
    message = say(bob, group_room, "oops")
    actions.delete_message(moderator, message.id)
    payload = actions.restore_message(moderator, message.id, "mistake")
    assert payload["deleted"] is False and payload["body"] == "oops"
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "delete_message",
        "restore_message",
    ]


def test_pin_and_unpin_are_audited_only_when_they_change_something(moderator, bob, group_room, say):
    message = say(bob, group_room)
    actions.set_pinned(moderator, message.id, True)
    actions.set_pinned(moderator, message.id, True)
    actions.set_pinned(moderator, message.id, False)
    message.refresh_from_db()
    assert message.pinned is False
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == ["pin_message", "unpin_message"]


def test_a_moderator_who_is_not_in_the_room_removes_a_member(moderator, bob, group_room):
    actions.remove_member(moderator, group_room.id, bob.id, "abuse")
    assert not RoomMember.objects.filter(room=group_room, user=bob).exists()
    entry = AuditLog.objects.get()
    assert (entry.action, entry.target_id, entry.room_id, entry.reason) == (
        "remove_member",
        bob.id,
        group_room.id,
        "abuse",
    )


def test_the_owner_cannot_be_removed(moderator, ann, group_room):
    with pytest.raises(ActionError) as error:
        actions.remove_member(moderator, group_room.id, ann.id)
    assert error.value.code == "forbidden"
    assert not AuditLog.objects.exists()


def test_a_muted_member_gets_forbidden_with_the_end_of_the_mute_until_it_ends(moderator, bob, group_room):
    member = actions.mute_member(moderator, group_room.id, bob.id, minutes=60, reason="cool down")
    assert timedelta(minutes=59) < member.send_muted_until - timezone.now() <= timedelta(minutes=60)
    with pytest.raises(ActionError) as error:
        chat_actions.send_message(bob, group_room.id, body="let me talk")
    assert error.value.code == "forbidden"
    assert "muted you in this room until" in error.value.message
    assert not Message.objects.exists()
    entry = AuditLog.objects.get()
    assert entry.action == "mute_member" and entry.details["until"].startswith(str(member.send_muted_until.date()))
    RoomMember.objects.filter(room=group_room, user=bob).update(send_muted_until=timezone.now() - timedelta(seconds=1))
    payload, created = chat_actions.send_message(bob, group_room.id, body="back")
    assert created and payload["body"] == "back"


def test_unmute_lets_the_member_send_again(moderator, bob, group_room):
    actions.mute_member(moderator, group_room.id, bob.id, minutes=10)
    actions.unmute_member(moderator, group_room.id, bob.id)
    assert RoomMember.objects.get(room=group_room, user=bob).send_muted_until is None
    _, created = chat_actions.send_message(bob, group_room.id, body="free")
    assert created


@pytest.mark.parametrize("minutes", [0, -5, "soon", None, True, 366 * 24 * 60])
def test_a_mute_needs_a_sensible_duration(moderator, bob, group_room, minutes):
    with pytest.raises(ActionError) as error:
        actions.mute_member(moderator, group_room.id, bob.id, minutes=minutes)
    assert error.value.code == "invalid"
    assert RoomMember.objects.get(room=group_room, user=bob).send_muted_until is None


def test_suspend_deactivates_the_user_and_unsuspend_reactivates(moderator, bob):
    actions.suspend_user(moderator, bob.id, "spammer")
    bob.refresh_from_db()
    assert bob.is_active is False
    actions.unsuspend_user(moderator, bob.id)
    bob.refresh_from_db()
    assert bob.is_active is True
    assert list(AuditLog.objects.order_by("id").values_list("action", "reason")) == [
        ("suspend_user", "spammer"),
        ("unsuspend_user", ""),
    ]


def test_a_moderator_cannot_suspend_themselves_or_a_superuser(moderator, make_user):
    root = make_user("root", is_superuser=True, is_staff=True)
    for target in (moderator, root):
        with pytest.raises(ActionError) as error:
            actions.suspend_user(moderator, target.id)
        assert error.value.code == "forbidden"
    assert not AuditLog.objects.exists()


def test_a_suspended_users_token_and_session_are_refused(moderator, bob, api_for, client):
    api = api_for(bob)
    client.force_login(bob)
    assert api.get("/api/v1/rooms/").status_code == 200
    actions.suspend_user(moderator, bob.id)
    assert api.get("/api/v1/rooms/").status_code == 401
    response = client.get("/api/v1/rooms/")
    assert response.status_code in (401, 403)
    token = api_for(bob)  # a fresh token for an inactive user is refused too
    assert token.get("/api/v1/rooms/").status_code == 401
    login = client.post("/api/v1/auth/token/", {"username": "bob", "password": "correct-horse-battery"})
    assert login.status_code == 401


def test_a_suspended_users_refresh_token_is_refused(moderator, bob, client):
    tokens = client.post("/api/v1/auth/token/", {"username": "bob", "password": "correct-horse-battery"}).json()
    actions.suspend_user(moderator, bob.id)
    response = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "call",
    [
        lambda user, ids: actions.delete_message(user, ids["message"]),
        lambda user, ids: actions.restore_message(user, ids["message"]),
        lambda user, ids: actions.set_pinned(user, ids["message"], True),
        lambda user, ids: actions.remove_member(user, ids["room"], ids["bob"]),
        lambda user, ids: actions.mute_member(user, ids["room"], ids["bob"], minutes=5),
        lambda user, ids: actions.suspend_user(user, ids["bob"]),
        lambda user, ids: actions.remove_upload(user, 1),
        lambda user, ids: actions.close_reports(user, [1]),
    ],
)
def test_non_moderators_are_refused_every_moderation_action_and_nothing_changes(
    plain_staff, ann, bob, group_room, say, call
):
    message = say(bob, group_room)
    for user in (plain_staff, ann):  # staff without the permission; the room's own owner
        with pytest.raises(ActionError) as error:
            call(user, {"message": message.id, "room": group_room.id, "bob": bob.id})
        assert error.value.code == "forbidden"
    message.refresh_from_db()
    bob.refresh_from_db()
    assert message.deleted_at is None and not message.pinned and bob.is_active
    assert RoomMember.objects.get(room=group_room, user=bob).send_muted_until is None
    assert not AuditLog.objects.exists()


def test_an_inactive_moderator_is_no_moderator(moderator, bob, group_room, say):
    message = say(bob, group_room)
    moderator.is_active = False
    moderator.save()
    with pytest.raises(ActionError):
        actions.delete_message(moderator, message.id)


def test_a_reason_longer_than_the_limit_is_refused(moderator, bob, group_room, say):
    message = say(bob, group_room)
    with pytest.raises(ActionError) as error:
        actions.delete_message(moderator, message.id, "x" * 501)
    assert error.value.code == "too_large"
    message.refresh_from_db()
    assert message.deleted_at is None


def test_closing_reports_resolves_or_dismisses_each_open_one_once(moderator, ann, bob, cat, group_room, say):
    chat_actions.add_member(ann, group_room.id, cat.id)
    message = say(bob, group_room)
    first = actions.report_message(ann, message.id, "rude")
    second = actions.report_message(cat, message.id, "rude too")
    assert actions.close_reports(moderator, [first["id"], second["id"]], resolution="dismissed") == 2
    assert actions.close_reports(moderator, [first["id"]], resolution="resolved") == 0
    assert set(Report.objects.values_list("status", "resolved_by")) == {("dismissed", moderator.id)}
    assert AuditLog.objects.filter(action="dismiss_report").count() == 2


def test_deleting_a_reported_message_resolves_all_its_open_reports(moderator, ann, bob, cat, group_room, say):
    chat_actions.add_member(ann, group_room.id, cat.id)
    message = say(bob, group_room)
    first = actions.report_message(ann, message.id, "spam")
    actions.report_message(cat, message.id, "spam!")
    actions.delete_reported_message(moderator, first["id"])
    message.refresh_from_db()
    assert message.deleted_by == moderator
    assert set(Report.objects.values_list("status", flat=True)) == {"resolved"}
    assert AuditLog.objects.get(action="delete_message").reason == "spam"
