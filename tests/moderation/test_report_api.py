"""POST /api/v1/messages/{id}/report/: members report a message to the moderators."""

from __future__ import annotations

import pytest

from chat import actions as chat_actions
from moderation.models import Report

pytestmark = pytest.mark.django_db


def url(message_id) -> str:
    return f"/api/v1/messages/{message_id}/report/"


def test_a_member_reports_a_message(api_for, ann, bob, group_room, say):
    message = say(bob, group_room, "rude")
    response = api_for(ann).post(url(message.id), {"reason": "  insulting  "}, format="json")
    assert response.status_code == 201
    report = Report.objects.get()
    assert response.json() == {
        "id": report.id,
        "message": message.id,
        "reason": "insulting",
        "status": "open",
        "created_at": report.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert (report.reporter, report.message, report.status) == (ann, message, "open")


def test_a_second_open_report_by_the_same_member_is_a_conflict(api_for, ann, bob, group_room, say):
    message = say(bob, group_room)
    api = api_for(ann)
    api.post(url(message.id), {"reason": "spam"}, format="json")
    response = api.post(url(message.id), {"reason": "still spam"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert Report.objects.count() == 1


def test_after_a_report_was_closed_the_member_may_report_again(api_for, moderator, ann, bob, group_room, say):
    from moderation import actions

    message = say(bob, group_room)
    api = api_for(ann)
    first = api.post(url(message.id), {"reason": "spam"}, format="json").json()
    actions.close_report(moderator, first["id"], resolution="dismissed")
    assert api.post(url(message.id), {"reason": "really spam"}, format="json").status_code == 201
    assert Report.objects.count() == 2


def test_non_members_get_not_found(api_for, cat, bob, group_room, say):
    message = say(bob, group_room)
    response = api_for(cat).post(url(message.id), {"reason": "spam"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Report.objects.exists()


def test_a_former_member_gets_not_found(api_for, ann, bob, cat, group_room, say):
    chat_actions.add_member(ann, group_room.id, cat.id)
    message = say(bob, group_room)
    chat_actions.leave_room(cat, group_room.id)
    assert api_for(cat).post(url(message.id), {"reason": "spam"}, format="json").status_code == 404


def test_unknown_messages_are_not_found(api_for, ann):
    assert api_for(ann).post(url(999999), {"reason": "spam"}, format="json").status_code == 404


def test_an_id_that_cannot_exist_is_invalid(api_for, ann):
    assert api_for(ann).post(url(0), {"reason": "spam"}, format="json").status_code == 400


def test_a_deleted_message_cannot_be_reported(api_for, ann, bob, group_room, say):
    message = say(bob, group_room)
    chat_actions.delete_message(bob, message.id)
    assert api_for(ann).post(url(message.id), {"reason": "spam"}, format="json").status_code == 404


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": 5}])
def test_a_reason_is_required(api_for, ann, bob, group_room, say, body):
    message = say(bob, group_room)
    response = api_for(ann).post(url(message.id), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Report.objects.exists()


def test_a_reason_longer_than_1000_characters_is_refused(api_for, ann, bob, group_room, say):
    message = say(bob, group_room)
    api = api_for(ann)
    response = api.post(url(message.id), {"reason": "x" * 1001}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert api.post(url(message.id), {"reason": "x" * 1000}, format="json").status_code == 201


def test_members_cannot_report_their_own_messages(api_for, bob, group_room, say):
    message = say(bob, group_room)
    response = api_for(bob).post(url(message.id), {"reason": "oops"}, format="json")
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_reporting_needs_authentication(client, bob, group_room, say):
    message = say(bob, group_room)
    response = client.post(url(message.id), {"reason": "spam"}, content_type="application/json")
    assert response.status_code == 401


def test_a_body_that_is_not_an_object_is_invalid(api_for, ann, bob, group_room, say):
    message = say(bob, group_room)
    response = api_for(ann).post(url(message.id), ["spam"], format="json")
    assert response.status_code == 400
