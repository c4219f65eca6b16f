"""A member removed from a room reads nothing more of it through their notifications.

A notification's payload carries the room's current name and the message's
current text; after removal they are hidden from the list and the unread count.
"""

import pytest

from chat import actions
from notifications.models import Notification

from .helpers import group_of, send

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/"


@pytest.fixture
def removed_bob(ann, bob, cat):
    """Bob was mentioned twice in Ann's room, once in Cat's; then Ann removed him from hers."""
    room = group_of(ann, bob, name="Plans")
    mention = send(ann, room, "@bob the plan is A")
    send(ann, room, "@bob also B")
    send(cat, group_of(cat, bob, name="Other"), "@bob hi")
    actions.remove_member(ann, room.id, bob.id)
    return room, mention


def test_a_removed_member_no_longer_lists_the_rooms_notifications(api_for, bob, removed_bob):
    page = api_for(bob).get(LIST).json()

    assert [(n["room_name"], n["message"]["body"]) for n in page["notifications"]] == [("Other", "@bob hi")]


def test_a_removed_member_does_not_see_a_later_rename_or_edit(api_for, ann, bob, removed_bob):
    room, mention = removed_bob
    actions.update_room(ann, room.id, name="Secret merger")
    actions.edit_message(ann, mention["id"], body="@bob the plan is the secret merger")

    text = api_for(bob).get(LIST).content.decode()

    assert "Secret merger" not in text
    assert "secret merger" not in text


def test_a_removed_members_unread_count_leaves_out_the_room(api_for, bob, removed_bob):
    assert api_for(bob).get(LIST).json()["unread_count"] == 1
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 3


def test_a_member_added_back_sees_the_rooms_notifications_again(api_for, ann, bob, removed_bob):
    room, _ = removed_bob
    actions.add_member(ann, room.id, bob.id)

    page = api_for(bob).get(LIST).json()

    assert [n["message"]["body"] for n in page["notifications"]] == ["@bob hi", "@bob also B", "@bob the plan is A"]
    assert page["unread_count"] == 3
