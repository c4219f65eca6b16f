"""REST: reactions (idempotent add and remove), pin and unpin, and a room's pins."""

import pytest

from chat import actions
from chat.models import Reaction, Room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def message(ann, group_room) -> dict:
    return actions.send_message(ann, group_room.id, body="react to me")[0]


def reactions_url(message_id: int) -> str:
    return f"/api/v1/messages/{message_id}/reactions/"


def pin_url(message_id: int) -> str:
    return f"/api/v1/messages/{message_id}/pin/"


def pins_url(room_id: int) -> str:
    return f"/api/v1/rooms/{room_id}/pins/"


# --- Reactions ---------------------------------------------------------------------------


def test_add_reaction_answers_the_message_with_the_reaction(api_for, bob, message):
    response = api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == message["id"]
    assert response.json()["reactions"] == [{"emoji": "👍", "count": 1, "users": [bob.id]}]


def test_add_the_same_reaction_twice_keeps_one(api_for, bob, message):
    api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    response = api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": "👍", "count": 1, "users": [bob.id]}]
    assert Reaction.objects.count() == 1


def test_reactions_are_grouped_by_emoji_in_the_order_given(api_for, ann, bob, message):
    api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")
    api_for(ann).post(reactions_url(message["id"]), {"emoji": "🎉"}, format="json")

    response = api_for(ann).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.json()["reactions"] == [
        {"emoji": "👍", "count": 2, "users": [bob.id, ann.id]},
        {"emoji": "🎉", "count": 1, "users": [ann.id]},
    ]


def test_reactions_appear_in_history(api_for, bob, message, group_room):
    api_for(bob).post(reactions_url(message["id"]), {"emoji": ":tada:"}, format="json")

    (listed,) = api_for(bob).get(f"/api/v1/rooms/{group_room.id}/messages/").json()["messages"]

    # A known shortcode is stored as its emoji.
    assert listed["reactions"] == [{"emoji": "🎉", "count": 1, "users": [bob.id]}]


def test_remove_reaction_takes_away_only_the_callers(api_for, ann, bob, message):
    actions.set_reaction(ann, message["id"], "👍", True)
    actions.set_reaction(bob, message["id"], "👍", True)

    response = api_for(bob).delete(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 200
    assert response.json()["reactions"] == [{"emoji": "👍", "count": 1, "users": [ann.id]}]


def test_remove_a_reaction_that_is_not_there_is_200_and_changes_nothing(api_for, bob, message):
    response = api_for(bob).delete(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 200
    assert response.json()["reactions"] == []


def test_remove_reaction_takes_the_emoji_from_the_query_string_too(api_for, bob, message):
    actions.set_reaction(bob, message["id"], "👍", True)

    response = api_for(bob).delete(f"{reactions_url(message['id'])}?emoji=%F0%9F%91%8D")

    assert response.status_code == 200
    assert response.json()["reactions"] == []
    assert not Reaction.objects.exists()


@pytest.mark.parametrize("emoji", ["", "   ", "two words", "<b>", "x" * 33, 5, None, ["👍"]])
def test_invalid_emoji_is_400_and_stores_nothing(api_for, bob, message, emoji):
    response = api_for(bob).post(reactions_url(message["id"]), {"emoji": emoji}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Reaction.objects.exists()


def test_remove_with_an_invalid_emoji_is_400(api_for, bob, message):
    response = api_for(bob).delete(reactions_url(message["id"]), {"emoji": "a b"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_reacting_to_a_deleted_message_is_404(api_for, ann, bob, message):
    actions.delete_message(ann, message["id"])

    response = api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reacting_to_an_unknown_message_is_404(api_for, bob):
    response = api_for(bob).post(reactions_url(999_999), {"emoji": "👍"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reacting_in_an_archived_room_is_404(api_for, ann, bob, message, group_room):
    actions.archive_room(ann, group_room.id)

    response = api_for(bob).post(reactions_url(message["id"]), {"emoji": "👍"}, format="json")

    assert response.status_code == 404


# --- Pin -------------------------------------------------------------------------------------


def test_member_pins_where_the_room_lets_members_pin(api_for, bob, message):
    response = api_for(bob).post(pin_url(message["id"]))

    assert response.status_code == 200
    assert response.json()["pinned"] is True


def test_member_cannot_pin_where_members_cannot_pin(api_for, bob, message, group_room):
    Room.objects.filter(pk=group_room.pk).update(members_can_pin=False)

    response = api_for(bob).post(pin_url(message["id"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert api_for(bob).get(pins_url(group_room.id)).json() == []


def test_admin_pins_where_members_cannot_pin(api_for, ann, cat, message, group_room):
    Room.objects.filter(pk=group_room.pk).update(members_can_pin=False)
    actions.add_member(ann, group_room.id, cat.id, "admin")

    response = api_for(cat).post(pin_url(message["id"]))

    assert response.status_code == 200
    assert response.json()["pinned"] is True


def test_member_cannot_unpin_where_members_cannot_pin(api_for, ann, bob, message, group_room):
    actions.set_pinned(ann, message["id"], True)
    Room.objects.filter(pk=group_room.pk).update(members_can_pin=False)

    response = api_for(bob).delete(pin_url(message["id"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert [m["id"] for m in api_for(bob).get(pins_url(group_room.id)).json()] == [message["id"]]


def test_pin_twice_is_200_and_stays_pinned(api_for, bob, message):
    api_for(bob).post(pin_url(message["id"]))

    response = api_for(bob).post(pin_url(message["id"]))

    assert response.status_code == 200
    assert response.json()["pinned"] is True


def test_unpin_is_200_and_unpinned(api_for, bob, message, group_room):
    actions.set_pinned(bob, message["id"], True)

    response = api_for(bob).delete(pin_url(message["id"]))

    assert response.status_code == 200
    assert response.json()["pinned"] is False
    assert api_for(bob).get(pins_url(group_room.id)).json() == []


def test_pinning_a_deleted_message_is_404(api_for, ann, bob, message):
    actions.delete_message(ann, message["id"])

    response = api_for(bob).post(pin_url(message["id"]))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_pinning_in_an_archived_room_is_404(api_for, ann, bob, message, group_room):
    actions.archive_room(ann, group_room.id)

    response = api_for(bob).post(pin_url(message["id"]))

    assert response.status_code == 404


# --- Pins list --------------------------------------------------------------------------------


def test_pins_lists_the_pinned_messages_most_recently_pinned_first(api_for, ann, bob, group_room):
    first, _ = actions.send_message(ann, group_room.id, body="first")
    actions.send_message(ann, group_room.id, body="not pinned")
    third, _ = actions.send_message(ann, group_room.id, body="third")
    actions.set_pinned(ann, third["id"], True)
    actions.set_pinned(ann, first["id"], True)

    response = api_for(bob).get(pins_url(group_room.id))

    assert response.status_code == 200
    assert [(m["id"], m["body"], m["pinned"]) for m in response.json()] == [
        (first["id"], "first", True),
        (third["id"], "third", True),
    ]


def test_a_deleted_message_leaves_the_pins(api_for, ann, bob, message, group_room):
    actions.set_pinned(ann, message["id"], True)
    actions.delete_message(ann, message["id"])

    assert api_for(bob).get(pins_url(group_room.id)).json() == []
