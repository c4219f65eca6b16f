"""REST: the bodies a message had before its edits (GET messages/{id}/edits/)."""

import pytest
from django.contrib.auth.models import Permission

from chat import actions
from chat.models import Message, MessageEdit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0


@pytest.fixture
def moderator(make_user):
    user = make_user("mod")
    user.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    return user


def edits_url(message_id: int) -> str:
    return f"/api/v1/messages/{message_id}/edits/"


def send(user, room, body: str) -> int:
    payload, _ = actions.send_message(user, room.id, body=body)
    return payload["id"]


def test_each_edit_keeps_the_previous_body_newest_first(api_for, ann, bob, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")
    actions.edit_message(bob, message_id, body="third")

    response = api_for(ann).get(edits_url(message_id))

    assert response.status_code == 200
    edits = response.json()["edits"]
    assert [edit["body"] for edit in edits] == ["second", "first"]


def test_an_edit_record_is_dated_by_the_edit_that_replaced_the_body(api_for, bob, group_room):
    message_id = send(bob, group_room, "first")
    edited = actions.edit_message(bob, message_id, body="second")

    edits = api_for(bob).get(edits_url(message_id)).json()["edits"]

    assert edits == [{"body": "first", "edited_at": edited["edited_at"]}]


def test_a_message_never_edited_has_no_edits(api_for, bob, group_room):
    message_id = send(bob, group_room, "as sent")

    assert api_for(bob).get(edits_url(message_id)).json() == {"edits": []}


def test_an_edit_to_the_same_body_keeps_nothing(api_for, bob, group_room):
    message_id = send(bob, group_room, "same")
    actions.edit_message(bob, message_id, body="same")

    assert api_for(bob).get(edits_url(message_id)).json() == {"edits": []}


def test_only_the_newest_kept_edits_remain(api_for, bob, group_room, settings):
    settings.MESSAGE_EDITS_KEPT = 2
    message_id = send(bob, group_room, "v0")
    for version in range(1, 5):
        actions.edit_message(bob, message_id, body=f"v{version}")

    edits = api_for(bob).get(edits_url(message_id)).json()["edits"]

    assert [edit["body"] for edit in edits] == ["v3", "v2"]
    assert MessageEdit.objects.filter(message_id=message_id).count() == 2


def test_a_deleted_message_shows_no_edits(api_for, ann, bob, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")
    actions.delete_message(bob, message_id)

    response = api_for(ann).get(edits_url(message_id))

    assert (response.status_code, response.json()) == (200, {"edits": []})


def test_a_non_member_gets_404(api_for, bob, cat, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")

    response = api_for(cat).get(edits_url(message_id))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_former_member_gets_404(api_for, bob, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")
    actions.leave_room(bob, group_room.id)

    assert api_for(bob).get(edits_url(message_id)).status_code == 404


def test_a_moderator_outside_the_room_may_read_them(api_for, bob, moderator, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")

    edits = api_for(moderator).get(edits_url(message_id)).json()["edits"]

    assert [edit["body"] for edit in edits] == ["first"]


def test_an_unknown_message_is_404(api_for, bob):
    assert api_for(bob).get(edits_url(999_999)).status_code == 404


def test_purging_a_message_removes_its_edits(bob, group_room):
    message_id = send(bob, group_room, "first")
    actions.edit_message(bob, message_id, body="second")

    actions.do_purge_messages([message_id])

    assert (Message.objects.filter(pk=message_id).exists(), MessageEdit.objects.count()) == (False, 0)


@pytest.mark.parametrize("edit_count", [1, 5])
def test_the_endpoint_answers_in_a_fixed_number_of_queries(
    api_for, bob, group_room, edit_count, django_assert_num_queries
):
    message_id = send(bob, group_room, "v0")
    for version in range(1, edit_count + 1):
        actions.edit_message(bob, message_id, body=f"v{version}")
    client = api_for(bob)

    # The caller (token), the message with its room and sender, the caller's membership, the edits.
    with django_assert_num_queries(4):
        response = client.get(edits_url(message_id))

    assert len(response.json()["edits"]) == edit_count
