"""The notification centre over REST: list newest first, filter, page, mark read (own only)."""

import pytest
from django.utils import timezone

from chat.schema import UserSchema
from notifications import schema
from notifications.models import Notification

from .helpers import group_of, send

pytestmark = pytest.mark.django_db

LIST = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"


@pytest.fixture
def mentions(ann, bob, cat):
    """Three mentions of Bob (oldest first) and one of Cat, all unread."""
    room = group_of(ann, bob, cat)
    for body in ("one @bob", "two @bob", "three @bob", "hey @cat"):
        send(ann, room, body)
    return list(Notification.objects.filter(recipient=bob).order_by("id"))


def bodies(page) -> list[str]:
    return [n["message"]["body"] for n in page["notifications"]]


def unread_ids(user) -> set[int]:
    return set(Notification.objects.filter(recipient=user, read_at__isnull=True).values_list("id", flat=True))


# --- GET notifications/ -------------------------------------------------------------------


def test_the_list_is_the_callers_own_newest_first_with_the_unread_count(api_for, bob, mentions):
    response = api_for(bob).get(LIST)
    assert response.status_code == 200
    page = response.json()
    assert bodies(page) == ["three @bob", "two @bob", "one @bob"]
    assert page["unread_count"] == 3
    assert page["has_more"] is False
    assert [n["id"] for n in page["notifications"]] == [n.id for n in reversed(mentions)]


def test_the_list_items_match_the_documented_schema(api_for, bob, mentions):
    item = api_for(bob).get(LIST).json()["notifications"][0]
    assert set(item) == set(schema.NotificationSchema().fields)
    assert set(item["message"]) == set(schema.NotificationMessageSchema().fields)
    assert set(item["actor"]) == set(UserSchema().fields)
    assert set(api_for(bob).get(LIST).json()) == set(schema.NotificationPageSchema().fields)


def test_unread_1_lists_only_unread_notifications(api_for, bob, mentions):
    Notification.objects.filter(pk=mentions[1].pk).update(read_at=timezone.now())
    page = api_for(bob).get(LIST, {"unread": "1"}).json()
    assert bodies(page) == ["three @bob", "one @bob"]
    assert page["unread_count"] == 2
    assert bodies(api_for(bob).get(LIST).json()) == ["three @bob", "two @bob", "one @bob"]


def test_pages_go_back_with_before_and_limit(api_for, bob, mentions):
    client = api_for(bob)
    first = client.get(LIST, {"limit": 2}).json()
    assert bodies(first) == ["three @bob", "two @bob"]
    assert first["has_more"] is True
    second = client.get(LIST, {"limit": 2, "before": first["notifications"][-1]["id"]}).json()
    assert bodies(second) == ["one @bob"]
    assert second["has_more"] is False


def test_a_list_costs_a_fixed_number_of_queries(api_for, bob, mentions, django_assert_num_queries):
    client = api_for(bob)
    with django_assert_num_queries(3):  # the JWT's user, the page, the unread count
        client.get(LIST)


@pytest.mark.parametrize(
    "params", [{"unread": "yes"}, {"before": "x"}, {"before": "0"}, {"limit": "0"}, {"limit": "101"}, {"limit": "-1"}]
)
def test_bad_list_parameters_are_invalid(api_for, bob, mentions, params):
    response = api_for(bob).get(LIST, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_list_needs_authentication(client):
    response = client.get(LIST)
    assert response.status_code == 401


# --- POST notifications/read/ --------------------------------------------------------------------


def test_marking_given_ids_read_marks_only_those_and_returns_the_new_unread_count(api_for, bob, mentions):
    response = api_for(bob).post(READ, {"ids": [mentions[0].id, mentions[2].id]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"marked": 2, "unread_count": 1}
    assert unread_ids(bob) == {mentions[1].id}


def test_marking_without_ids_marks_all_of_the_callers_notifications(api_for, bob, cat, mentions):
    response = api_for(bob).post(READ, {}, format="json")
    assert response.json() == {"marked": 3, "unread_count": 0}
    assert unread_ids(bob) == set()
    assert len(unread_ids(cat)) == 1


def test_marking_with_an_empty_body_marks_all(api_for, bob, mentions):
    response = api_for(bob).post(READ)
    assert response.json() == {"marked": 3, "unread_count": 0}


def test_marking_someone_elses_ids_changes_nothing(api_for, bob, cat, mentions):
    cats = list(unread_ids(cat))
    response = api_for(bob).post(READ, {"ids": cats}, format="json")
    assert response.status_code == 200
    assert response.json() == {"marked": 0, "unread_count": 3}
    assert unread_ids(cat) == set(cats)


def test_marking_already_read_ids_again_marks_nothing_and_keeps_the_first_read_time(api_for, bob, mentions):
    client = api_for(bob)
    client.post(READ, {"ids": [mentions[0].id]}, format="json")
    first_read = Notification.objects.get(pk=mentions[0].pk).read_at
    response = client.post(READ, {"ids": [mentions[0].id]}, format="json")
    assert response.json() == {"marked": 0, "unread_count": 2}
    assert Notification.objects.get(pk=mentions[0].pk).read_at == first_read


@pytest.mark.parametrize("ids", ["1", [1, "x"], [0], [True], {"a": 1}, list(range(1, 1002))])
def test_bad_ids_are_invalid_and_change_nothing(api_for, bob, mentions, ids):
    response = api_for(bob).post(READ, {"ids": ids}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert len(unread_ids(bob)) == 3


def test_a_body_that_is_not_an_object_is_invalid(api_for, bob, mentions):
    response = api_for(bob).post(READ, [1, 2], format="json")
    assert response.status_code == 400
    assert len(unread_ids(bob)) == 3


def test_mark_read_needs_authentication(client, mentions):
    assert client.post(READ).status_code == 401
    assert Notification.objects.filter(read_at__isnull=False).count() == 0
