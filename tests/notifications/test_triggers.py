"""Which messages notify whom: each trigger fires once, for the right people only.

Messages go through ``chat.actions.send_message`` / ``edit_message``, which
call ``notifications.actions.notify_for_message``; nothing here writes a
notification by hand.
"""

import uuid

import pytest

from chat import actions
from chat.models import RoomMember
from notifications.models import Notification

from .helpers import direct_room, group_of, notified, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(ann, bob, cat):
    """Ann owns the room; Bob and Cat are members."""
    return group_of(ann, bob, cat)


# --- @username mentions ----------------------------------------------------------


def test_a_mention_notifies_the_mentioned_member_once(ann, bob, team):
    message = send(ann, team, "hi @bob")
    assert notified() == [("bob", "mention")]
    notification = Notification.objects.get()
    assert (notification.actor_id, notification.room_id, notification.message_id) == (ann.id, team.id, message["id"])
    assert notification.read_at is None


def test_a_mention_of_a_non_member_notifies_nobody(ann, team, make_user):
    make_user("dan")
    send(ann, team, "hi @dan")
    assert notified() == []


def test_a_mention_of_an_unknown_name_notifies_nobody(ann, team):
    send(ann, team, "hi @nobody")
    assert notified() == []


def test_mentioning_yourself_notifies_nobody(ann, team):
    send(ann, team, "note to @ann")
    assert notified() == []


def test_mentioning_two_members_notifies_each_once(ann, team):
    send(ann, team, "@bob and @cat, and again @bob")
    assert notified() == [("bob", "mention"), ("cat", "mention")]


def test_a_mention_inside_code_notifies_nobody(ann, team):
    send(ann, team, "try `@bob` or\n```\n@cat\n```")
    assert notified() == []


def test_a_mention_of_a_deactivated_member_notifies_nobody(ann, bob, team):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    send(ann, team, "hi @bob")
    assert notified() == []


def test_an_ordinary_group_message_notifies_nobody(ann, bob, team):
    send(ann, team, "hello all")
    send(bob, team, "hello ann")
    assert notified() == []


def test_a_retried_send_with_the_same_client_id_notifies_once(ann, team):
    client_id = str(uuid.uuid4())
    send(ann, team, "hi @bob", client_id=client_id)
    send(ann, team, "hi @bob", client_id=client_id)
    assert notified() == [("bob", "mention")]


# --- @room / @here ----------------------------------------------------------------


@pytest.mark.parametrize("word", ["@room", "@here"])
def test_a_room_mention_by_an_admin_notifies_every_member_but_the_sender(ann, team, word):
    send(ann, team, f"{word} standup in 5")
    assert notified() == [("bob", "mention"), ("cat", "mention")]


def test_a_room_mention_by_a_plain_member_notifies_nobody_when_only_admins_may(settings, bob, team):
    settings.ROOM_MENTION_ADMINS_ONLY = True
    send(bob, team, "@room look")
    assert notified() == []


def test_a_room_mention_by_a_plain_member_notifies_everyone_when_allowed(settings, bob, team):
    settings.ROOM_MENTION_ADMINS_ONLY = False
    send(bob, team, "@room look")
    assert notified() == [("ann", "mention"), ("cat", "mention")]


def test_a_room_mention_that_also_names_someone_notifies_them_once(ann, team):
    send(ann, team, "@room and especially @bob")
    assert notified() == [("bob", "mention"), ("cat", "mention")]


def test_a_room_mention_skips_deactivated_members(ann, cat, team):
    cat.is_active = False
    cat.save(update_fields=["is_active"])
    send(ann, team, "@room hello")
    assert notified() == [("bob", "mention")]


# --- Direct rooms ------------------------------------------------------------------------


def test_every_direct_message_notifies_the_other_member(ann, bob):
    room = direct_room(ann, bob)
    send(ann, room, "one")
    send(ann, room, "two")
    send(bob, room, "three")
    assert notified() == [("ann", "dm"), ("bob", "dm"), ("bob", "dm")]
    assert set(Notification.objects.filter(recipient=bob).values_list("message__body", flat=True)) == {"one", "two"}


