"""Query counts of the hot REST paths do not grow with rooms, page size or members.

Each test measures the small case, then asserts the large one makes exactly
as many queries; the figures are printed (``-s``) for the record.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import actions
from chat.models import Message, Room
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    # Query counts at scale (many rooms, members, reactions by one user), not limits.
    settings.RATE_LIMIT_MESSAGES = 0
    settings.RATE_LIMIT_ROOMS = 0
    settings.RATE_LIMIT_MEMBER_ADDS = 0
    settings.RATE_LIMIT_REACTIONS = 0
    settings.ROOM_MEMBERS_ADD_MAX = 1000
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def count_queries(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return len(captured), result


def rooms_with_activity(owner, member, count: int) -> None:
    for n in range(count):
        room = actions.create_group_room(owner, name=f"Room {n}", members=[member.id])
        actions.send_message(owner, room["id"], body=f"hello {n}")


def test_rooms_list_makes_as_many_queries_for_30_rooms_as_for_2(api_for, ann, bob, cat, django_assert_num_queries):
    rooms_with_activity(ann, bob, 2)
    rooms_with_activity(ann, cat, 30)
    small, response = count_queries(lambda: api_for(bob).get("/api/v1/rooms/"))
    assert len(response.json()) == 2

    with django_assert_num_queries(small):
        response = api_for(cat).get("/api/v1/rooms/")

    assert len(response.json()) == 30
    assert all(room["unread"] == 1 and room["last_message"] for room in response.json())
    print(f"\nGET rooms/: {small} queries for 2 rooms and for 30")


def fill_with_reactions_and_attachments(room, ann, bob, count: int) -> None:
    for n in range(count):
        message, _ = actions.send_message(ann, room.id, body=f"message {n}")
        actions.set_reaction(bob, message["id"], "👍", True)
        actions.set_reaction(ann, message["id"], "🎉", True)
        Upload.objects.create(
            owner=ann,
            file=f"uploads/{n}.txt",
            original_name=f"{n}.txt",
            content_type="text/plain",
            size=1,
            sha256="0" * 64,
            message_id=message["id"],
        )


def test_history_page_makes_as_many_queries_for_100_messages_as_for_5(
    api_for, ann, bob, group_room, django_assert_num_queries
):
    fill_with_reactions_and_attachments(group_room, ann, bob, 101)
    url = f"/api/v1/rooms/{group_room.id}/messages/"
    # `before` pages come from the database (the newest page from the history cache, below).
    small, response = count_queries(lambda: api_for(bob).get(url, {"limit": 5, "before": 102}))
    assert len(response.json()["messages"]) == 5

    with django_assert_num_queries(small):
        response = api_for(bob).get(url, {"limit": 100, "before": 102})

    messages = response.json()["messages"]
    assert len(messages) == 100
    assert all(len(m["reactions"]) == 2 and len(m["attachments"]) == 1 for m in messages)
    print(f"\nGET messages/: {small} queries for 5 messages and for 100")


def test_send_makes_as_many_queries_in_a_100_member_room_as_in_a_3_member_room(
    api_for, ann, bob, cat, make_user, django_assert_num_queries
):
    small_room = actions.create_group_room(ann, name="Small", members=[bob.id, cat.id])
    crowd = [make_user(f"member{n}").id for n in range(97)]
    big_room = actions.create_group_room(ann, name="Big", members=[bob.id, cat.id, *crowd])
    client = api_for(bob)

    def send(room_id: int):
        return client.post(
            f"/api/v1/rooms/{room_id}/messages/", {"body": "hi all", "client_id": str(uuid.uuid4())}, format="json"
        )

    send(small_room["id"]), send(big_room["id"])  # warm up: both rooms have a message already
    small, response = count_queries(lambda: send(small_room["id"]))
    assert response.status_code == 201

    with django_assert_num_queries(small):
        response = send(big_room["id"])

    assert response.status_code == 201
    assert Room.objects.get(pk=big_room["id"]).memberships.count() == 100
    assert Message.objects.filter(room_id=big_room["id"]).count() == 2
    print(f"\nPOST messages/: {small} queries in a 3-member room and in a 100-member room")


def test_search_makes_as_many_queries_for_40_hits_as_for_2(api_for, ann, bob, cat, django_assert_num_queries):
    small_room = actions.create_group_room(ann, name="Small", members=[bob.id])
    big_room = actions.create_group_room(ann, name="Big", members=[cat.id])
    for n in range(2):
        actions.send_message(ann, small_room["id"], body=f"needle {n}")
    for n in range(40):
        actions.send_message(ann, big_room["id"], body=f"needle {n}")
    small, response = count_queries(lambda: api_for(bob).get("/api/v1/search/", {"q": "needle"}))
    assert len(response.json()) == 2

    with django_assert_num_queries(small):
        response = api_for(cat).get("/api/v1/search/", {"q": "needle"})

    assert len(response.json()) == 40
    print(f"\nGET search/: {small} queries for 2 hits and for 40")


def test_public_rooms_make_as_many_queries_for_30_rooms_as_for_2(api_for, ann, bob, cat, django_assert_num_queries):
    for n in range(2):
        actions.create_group_room(ann, name=f"Alpha {n}", is_public=True)
    small, response = count_queries(lambda: api_for(bob).get("/api/v1/rooms/public/"))
    assert len(response.json()) == 2
    for n in range(28):
        actions.create_group_room(ann, name=f"Beta {n}", is_public=True, members=[cat.id])

    with django_assert_num_queries(small):
        response = api_for(bob).get("/api/v1/rooms/public/")

    assert len(response.json()) == 30
    print(f"\nGET rooms/public/: {small} queries for 2 rooms and for 30")
