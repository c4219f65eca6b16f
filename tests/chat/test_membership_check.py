"""``get_membership``, where nearly every room-scoped request starts: one compiled statement, the room with it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.forms.models import model_to_dict
from django.utils import timezone

from chat.actions.access import get_membership
from chat.models import Room, RoomMember
from core.errors import ActionError

pytestmark = pytest.mark.django_db


def test_a_membership_and_its_room_are_read_in_one_query(bob, group_room, django_assert_num_queries):
    RoomMember.objects.filter(room=group_room, user=bob).update(send_muted_until=timezone.now() + timedelta(hours=1))
    stored = RoomMember.objects.select_related("room").get(room=group_room, user=bob)

    with django_assert_num_queries(1):
        membership = get_membership(bob, group_room.id)
        room_values = model_to_dict(membership.room)  # loaded with the membership: no second query

    assert model_to_dict(membership) == model_to_dict(stored)
    assert membership.send_muted_until == stored.send_muted_until  # a timestamp, as the ORM reads it
    assert room_values == model_to_dict(stored.room)
    assert membership.room.created_at == stored.room.created_at
    assert (membership._state.db, membership._state.adding) == ("default", False)
    assert membership.get_deferred_fields() == set() and membership.room.get_deferred_fields() == set()


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