def test_a_mention_in_a_direct_room_is_one_mention_not_a_dm_too(ann, bob):
    room = direct_room(ann, bob)
    send(ann, room, "@bob look")
    assert notified() == [("bob", "mention")]


def test_a_reply_in_a_direct_room_is_one_reply_not_a_dm_too(ann, bob):
    room = direct_room(ann, bob)
    first = send(bob, room, "question?")
    Notification.objects.all().delete()
    send(ann, room, "answer", reply_to=first["id"])
    assert notified() == [("bob", "reply")]


# --- Replies --------------------------------------------------------------------------------


def test_a_reply_notifies_the_author_of_the_replied_message(ann, bob, team):
    original = send(bob, team, "lunch?")
    reply = send(ann, team, "yes", reply_to=original["id"])
    assert notified() == [("bob", "reply")]
    assert Notification.objects.get().message_id == reply["id"]


def test_replying_to_your_own_message_notifies_nobody(ann, team):
    original = send(ann, team, "lunch?")
    send(ann, team, "anyone?", reply_to=original["id"])
    assert notified() == []


def test_a_reply_to_someone_who_left_the_room_notifies_nobody(ann, bob, team):
    original = send(bob, team, "bye")
    actions.leave_room(bob, team.id)
    send(ann, team, "see you", reply_to=original["id"])
    assert notified() == []


def test_a_reply_that_mentions_the_author_is_one_mention(ann, bob, team):
    original = send(bob, team, "lunch?")
    send(ann, team, "@bob yes", reply_to=original["id"])
    assert notified() == [("bob", "mention")]


def test_a_reply_with_a_room_mention_is_one_notification_per_member(settings, ann, bob, team):
    original = send(bob, team, "lunch?")
    send(ann, team, "@room lunch!", reply_to=original["id"])
    assert notified() == [("bob", "mention"), ("cat", "mention")]


# --- Edits --------------------------------------------------------------------------------------


def test_an_edit_that_adds_a_mention_notifies_the_newly_mentioned_once(ann, team):
    message = send(ann, team, "hi")
    actions.edit_message(ann, message["id"], body="hi @bob")
    assert notified() == [("bob", "mention")]
    assert Notification.objects.get().message_id == message["id"]


def test_a_second_edit_keeping_the_mention_does_not_notify_again(ann, team):
    message = send(ann, team, "hi")
    actions.edit_message(ann, message["id"], body="hi @bob")
    actions.edit_message(ann, message["id"], body="hello @bob")
    assert notified() == [("bob", "mention")]


def test_removing_and_adding_a_mention_again_does_not_notify_twice(ann, team):
    message = send(ann, team, "hi @bob")
    actions.edit_message(ann, message["id"], body="hi")
    actions.edit_message(ann, message["id"], body="hi again @bob")
    assert notified() == [("bob", "mention")]


def test_an_edit_adding_a_second_mention_notifies_only_the_new_one(ann, team):
    message = send(ann, team, "hi @bob")
    actions.edit_message(ann, message["id"], body="hi @bob and @cat")
    assert notified() == [("bob", "mention"), ("cat", "mention")]


def test_an_edit_mentioning_the_author_of_the_replied_message_does_not_notify_twice(ann, bob, team):
    original = send(bob, team, "lunch?")
    reply = send(ann, team, "yes", reply_to=original["id"])
    actions.edit_message(ann, reply["id"], body="yes @bob")
    assert notified() == [("bob", "reply")]


def test_an_edit_of_a_direct_message_does_not_notify_again(ann, bob):
    room = direct_room(ann, bob)
    message = send(ann, room, "hi")
    actions.edit_message(ann, message["id"], body="hi there")
    assert notified() == [("bob", "dm")]


def test_an_edit_of_a_reply_does_not_notify_the_author_again(ann, bob, team):
    original = send(bob, team, "lunch?")
    reply = send(ann, team, "yes", reply_to=original["id"])
    Notification.objects.all().delete()  # Bob cleared his centre; the edit is no new reply
    actions.edit_message(ann, reply["id"], body="yes, at noon")
    assert notified() == []


