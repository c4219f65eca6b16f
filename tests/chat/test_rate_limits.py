"""Per-user rate limits on every state change (core.ratelimit.BUDGETS), checked in each action's check_*.

Each budget refuses past its limit with ``rate_limited`` and ``retry_after``
and changes nothing; a refused action (bad input, not found, forbidden) uses
no slot; 0 switches a budget off; REST answers 429 with Retry-After and the
socket an ``error`` with ``retry_after``.
"""

import pytest
from channels.db import database_sync_to_async

from chat import actions
from chat.models import Message, Reaction, Room, RoomMember, ThreadFollow
from config import settings as defaults
from core.errors import ActionError
from core.ratelimit import BUDGETS, reset_local, take_slots
from moderation.actions import mute_member, unmute_member
from moderation.models import Report
from presence import actions as presence_actions
from presence.models import Presence
from tests.conftest import receive_until
from uploads.models import Upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def only_the_limit_under_test(settings):
    """Every budget off but the one a test switches on, so each test pushes exactly one."""
    for budget in BUDGETS.values():
        setattr(settings, budget.limit_setting, 0)


def refusal(call, *args, **kwargs) -> ActionError:
    with pytest.raises(ActionError) as error:
        call(*args, **kwargs)
    assert error.value.code == "rate_limited"
    return error.value


def send(user, room, body="hello", **fields):
    return actions.send_message(user, room.id, body=body, **fields)[0]


# --- The table ------------------------------------------------------------------------


def test_every_budget_names_a_limit_and_a_window_that_are_settings(settings):
    for name, budget in BUDGETS.items():
        assert isinstance(getattr(settings, budget.limit_setting), int), name
        assert getattr(settings, budget.window_setting) > 0, name


def test_the_default_limits():
    limits = {
        name: (getattr(defaults, b.limit_setting), getattr(defaults, b.window_setting)) for name, b in BUDGETS.items()
    }
    assert limits == {
        "send": (20, 60),
        "edit": (30, 60),
        "reaction": (60, 60),
        "pin": (20, 60),
        "status": (10, 60),
        "room": (10, 3600),
        "member_add": (100, 3600),
        "member_role": (60, 3600),
        "report": (10, 3600),
        "moderation": (100, 600),
        "room_mention": (5, 3600),
        "invite": (30, 3600),
        "invite_revoke": (60, 3600),
        "invite_accept": (20, 3600),
        "profile": (10, 600),
        "integration": (30, 3600),
        "read": (600, 60),
        "follow": (120, 600),
        "server_invite": (30, 3600),
    }


# --- Read marks and thread follows ---------------------------------------------------------


def test_read_marks_past_the_limit_are_refused_and_move_nothing(ann, bob, group_room, settings):
    for n in range(3):
        send(ann, group_room, f"m{n}")
    settings.RATE_LIMIT_READS = 2
    actions.mark_as_read(bob, group_room.id, 1)
    actions.mark_as_read(bob, group_room.id, 2)
    error = refusal(actions.mark_as_read, bob, group_room.id, 3)
    assert error.message.startswith("Too many read marks: at most 2 every 60 s.")
    assert RoomMember.objects.get(room=group_room, user=bob).last_read_seq == 2


def test_thread_read_marks_share_the_read_budget(ann, bob, group_room, settings):
    root = send(ann, group_room, "root")
    send(ann, group_room, "reply", thread=root["id"])
    settings.RATE_LIMIT_READS = 1
    actions.mark_as_read(bob, group_room.id, 1)
    error = refusal(actions.mark_thread_read, bob, root["id"], 2)
    assert error.message.startswith("Too many read marks")


def test_thread_follows_past_the_limit_are_refused_and_change_nothing(ann, bob, group_room, settings):
    root = send(ann, group_room, "root")
    settings.RATE_LIMIT_FOLLOWS = 2
    actions.follow_thread(bob, root["id"], True)
    actions.follow_thread(bob, root["id"], False)
    error = refusal(actions.follow_thread, bob, root["id"], True)
    assert error.message.startswith("Too many thread follows and unfollows: at most 2 every 600 s.")
    assert ThreadFollow.objects.get(user=bob, root_id=root["id"]).following is False


