"""Who a connecting user shares a live room with, read once with the room list."""

from __future__ import annotations

import pytest

from chat import actions as chat
from chat.models import Room
from presence.actions import co_member_ids, co_members_of

pytestmark = pytest.mark.django_db


def test_the_co_members_of_a_user_are_the_members_of_their_live_rooms(ann, bob, cat, make_user):
    dan, eve = make_user("dan"), make_user("eve")
    chat.create_group_room(ann, name="Live", members=[bob.id])
    old = chat.create_group_room(ann, name="Old", members=[cat.id, dan.id])["id"]
    Room.objects.filter(pk=old).update(archived=True)
    chat.create_group_room(eve, name="Elsewhere", members=[cat.id])

    assert co_members_of(ann.id) == {ann.id, bob.id}
    live_rooms = Room.objects.filter(memberships__user=ann, archived=False).values_list("id", flat=True)
    assert co_members_of(ann.id) == co_member_ids(live_rooms)


def test_a_user_without_rooms_has_no_co_members(cat):
    assert co_members_of(cat.id) == set()