def test_an_edit_adding_a_room_mention_notifies_the_members_not_yet_told(ann, team):
    message = send(ann, team, "hi @bob")
    actions.edit_message(ann, message["id"], body="hi @bob and @room")
    assert notified() == [("bob", "mention"), ("cat", "mention")]


def test_an_edit_adding_a_mention_of_a_non_member_notifies_nobody(ann, team, make_user):
    make_user("dan")
    message = send(ann, team, "hi")
    actions.edit_message(ann, message["id"], body="hi @dan")
    assert notified() == []


# --- Preferences: muted and notify_level ----------------------------------------------------------


def set_pref(user, room, **fields) -> None:
    actions.update_membership_settings(user, room.id, **fields)


@pytest.mark.parametrize("pref", [{"muted": True}, {"notify_level": "mentions"}])
def test_muted_or_mentions_only_still_gets_direct_mentions(ann, bob, team, pref):
    set_pref(bob, team, **pref)
    send(ann, team, "hi @bob")
    assert notified() == [("bob", "mention")]


@pytest.mark.parametrize("pref", [{"muted": True}, {"notify_level": "mentions"}])
def test_muted_or_mentions_only_gets_no_room_mention(ann, bob, team, pref):
    set_pref(bob, team, **pref)
    send(ann, team, "@room hello")
    assert notified() == [("cat", "mention")]


@pytest.mark.parametrize("pref", [{"muted": True}, {"notify_level": "mentions"}])
def test_muted_or_mentions_only_gets_no_reply(ann, bob, team, pref):
    original = send(bob, team, "lunch?")
    set_pref(bob, team, **pref)
    send(ann, team, "yes", reply_to=original["id"])
    assert notified() == []


@pytest.mark.parametrize("pref", [{"muted": True}, {"notify_level": "mentions"}])
def test_muted_or_mentions_only_gets_no_direct_message_but_a_mention_in_it(ann, bob, pref):
    room = direct_room(ann, bob)
    set_pref(bob, room, **pref)
    send(ann, room, "hi")
    send(ann, room, "hi @bob")
    assert notified() == [("bob", "mention")]


def test_notify_level_none_silences_even_direct_mentions(ann, bob, team):
    set_pref(bob, team, notify_level="none")
    original = send(bob, team, "lunch?")
    send(ann, team, "@bob yes", reply_to=original["id"])
    send(ann, team, "@room hello")
    assert notified() == [("cat", "mention")]


def test_notify_level_none_silences_a_direct_room(ann, bob):
    room = direct_room(ann, bob)
    set_pref(bob, room, notify_level="none")
    send(ann, room, "hi @bob")
    assert notified() == []


def test_preferences_are_per_room(ann, bob, team):
    other = group_of(ann, bob, name="Other")
    set_pref(bob, team, notify_level="none")
    send(ann, team, "@bob here")
    send(ann, other, "@bob there")
    assert list(Notification.objects.values_list("recipient__username", "room_id")) == [("bob", other.id)]


def test_the_preference_set_over_rest_applies(api_for, ann, bob, team):
    response = api_for(bob).patch(f"/api/v1/rooms/{team.id}/", {"muted": True}, format="json")
    assert response.status_code == 200
    assert RoomMember.objects.get(room=team, user=bob).muted is True
    send(ann, team, "@room hello")  # Cat only: Bob muted the room
    send(ann, team, "@bob hello")  # a direct mention gets through
    assert notified() == [("bob", "mention"), ("cat", "mention")]
    assert Notification.objects.get(recipient=bob).message.body == "@bob hello"


def test_an_edit_adding_a_mention_of_someone_with_level_none_notifies_nobody(ann, bob, team):
    set_pref(bob, team, notify_level="none")
    message = send(ann, team, "hi")
    actions.edit_message(ann, message["id"], body="hi @bob")
    assert notified() == []