# --- Edits --------------------------------------------------------------------------------


def test_edits_past_the_limit_are_refused_and_change_nothing(ann, group_room, settings):
    message = send(ann, group_room, "v0")
    settings.RATE_LIMIT_EDITS = 2
    actions.edit_message(ann, message["id"], body="v1")
    actions.edit_message(ann, message["id"], body="v2")
    error = refusal(actions.edit_message, ann, message["id"], body="v3")
    assert error.message == f"Too many edits: at most 2 every 60 s. Try again in {error.extra['retry_after']} s."
    assert 1 <= error.extra["retry_after"] <= 60
    assert Message.objects.get(pk=message["id"]).body == "v2"


def test_editing_one_message_over_and_over_does_not_walk_around_the_send_limit(ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    settings.RATE_LIMIT_EDITS = 2
    message = send(ann, group_room, "v0")
    refusal(send, ann, group_room, "another")
    actions.edit_message(ann, message["id"], body="v1")
    actions.edit_message(ann, message["id"], body="v2")
    error = refusal(actions.edit_message, ann, message["id"], body="v3")
    assert error.message.startswith("Too many edits")


def test_edits_do_not_use_the_send_budget(ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 2
    settings.RATE_LIMIT_EDITS = 5
    message = send(ann, group_room, "v0")
    for n in range(1, 4):
        actions.edit_message(ann, message["id"], body=f"v{n}")
    send(ann, group_room, "second")  # the edits took nothing from the send budget
    assert Message.objects.count() == 2


def test_an_edit_that_changes_nothing_uses_no_slot(ann, group_room, settings):
    message = send(ann, group_room, "same")
    settings.RATE_LIMIT_EDITS = 1
    actions.edit_message(ann, message["id"], body="same")
    actions.edit_message(ann, message["id"], body="changed")
    assert Message.objects.get(pk=message["id"]).body == "changed"


def test_a_refused_edit_uses_no_slot(ann, bob, group_room, settings):
    mine, bobs = send(ann, group_room, "mine"), send(bob, group_room, "bob's")
    settings.RATE_LIMIT_EDITS = 1
    for bad in (
        lambda: actions.edit_message(ann, bobs["id"], body="x"),  # forbidden
        lambda: actions.edit_message(ann, 999999, body="x"),  # not found
        lambda: actions.edit_message(ann, mine["id"], body=""),  # invalid
        lambda: actions.edit_message(ann, mine["id"], body="x" * (settings.MESSAGE_MAX_LENGTH + 1)),  # too long
    ):
        with pytest.raises(ActionError) as error:
            bad()
        assert error.value.code != "rate_limited"
    actions.edit_message(ann, mine["id"], body="edited")


# --- Reactions ----------------------------------------------------------------------------


def test_reactions_past_the_limit_are_refused_adds_and_removes_alike(ann, group_room, settings):
    message = send(ann, group_room)
    settings.RATE_LIMIT_REACTIONS = 2
    actions.set_reaction(ann, message["id"], "👍", True)
    actions.set_reaction(ann, message["id"], "👍", False)
    error = refusal(actions.set_reaction, ann, message["id"], "🎉", True)
    assert error.message.startswith("Too many reactions: at most 2 every 60 s.")
    assert Reaction.objects.count() == 0


def test_a_reaction_with_a_bad_emoji_uses_no_slot(ann, group_room, settings):
    message = send(ann, group_room)
    settings.RATE_LIMIT_REACTIONS = 1
    with pytest.raises(ActionError) as error:
        actions.set_reaction(ann, message["id"], "two words", True)
    assert error.value.code == "invalid"
    actions.set_reaction(ann, message["id"], "👍", True)
    assert Reaction.objects.count() == 1


# --- Pins ----------------------------------------------------------------------------------


def test_pins_past_the_limit_are_refused_pins_and_unpins_alike(ann, group_room, settings):
    first, second = send(ann, group_room, "1"), send(ann, group_room, "2")
    settings.RATE_LIMIT_PINS = 2
    actions.set_pinned(ann, first["id"], True)
    actions.set_pinned(ann, first["id"], False)
    error = refusal(actions.set_pinned, ann, second["id"], True)
    assert error.message.startswith("Too many pins and unpins: at most 2 every 60 s.")
    assert not Message.objects.get(pk=second["id"]).pinned


def test_a_forbidden_pin_uses_no_slot(ann, bob, group_room, settings):
    message = send(ann, group_room)
    Room.objects.filter(pk=group_room.pk).update(members_can_pin=False)
    settings.RATE_LIMIT_PINS = 1
    with pytest.raises(ActionError) as error:
        actions.set_pinned(bob, message["id"], True)
    assert error.value.code == "forbidden"
    RoomMember.objects.filter(room=group_room, user=bob).update(role=RoomMember.Role.ADMIN)
    actions.set_pinned(bob, message["id"], True)
    assert Message.objects.get(pk=message["id"]).pinned


# --- Status ---------------------------------------------------------------------------------


def test_status_changes_past_the_limit_are_refused(ann, settings):
    settings.RATE_LIMIT_STATUS = 2
    presence_actions.update_status(ann, {"status": "away"})
    presence_actions.update_status(ann, {"status": "busy"})
    error = refusal(presence_actions.update_status, ann, {"status": "online"})
    assert error.message.startswith("Too many status changes: at most 2 every 60 s.")
    assert Presence.objects.get(user=ann).status == "busy"


def test_a_bad_status_uses_no_slot(ann, settings):
    settings.RATE_LIMIT_STATUS = 1
    with pytest.raises(ActionError):
        presence_actions.update_status(ann, {"status": "asleep"})
    presence_actions.update_status(ann, {"status": "away"})
    assert Presence.objects.get(user=ann).status == "away"


# --- Rooms and members ----------------------------------------------------------------------


def test_room_creation_past_the_limit_is_refused(ann, settings):
    settings.RATE_LIMIT_ROOMS = 2
    actions.create_group_room(ann, name="one")
    actions.create_group_room(ann, name="two")
    error = refusal(actions.create_group_room, ann, name="three")
    assert error.message.startswith("Too many new rooms: at most 2 every 3600 s.")
    assert 1 <= error.extra["retry_after"] <= 3600
    assert sorted(Room.objects.values_list("name", flat=True)) == ["one", "two"]


def test_a_new_direct_room_counts_against_the_room_limit_and_opening_it_again_does_not(ann, bob, cat, settings):
    settings.RATE_LIMIT_ROOMS = 1
    actions.get_or_create_direct_room(ann, bob.id)
    _, created = actions.get_or_create_direct_room(ann, bob.id)
    assert created is False
    refusal(actions.get_or_create_direct_room, ann, cat.id)
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1


def test_a_refused_room_creation_uses_no_slot(ann, settings):
    settings.RATE_LIMIT_ROOMS = 1
    with pytest.raises(ActionError) as error:
        actions.create_group_room(ann, name="")
    assert error.value.code == "invalid"
    actions.create_group_room(ann, name="kept")


def test_member_adds_past_the_limit_are_refused(ann, make_user, settings):
    room = actions.create_group_room(ann, name="team")
    first, second = make_user("first"), make_user("second")
    settings.RATE_LIMIT_MEMBER_ADDS = 1
    actions.add_member(ann, room["id"], first.id)
    error = refusal(actions.add_member, ann, room["id"], second.id)
    assert error.message.startswith("Too many members added: at most 1 every 3600 s.")
    assert not RoomMember.objects.filter(room_id=room["id"], user=second).exists()


def test_adding_someone_already_in_the_room_is_a_conflict_that_uses_no_slot(ann, bob, cat, group_room, settings):
    settings.RATE_LIMIT_MEMBER_ADDS = 1
    with pytest.raises(ActionError) as error:
        actions.add_member(ann, group_room.id, bob.id)
    assert error.value.code == "conflict"
    actions.add_member(ann, group_room.id, cat.id)


def test_a_new_rooms_members_count_against_the_member_add_limit(ann, make_user, settings):
    people = [make_user(f"p{n}").id for n in range(3)]
    settings.RATE_LIMIT_MEMBER_ADDS = 4
    actions.create_group_room(ann, name="three", members=people)
    error = refusal(actions.create_group_room, ann, name="two more", members=people[:2])
    assert error.message.startswith("Too many members added: at most 4 every 3600 s.")
    assert Room.objects.count() == 1


def test_a_room_refused_for_its_members_takes_no_room_slot(ann, make_user, settings):
    people = [make_user(f"p{n}").id for n in range(3)]
    settings.RATE_LIMIT_ROOMS = 1
    settings.RATE_LIMIT_MEMBER_ADDS = 2
    refusal(actions.create_group_room, ann, name="too many", members=people)
    actions.create_group_room(ann, name="fits", members=people[:2])  # the refused one took no room slot
    assert list(Room.objects.values_list("name", flat=True)) == ["fits"]


@pytest.fixture
def moderator(make_user):
    from django.contrib.auth.models import Permission

    user = make_user("maud", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    return user


def test_restores_past_the_moderation_limit_are_refused_and_the_message_stays_deleted(
    moderator, ann, group_room, settings
):
    first, second = send(ann, group_room, "one"), send(ann, group_room, "two")
    for message in (first, second):
        actions.delete_message(ann, message["id"])
    settings.RATE_LIMIT_MODERATION = 1
    actions.restore_message(moderator, first["id"])
    error = refusal(actions.restore_message, moderator, second["id"])
    assert error.message.startswith("Too many moderation actions: at most 1 every 600 s.")
    assert Message.objects.get(pk=second["id"]).deleted_at is not None


def test_mutes_and_unmutes_take_the_moderation_budget_and_a_refused_one_changes_nothing(
    moderator, bob, cat, ann, group_room, settings
):
    actions.add_member(ann, group_room.id, cat.id)
    settings.RATE_LIMIT_MODERATION = 2
    mute_member(moderator, group_room.id, bob.id, minutes=10, reason="spam")
    unmute_member(moderator, group_room.id, bob.id)
    error = refusal(mute_member, moderator, group_room.id, cat.id, minutes=10)
    assert error.message.startswith("Too many moderation actions: at most 2 every 600 s.")
    assert RoomMember.objects.get(room=group_room, user=cat).send_muted_until is None


def test_role_changes_past_the_limit_are_refused_and_change_nothing(ann, bob, cat, group_room, settings):
    actions.add_member(ann, group_room.id, cat.id)
    settings.RATE_LIMIT_ROLE_CHANGES = 2
    actions.set_member_role(ann, group_room.id, bob.id, "admin")
    actions.set_member_role(ann, group_room.id, bob.id, "member")
    error = refusal(actions.set_member_role, ann, group_room.id, cat.id, "admin")
    assert error.message.startswith("Too many role changes: at most 2 every 3600 s.")
    assert RoomMember.objects.get(room=group_room, user=cat).role == "member"


def test_setting_the_role_a_member_has_uses_no_role_change_slot(ann, bob, group_room, settings):
    settings.RATE_LIMIT_ROLE_CHANGES = 1
    actions.set_member_role(ann, group_room.id, bob.id, "member")
    actions.set_member_role(ann, group_room.id, bob.id, "admin")
    assert RoomMember.objects.get(room=group_room, user=bob).role == "admin"


def test_more_members_at_once_than_the_cap_is_invalid_naming_the_limit(ann, make_user, settings):
    settings.ROOM_MEMBERS_ADD_MAX = 2
    people = [make_user(f"p{n}").id for n in range(3)]
    with pytest.raises(ActionError) as error:
        actions.create_group_room(ann, name="crowd", members=people)
    assert error.value.code == "invalid"
    assert error.value.message == "`members` lists 3 people: at most 2 (ROOM_MEMBERS_ADD_MAX) at once."
    assert Room.objects.count() == 0
    actions.create_group_room(ann, name="pair", members=people[:2])


# --- Reports ---------------------------------------------------------------------------------


def test_reports_past_the_limit_are_refused(ann, bob, group_room, api_for, settings):
    messages = [send(bob, group_room, f"spam {n}") for n in range(3)]
    settings.RATE_LIMIT_REPORTS = 2
    client = api_for(ann)
    for message in messages[:2]:
        response = client.post(f"/api/v1/messages/{message['id']}/report/", {"reason": "spam"}, format="json")
        assert response.status_code == 201
    response = client.post(f"/api/v1/messages/{messages[2]['id']}/report/", {"reason": "spam"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.json()["message"].startswith("Too many reports: at most 2 every 3600 s.")
    assert Report.objects.count() == 2


def test_a_refused_report_uses_no_slot(ann, bob, group_room, api_for, settings):
    mine, bobs = send(ann, group_room, "mine"), send(bob, group_room, "bob's")
    settings.RATE_LIMIT_REPORTS = 1
    client = api_for(ann)
    own = client.post(f"/api/v1/messages/{mine['id']}/report/", {"reason": "x"}, format="json")
    assert own.status_code == 400
    assert client.post(f"/api/v1/messages/{bobs['id']}/report/", {"reason": "x"}, format="json").status_code == 201


# --- @room / @here ----------------------------------------------------------------------------


def test_room_mentions_past_the_limit_are_refused_and_store_nothing(ann, group_room, settings):
    settings.RATE_LIMIT_ROOM_MENTIONS = 1
    send(ann, group_room, "@room lunch?")
    error = refusal(send, ann, group_room, "@here anyone?")
    assert error.message.startswith("Too many @room/@here mentions: at most 1 every 3600 s.")
    assert Message.objects.count() == 1


def test_a_send_refused_for_its_room_mention_takes_no_send_slot(ann, group_room, settings):
    settings.RATE_LIMIT_ROOM_MENTIONS = 1
    settings.RATE_LIMIT_MESSAGES = 2
    send(ann, group_room, "@room one")
    refusal(send, ann, group_room, "@room two")
    send(ann, group_room, "plain")  # the second send's slot was not taken
    error = refusal(send, ann, group_room, "plain again")
    assert error.message.startswith("Too many messages")


def test_a_room_mention_that_notifies_nobody_is_not_counted(ann, bob, group_room, settings):
    settings.ROOM_MENTION_ADMINS_ONLY = True
    settings.RATE_LIMIT_ROOM_MENTIONS = 1
    send(bob, group_room, "@room from a plain member is text")
    send(bob, group_room, "@room again")
    assert Message.objects.count() == 2


def test_an_edit_that_adds_a_room_mention_counts_against_the_room_mention_limit(ann, group_room, settings):
    settings.RATE_LIMIT_ROOM_MENTIONS = 1
    send(ann, group_room, "@room first")
    plain = send(ann, group_room, "plain")
    error = refusal(actions.edit_message, ann, plain["id"], body="@room now")
    assert error.message.startswith("Too many @room/@here mentions")
    assert Message.objects.get(pk=plain["id"]).body == "plain"


# --- Sends: a refused send uses no slot --------------------------------------------------------


def test_a_send_with_an_attachment_that_is_not_the_senders_uses_no_slot(ann, bob, group_room, settings):
    bobs_upload = Upload.objects.create(owner=bob, original_name="b.txt", content_type="text/plain", size=1)
    settings.RATE_LIMIT_MESSAGES = 1
    with pytest.raises(ActionError) as error:
        send(ann, group_room, "look", attachments=[bobs_upload.id])
    assert error.value.code == "invalid"
    assert error.value.message == "Some `attachments` are not your uploads, or are attached to another message already."
    send(ann, group_room, "the one allowed send")
    assert Message.objects.count() == 1


# --- Switching off, sharing, transports -----------------------------------------------------------


def test_a_limit_of_zero_switches_a_budget_off(ann, group_room, settings):
    message = send(ann, group_room)
    settings.RATE_LIMIT_EDITS = 0
    for n in range(40):
        actions.edit_message(ann, message["id"], body=f"v{n}")
    assert Message.objects.get(pk=message["id"]).body == "v39"


def test_a_budget_is_shared_through_redis(ann, group_room, settings, redis_url):
    message = send(ann, group_room)
    settings.RATE_LIMIT_REACTIONS = 1
    actions.set_reaction(ann, message["id"], "👍", True)
    reset_local()  # another process has no local memory of the reaction
    refusal(actions.set_reaction, ann, message["id"], "🎉", True)


@pytest.mark.parametrize("store", ["redis", "embedded", "cluster"])
def test_taking_several_budgets_is_all_or_nothing(ann, settings, store, request):
    # On a cluster the budgets' keys must share a slot (one script), or Redis refuses and the limiter fails open.
    request.getfixturevalue({"redis": "redis_url", "embedded": "embedded", "cluster": "cluster_redis_url"}[store])
    settings.RATE_LIMIT_ROOMS = 5
    settings.RATE_LIMIT_MEMBER_ADDS = 3
    take_slots(ann.id, room=1, member_add=2)
    error = refusal(take_slots, ann.id, room=1, member_add=2)
    assert error.message.startswith("Too many members added")
    take_slots(ann.id, room=4, member_add=1)  # the refusal took none of the 5 room slots
    refusal(take_slots, ann.id, room=1)


@pytest.mark.parametrize("store", ["redis", "embedded"])
def test_more_slots_at_once_than_a_limit_is_refused_for_a_whole_window(ann, settings, store, request):
    request.getfixturevalue("redis_url" if store == "redis" else "embedded")
    settings.RATE_LIMIT_MEMBER_ADDS = 3
    error = refusal(take_slots, ann.id, member_add=4)
    assert error.extra["retry_after"] == 3600


def test_rest_refuses_with_429_and_retry_after(ann, group_room, api_for, settings):
    message = send(ann, group_room)
    settings.RATE_LIMIT_EDITS = 1
    client = api_for(ann)
    assert client.patch(f"/api/v1/messages/{message['id']}/", {"body": "v1"}, format="json").status_code == 200
    response = client.patch(f"/api/v1/messages/{message['id']}/", {"body": "v2"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= response.json()["retry_after"] <= 60
    assert response["Retry-After"] == str(response.json()["retry_after"])


async def test_the_socket_refuses_with_an_error_carrying_retry_after(ws_connect, ann, group_room, settings):
    message = await database_sync_to_async(send)(ann, group_room)
    settings.RATE_LIMIT_REACTIONS = 1
    ws = await ws_connect(ann)
    await ws.send_json_to({"type": "add_reaction", "id": "r1", "data": {"message": message["id"], "emoji": "👍"}})
    assert (await receive_until(ws, "ack", request_id="r1"))["id"] == "r1"
    await ws.send_json_to({"type": "add_reaction", "id": "r2", "data": {"message": message["id"], "emoji": "🎉"}})
    frame = await receive_until(ws, "error", request_id="r2")
    retry_after = frame["data"]["retry_after"]
    assert 1 <= retry_after <= 60
    assert frame["data"] == {
        "code": "rate_limited",
        "message": f"Too many reactions: at most 1 every 60 s. Try again in {retry_after} s.",
        "retry_after": retry_after,
    }
