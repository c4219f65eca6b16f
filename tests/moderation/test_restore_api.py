"""POST /api/v1/messages/{id}/restore/ {"reason"?}: a moderator brings a deleted message back from the chat.

The same action as the admin's restore (``moderation.actions.restore_message``): audited with the reason,
and the room gets ``message_restored`` with the whole message.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from chat import actions as chat_actions
from chat.models import Message
from moderation.models import AuditLog
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


def url(message_id) -> str:
    return f"/api/v1/messages/{message_id}/restore/"


def logged():
    return list(AuditLog.objects.order_by("id").values_list("action", "actor_username", "target_id", "reason"))


@pytest.fixture
def deleted(bob, group_room, say) -> Message:
    """Bob's message, deleted by Bob."""
    message = say(bob, group_room, "I take it back")
    chat_actions.delete_message(bob, message.id)
    return message


def test_a_moderator_restores_a_deleted_message_and_the_reason_is_audited(api_for, moderator, deleted):
    response = api_for(moderator).post(url(deleted.id), {"reason": "  deleted by mistake  "}, format="json")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["deleted"], response.json()["body"]) == (
        deleted.id,
        False,
        "I take it back",
    )
    deleted.refresh_from_db()
    assert (deleted.deleted_at, deleted.deleted_by) == (None, None)
    assert logged() == [("restore_message", "maud", deleted.id, "deleted by mistake")]


def test_a_restore_without_a_reason_is_audited_with_an_empty_one(api_for, moderator, deleted):
    response = api_for(moderator).post(url(deleted.id), {}, format="json")

    assert response.status_code == 200
    assert logged() == [("restore_message", "maud", deleted.id, "")]


def test_a_room_admin_who_is_no_moderator_cannot_restore(api_for, ann, deleted):
    response = api_for(ann).post(url(deleted.id), {"reason": "please"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert response.json()["message"] == "Only moderators can do this."
    deleted.refresh_from_db()
    assert deleted.deleted_at is not None
    assert logged() == []


def test_restoring_a_message_that_is_not_deleted_is_a_conflict(api_for, moderator, bob, group_room, say):
    message = say(bob, group_room, "still here")

    response = api_for(moderator).post(url(message.id), {}, format="json")

    assert response.status_code == 409
    assert response.json()["message"] == "The message is not deleted."
    assert logged() == []


def test_restoring_an_unknown_message_is_404(api_for, moderator):
    response = api_for(moderator).post(url(999_999), {}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"reason": "x" * 501}, 413, "`reason` is longer than 500 characters."),
        ({"reason": ["spam"]}, 400, "`reason` must be a string."),
        ({"reason": "ok", "silent": True}, 400, "Unknown fields: silent."),
    ],
)
def test_a_bad_body_is_refused_and_the_message_stays_deleted(api_for, moderator, deleted, body, status, message):
    response = api_for(moderator).post(url(deleted.id), body, format="json")

    assert response.status_code == status
    assert response.json()["message"] == message
    deleted.refresh_from_db()
    assert deleted.deleted_at is not None
    assert logged() == []


@pytest.mark.django_db(transaction=True)
async def test_the_room_sees_the_message_come_back_whole(api_for, ws_connect, moderator, ann, deleted):
    ann_ws = await ws_connect(ann)

    response = await database_sync_to_async(api_for(moderator).post)(url(deleted.id), {}, format="json")

    event = await receive_until(ann_ws, "message_restored")
    assert event["data"] == {"message": response.json()}
