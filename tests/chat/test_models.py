"""Constraints the database itself enforces, whatever the code above it does."""

import pytest
from django.db import IntegrityError, transaction

from chat.models import Message, Reaction, Room, RoomMember

pytestmark = pytest.mark.django_db


def test_a_second_direct_room_for_the_same_pair_is_rejected(ann, bob):
    Room.objects.create(kind=Room.Kind.DIRECT, direct_key=Room.direct_key_for(ann.id, bob.id))
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(kind=Room.Kind.DIRECT, direct_key=Room.direct_key_for(bob.id, ann.id))


def test_a_direct_room_without_its_pair_key_is_rejected():
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(kind=Room.Kind.DIRECT)


def test_a_public_direct_room_is_rejected(ann, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(kind=Room.Kind.DIRECT, direct_key=Room.direct_key_for(ann.id, bob.id), is_public=True)


def test_a_duplicate_seq_in_one_room_is_rejected(group_room, ann):
    Message.objects.create(room=group_room, seq=1, sender=ann, body="one")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=group_room, seq=1, sender=ann, body="two")


def test_the_same_seq_in_two_rooms_is_allowed(group_room, ann):
    other = Room.objects.create(name="Other")
    Message.objects.create(room=group_room, seq=1, sender=ann, body="one")
    Message.objects.create(room=other, seq=1, sender=ann, body="one")
    assert Message.objects.filter(seq=1).count() == 2


def test_a_duplicate_reaction_is_rejected(group_room, ann):
    message = Message.objects.create(room=group_room, seq=1, sender=ann, body="one")
    Reaction.objects.create(message=message, user=ann, emoji="👍")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reaction.objects.create(message=message, user=ann, emoji="👍")


def test_a_client_id_is_unique_per_sender(group_room, ann, bob):
    import uuid

    client_id = uuid.uuid4()
    Message.objects.create(room=group_room, seq=1, sender=ann, body="one", client_id=client_id)
    Message.objects.create(room=group_room, seq=2, sender=bob, body="two", client_id=client_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=group_room, seq=3, sender=ann, body="three", client_id=client_id)


def test_a_user_is_a_member_of_a_room_once(group_room, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        RoomMember.objects.create(room=group_room, user=bob)
