"""REST under racing requests: idempotent calls stay idempotent when two arrive at once.

Each test fires two requests in two threads released together by a barrier
(each thread has its own database connection, as two server workers would).
"""

import threading
import uuid

import pytest
from django.db import connection

from chat.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def race(*requests) -> list:
    """Run the callables at the same moment; their responses in call order."""
    barrier = threading.Barrier(len(requests))
    responses: list = [None] * len(requests)

    def run(index: int, request) -> None:
        try:
            barrier.wait(timeout=10)
            responses[index] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_racing_direct_room_requests_from_both_sides_make_one_room(api_for, ann, bob):
    ann_client, bob_client = api_for(ann), api_for(bob)

    responses = race(
        lambda: ann_client.post("/api/v1/rooms/direct/", {"user": bob.id}, format="json"),
        lambda: bob_client.post("/api/v1/rooms/direct/", {"user": ann.id}, format="json"),
    )

    assert sorted(r.status_code for r in responses) == [200, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert Room.objects.filter(kind="direct").count() == 1


def test_racing_sends_with_one_client_id_store_one_message(api_for, bob, group_room):
    client_id = str(uuid.uuid4())
    url = f"/api/v1/rooms/{group_room.id}/messages/"
    first, second = api_for(bob), api_for(bob)

    responses = race(
        lambda: first.post(url, {"body": "once", "client_id": client_id}, format="json"),
        lambda: second.post(url, {"body": "once", "client_id": client_id}, format="json"),
    )

    assert sorted(r.status_code for r in responses) == [200, 201]
    assert responses[0].json() == responses[1].json()
    assert Message.objects.count() == 1
    group_room.refresh_from_db()
    assert group_room.last_seq == 1


def test_racing_sends_to_one_room_get_consecutive_seqs(api_for, ann, bob, group_room):
    url = f"/api/v1/rooms/{group_room.id}/messages/"
    clients = [api_for(ann), api_for(bob), api_for(ann), api_for(bob)]

    responses = race(
        *[lambda c=c: c.post(url, {"body": "hi", "client_id": str(uuid.uuid4())}, format="json") for c in clients]
    )

    assert [r.status_code for r in responses] == [201] * 4
    assert sorted(r.json()["seq"] for r in responses) == [1, 2, 3, 4]
