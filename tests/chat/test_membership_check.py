"""``get_membership``, where nearly every room-scoped request starts: one compiled statement, the room with it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from chat.actions.access import get_membership
from chat.models import Room, RoomMember
from core.errors import ActionError

pytestmark = pytest.mark.django_db


def test_a_membership_and_its_room_are_read_in_one_query(bob, group_room, django_assert_num_queries):
    with django_assert_num_queries(1):
        membership = get_membership(bob, group_room.id)
        room_name = membership.room.name  # loaded with the membership: no second query

    stored = RoomMember.objects.get(room=group_room, user=bob)
    assert (membership.pk, membership.role, membership.last_read_seq) == (stored.pk, stored.role, stored.last_read_seq)
    assert (membership.room_id, room_name, membership.room.last_seq) == (group_room.id, "General", group_room.last_seq)


def test_a_membership_can_be_saved_as_the_orm_would_save_it(bob, group_room):
    membership = get_membership(bob, group_room.id)
    membership.last_read_seq = 3
    membership.save(update_fields=["last_read_seq"])

    assert RoomMember.objects.get(pk=membership.pk).last_read_seq == 3


def test_a_room_the_caller_is_not_in_is_not_found(cat, group_room):
    with pytest.raises(ActionError) as refused:
        get_membership(cat, group_room.id)

    assert refused.value.code == "not_found"


def test_an_archived_room_is_not_found_even_to_its_members(bob, group_room):
    Room.objects.filter(pk=group_room.pk).update(archived=True)

    with pytest.raises(ActionError) as refused:
        get_membership(bob, group_room.id)

    assert refused.value.code == "not_found"


def test_an_anonymous_caller_is_in_no_room(group_room):
    with pytest.raises(ActionError) as refused:
        get_membership(AnonymousUser(), group_room.id)

    assert refused.value.code == "not_found"


@pytest.mark.parametrize("room_id", ["x", -1, None])
def test_a_room_id_that_is_no_id_is_invalid(bob, room_id):
    with pytest.raises(ActionError) as refused:
        get_membership(bob, room_id)

    assert refused.value.code == "invalid"
