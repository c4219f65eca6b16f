"""Hooks offered to chat.actions: reading a room reads its notifications; deleting a message withdraws them.

``mark_room_notifications_read`` and ``withdraw_for_message`` are called
directly here until ``chat.actions.mark_as_read`` / ``delete_message`` call them.
"""

import orjson
import pytest

from core.publishing import call_collecting_events
from notifications.actions import mark_room_notifications_read, withdraw_for_message
from notifications.models import Notification

from .helpers import group_of, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rooms(ann, bob):
    """Two rooms; Bob is mentioned in messages 1 and 2 of the first and once in the second."""
    first = group_of(ann, bob, name="First")
    second = group_of(ann, bob, name="Second")
    send(ann, first, "one @bob")
    send(ann, first, "two @bob")
    send(ann, second, "elsewhere @bob")
    return first, second


def unread_bodies(user) -> list[str]:
    return sorted(
        Notification.objects.filter(recipient=user, read_at__isnull=True).values_list("message__body", flat=True)
    )


def test_reading_a_room_up_to_a_seq_reads_the_notifications_of_those_messages_only(bob, rooms):
    first, _ = rooms
    assert mark_room_notifications_read(bob, first.id, 1) == 1
    assert unread_bodies(bob) == ["elsewhere @bob", "two @bob"]


def test_reading_a_room_tells_the_users_connections(bob, rooms):
    first, _ = rooms
    ids = sorted(Notification.objects.filter(room=first).values_list("id", flat=True))
    marked, outbox = call_collecting_events(mark_room_notifications_read, bob, first.id, 2)
    assert marked == 2
    [(group, message)] = outbox
    frame = orjson.loads(message["frame"])
    assert group == f"user.{bob.id}"
    assert frame["type"] == "notifications_read"
    assert (frame["data"]["ids"], frame["data"]["unread_count"]) == (ids, 1)


def test_reading_a_room_without_unread_notifications_costs_one_query_and_sends_nothing(
    ann, rooms, django_assert_num_queries
):
    first, _ = rooms
    with django_assert_num_queries(1):
        marked, outbox = call_collecting_events(mark_room_notifications_read, ann, first.id, 2)
    assert (marked, outbox) == (0, [])


def test_deleting_a_message_withdraws_its_notifications(ann, bob, cat):
    room = group_of(ann, bob, cat)
    spam = send(ann, room, "@room buy now")
    send(ann, room, "@bob real question")
    assert withdraw_for_message(Notification.objects.filter(message_id=spam["id"]).first().message) == 2
    assert list(Notification.objects.values_list("recipient__username", "message__body")) == [
        ("bob", "@bob real question")
    ]
