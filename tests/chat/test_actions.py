"""The rules of chat.actions, proved once for both transports.

Events are observed through ``call_collecting_events``: what an action
would hand the channel layer after commit.
"""

import uuid

import orjson
import pytest

from chat import actions
from chat.models import Message, Reaction, Room, RoomMember
from core.errors import ActionError
from core.publishing import call_collecting_events

pytestmark = pytest.mark.django_db(transaction=True)


def events_of(outbox):
    """(group, event type, data) of each collected event."""
    result = []
    for group, message in outbox:
        frame = orjson.loads(message["frame"])
        result.append((group, frame["type"], frame["data"]))
    return result


def send(user, room, body="hello", **kwargs):
    payload, _ = actions.send_message(user, room.id, body=body, **kwargs)
    return payload


# --- send_message ----------------------------------------------------------------


def test_send_stores_the_message_with_the_next_seq(ann, group_room):
    first = send(ann, group_room, "one")
    second = send(ann, group_room, "two")
    assert (first["seq"], second["seq"]) == (1, 2)
    group_room.refresh_from_db()
    assert group_room.last_seq == 2
    assert list(Message.objects.order_by("seq").values_list("body", flat=True)) == ["one", "two"]


def test_send_publishes_new_message_to_the_room_after_commit(ann, group_room):
    (payload, created), outbox = call_collecting_events(actions.send_message, ann, group_room.id, body="hi")
    assert created is True
    assert events_of(outbox) == [(f"room.{group_room.id}", "new_message", {"message": payload})]


def test_send_by_a_non_member_is_not_found_and_stores_nothing(cat, group_room):
    with pytest.raises(ActionError) as error:
        send(cat, group_room)
    assert error.value.code == "not_found"
    assert Message.objects.count() == 0


def test_send_to_an_archived_room_is_not_found(ann, group_room):
    Room.objects.filter(pk=group_room.pk).update(archived=True)
    with pytest.raises(ActionError) as error:
        send(ann, group_room)
    assert error.value.code == "not_found"


def test_send_with_a_repeated_client_id_returns_the_stored_message(ann, group_room):
    client_id = str(uuid.uuid4())
    first, created_first = actions.send_message(ann, group_room.id, body="once", client_id=client_id)
    (again, created_again), outbox = call_collecting_events(
        actions.send_message, ann, group_room.id, body="once", client_id=client_id
    )
    assert (created_first, created_again) == (True, False)
    assert again == first
    assert outbox == []
    assert Message.objects.count() == 1


def test_a_client_id_reused_in_another_room_is_a_conflict(ann, bob, group_room):
    other = Room.objects.get(pk=actions.create_group_room(ann, name="Other")["id"])
    client_id = str(uuid.uuid4())
    send(ann, group_room, client_id=client_id)
    with pytest.raises(ActionError) as error:
        send(ann, other, client_id=client_id)
    assert error.value.code == "conflict"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": ""}, "invalid"),
        ({"body": "   "}, "invalid"),
        ({"body": 42}, "invalid"),
        ({"body": "x", "client_id": "not-a-uuid"}, "invalid"),
        ({"body": "x", "kind": "system"}, "invalid"),
        ({"body": "x", "reply_to": "abc"}, "invalid"),
        ({"body": "x", "attachments": "1"}, "invalid"),
        ({"body": "x", "attachments": list(range(1, 12))}, "too_large"),
    ],
)
def test_send_rejects_bad_fields_and_stores_nothing(ann, group_room, fields, code):
    with pytest.raises(ActionError) as error:
        actions.send_message(ann, group_room.id, **fields)
    assert error.value.code == code
    assert Message.objects.count() == 0
    group_room.refresh_from_db()
    assert group_room.last_seq == 0


def test_send_rejects_a_body_over_the_limit(ann, group_room, settings):
    settings.MESSAGE_MAX_LENGTH = 10
    with pytest.raises(ActionError) as error:
        send(ann, group_room, "x" * 11)
    assert error.value.code == "too_large"


def test_send_rejects_a_reply_to_a_message_of_another_room(ann, group_room):
    other = Room.objects.get(pk=actions.create_group_room(ann, name="Other")["id"])
    elsewhere = send(ann, other)
    with pytest.raises(ActionError) as error:
        send(ann, group_room, reply_to=elsewhere["id"])
    assert error.value.code == "invalid"


def test_a_reply_carries_its_parent(ann, bob, group_room):
    parent = send(ann, group_room, "question")
    reply = send(bob, group_room, "answer", reply_to=parent["id"])
    assert reply["reply_to"] == parent["id"]


def test_code_messages_render_as_code(ann, group_room):
    message = send(ann, group_room, "<b>", kind="code")
    assert (message["kind"], message["body_html"]) == ("code", "<pre><code>&lt;b&gt;</code></pre>")


def test_sending_marks_the_room_read_for_the_sender(ann, bob, group_room):
    send(bob, group_room)
    send(ann, group_room)
    assert RoomMember.objects.get(room=group_room, user=ann).last_read_seq == 2
    assert RoomMember.objects.get(room=group_room, user=bob).last_read_seq == 1


def test_the_send_rate_limit_refuses_with_retry_after(ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 2
    send(ann, group_room)
    send(ann, group_room)
    with pytest.raises(ActionError) as error:
        send(ann, group_room)
    assert error.value.code == "rate_limited"
    assert 1 <= error.value.extra["retry_after"] <= 60
    assert Message.objects.count() == 2


def test_the_rate_limit_is_per_user(ann, bob, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    send(ann, group_room)
    send(bob, group_room)
    assert Message.objects.count() == 2


def test_a_retry_of_a_stored_message_is_not_rate_limited(ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    client_id = str(uuid.uuid4())
    first = send(ann, group_room, client_id=client_id)
    assert send(ann, group_room, client_id=client_id) == first


def test_the_rate_limit_is_shared_through_redis(ann, group_room, settings, redis_url):
    from core.ratelimit import reset_local

    settings.RATE_LIMIT_MESSAGES = 1
    send(ann, group_room)
    reset_local()  # another process has no local memory of the send
    with pytest.raises(ActionError) as error:
        send(ann, group_room)
    assert error.value.code == "rate_limited"


def test_a_member_muted_by_a_moderator_cannot_send(ann, bob, group_room):
    from datetime import timedelta

    from django.utils import timezone

    RoomMember.objects.filter(room=group_room, user=bob).update(send_muted_until=timezone.now() + timedelta(hours=1))
    with pytest.raises(ActionError) as error:
        send(bob, group_room)
    assert error.value.code == "forbidden"
    assert "muted" in error.value.message


def test_mentions_of_members_are_linked(ann, bob, cat, group_room):
    message = send(ann, group_room, "hi @bob and @cat")
    assert f'data-user-id="{bob.id}"' in message["body_html"]
    assert "@cat" in message["body_html"] and f'data-user-id="{cat.id}"' not in message["body_html"]


# --- edit, delete, pin, react ------------------------------------------------------


def test_edit_changes_the_body_and_publishes_message_edited(ann, group_room):
    original = send(ann, group_room, "tpyo")
    edited, outbox = call_collecting_events(actions.edit_message, ann, original["id"], body="typo")
    assert (edited["body"], edited["body_html"]) == ("typo", "<p>typo</p>")
    assert edited["edited_at"] is not None
    assert events_of(outbox) == [
        (
            f"room.{group_room.id}",
            "message_edited",
            {
                "room": group_room.id,
                "message": edited["id"],
                "seq": edited["seq"],
                "body": "typo",
                "body_html": "<p>typo</p>",
                "edited_at": edited["edited_at"],
            },
        )
    ]


def test_only_the_sender_can_edit(ann, bob, group_room):
    original = send(ann, group_room, "mine")
    with pytest.raises(ActionError) as error:
        actions.edit_message(bob, original["id"], body="yours")
    assert error.value.code == "forbidden"
    assert Message.objects.get().body == "mine"


def test_a_deleted_message_cannot_be_edited(ann, group_room):
    original = send(ann, group_room)
    actions.delete_message(ann, original["id"])
    with pytest.raises(ActionError) as error:
        actions.edit_message(ann, original["id"], body="back")
    assert error.value.code == "conflict"


def test_a_non_member_cannot_see_a_message(ann, cat, group_room):
    original = send(ann, group_room)
    for attempt in (
        lambda: actions.edit_message(cat, original["id"], body="x"),
        lambda: actions.delete_message(cat, original["id"]),
        lambda: actions.set_reaction(cat, original["id"], "👍", True),
        lambda: actions.set_pinned(cat, original["id"], True),
    ):
        with pytest.raises(ActionError) as error:
            attempt()
        assert error.value.code == "not_found"


def test_delete_is_soft_and_hides_the_body(ann, group_room):
    original = send(ann, group_room, "secret")
    result, outbox = call_collecting_events(actions.delete_message, ann, original["id"])
    assert result == {"room": group_room.id, "message": original["id"], "seq": 1}
    assert events_of(outbox) == [(f"room.{group_room.id}", "message_deleted", result)]
    stored = Message.objects.get()
    assert stored.body == "secret" and stored.deleted_by == ann and stored.deleted_at is not None


def test_a_member_cannot_delete_anothers_message_but_a_room_admin_can(ann, bob, cat, group_room):
    actions.add_member(ann, group_room.id, cat.id)
    bobs = send(bob, group_room)
    with pytest.raises(ActionError) as error:
        actions.delete_message(cat, bobs["id"])
    assert error.value.code == "forbidden"
    actions.delete_message(ann, bobs["id"])  # Ann owns the room
    assert Message.objects.get(pk=bobs["id"]).deleted_at is not None


def test_deleting_twice_is_not_found(ann, group_room):
    original = send(ann, group_room)
    actions.delete_message(ann, original["id"])
    with pytest.raises(ActionError) as error:
        actions.delete_message(ann, original["id"])
    assert error.value.code == "not_found"


def test_reactions_count_per_emoji_and_are_idempotent(ann, bob, group_room):
    original = send(ann, group_room)
    actions.set_reaction(ann, original["id"], "👍", True)
    actions.set_reaction(ann, original["id"], "👍", True)
    message, outbox = call_collecting_events(actions.set_reaction, bob, original["id"], "👍", True)
    assert message["reactions"] == [{"emoji": "👍", "count": 2, "users": [ann.id, bob.id]}]
    change = {"room": group_room.id, "message": original["id"], "emoji": "👍", "user": bob.id}
    assert events_of(outbox) == [(f"room.{group_room.id}", "reaction_added", {**change, "count": 2})]
    message, outbox = call_collecting_events(actions.set_reaction, bob, original["id"], "👍", False)
    assert message["reactions"] == [{"emoji": "👍", "count": 1, "users": [ann.id]}]
    assert events_of(outbox) == [(f"room.{group_room.id}", "reaction_removed", {**change, "count": 1})]
    _, outbox = call_collecting_events(actions.set_reaction, bob, original["id"], "👍", False)
    assert outbox == []


@pytest.mark.parametrize("emoji", ["", " ", "a b", "<b>", "x" * 33, None, 5])
def test_bad_emoji_are_refused(ann, group_room, emoji):
    original = send(ann, group_room)
    with pytest.raises(ActionError) as error:
        actions.set_reaction(ann, original["id"], emoji, True)
    assert error.value.code == "invalid"
    assert Reaction.objects.count() == 0


def test_members_pin_where_the_room_allows_it(ann, bob, group_room):
    original = send(ann, group_room)
    message, outbox = call_collecting_events(actions.set_pinned, bob, original["id"], True)
    assert message["pinned"] is True
    pinned_at = Message.objects.get(pk=original["id"]).pinned_at.isoformat().replace("+00:00", "Z")
    assert events_of(outbox) == [
        (
            f"room.{group_room.id}",
            "message_pinned",
            {"room": group_room.id, "message": original["id"], "seq": 1, "pinned_by": bob.id, "pinned_at": pinned_at},
        )
    ]


def test_only_admins_pin_where_the_room_forbids_members(ann, bob, group_room):
    Room.objects.filter(pk=group_room.pk).update(members_can_pin=False)
    original = send(ann, group_room)
    with pytest.raises(ActionError) as error:
        actions.set_pinned(bob, original["id"], True)
    assert error.value.code == "forbidden"
    assert actions.set_pinned(ann, original["id"], True)["pinned"] is True
    message, outbox = call_collecting_events(actions.set_pinned, ann, original["id"], False)
    assert message["pinned"] is False
    assert events_of(outbox) == [
        (
            f"room.{group_room.id}",
            "message_unpinned",
            {"room": group_room.id, "message": original["id"], "seq": 1, "pinned_by": None, "pinned_at": None},
        )
    ]


# --- read marks ----------------------------------------------------------------------


def test_mark_as_read_moves_forward_and_reports_unread(ann, bob, group_room):
    for _ in range(3):
        send(ann, group_room)
    result, outbox = call_collecting_events(actions.mark_as_read, bob, group_room.id, 2)
    assert result == {"room": group_room.id, "last_read_seq": 2, "unread": 1}
    assert events_of(outbox) == [
        (f"room.{group_room.id}", "messages_read", {"room": group_room.id, "user": bob.id, "last_read_seq": 2})
    ]


def test_mark_as_read_never_moves_back_and_clamps_to_the_last_seq(ann, bob, group_room):
    send(ann, group_room)
    assert actions.mark_as_read(bob, group_room.id, 99)["last_read_seq"] == 1
    result, outbox = call_collecting_events(actions.mark_as_read, bob, group_room.id, 0)
    assert result["last_read_seq"] == 1
    assert outbox == []


def test_unread_skips_deleted_messages(ann, bob, group_room):
    first = send(ann, group_room)
    send(ann, group_room)
    actions.delete_message(ann, first["id"])
    assert actions.mark_as_read(bob, group_room.id, 0)["unread"] == 1


@pytest.mark.parametrize("seq", ["x", -1, None, 1.5j])
def test_mark_as_read_rejects_a_bad_seq(bob, group_room, seq):
    with pytest.raises(ActionError) as error:
        actions.mark_as_read(bob, group_room.id, seq)
    assert error.value.code == "invalid"


# --- rooms and members --------------------------------------------------------------


def test_a_direct_room_is_created_once_for_a_pair(ann, bob):
    first, created = actions.get_or_create_direct_room(ann, bob.id)
    again, created_again = actions.get_or_create_direct_room(bob, ann.id)
    assert (created, created_again) == (True, False)
    assert first["id"] == again["id"]
    assert Room.objects.filter(kind="direct").count() == 1


def test_creating_a_room_announces_it_to_every_member(ann, bob):
    payload, outbox = call_collecting_events(actions.create_group_room, ann, name="Team", members=[bob.id])
    announced = {(group, event["type"]) for group, event in outbox}
    assert announced == {(f"user.{ann.id}", "chat.membership"), (f"user.{bob.id}", "chat.membership")}
    assert all(event["added"] and event["room"] == payload["id"] for _, event in outbox)


def test_joining_a_public_room_starts_with_nothing_unread(ann, bob, cat):
    room = actions.create_group_room(ann, name="Lobby", is_public=True)
    Room.objects.filter(pk=room["id"]).update()
    send(ann, Room.objects.get(pk=room["id"]))
    detail, outbox = call_collecting_events(actions.join_room, cat, room["id"])
    # Seq 1 is Ann's message, seq 2 the "Cat joined" line: both read.
    assert detail["unread"] == 0 and detail["last_read_seq"] == 2
    assert "member_joined" in {orjson.loads(e["frame"])["type"] for _, e in outbox if "frame" in e}


def test_a_private_room_cannot_be_joined(cat, group_room):
    with pytest.raises(ActionError) as error:
        actions.join_room(cat, group_room.id)
    assert error.value.code == "not_found"


def test_leaving_tells_the_room_and_the_leavers_connections(bob, group_room):
    _, outbox = call_collecting_events(actions.leave_room, bob, group_room.id)
    kinds = [(group, event["type"]) for group, event in outbox]
    assert sorted(kinds) == sorted(
        [
            (f"room.{group_room.id}", "chat.frame"),
            (f"room.{group_room.id}", "chat.frame"),
            (f"user.{bob.id}", "chat.membership"),
        ]
    )
    frames = [orjson.loads(event["frame"])["type"] for _, event in outbox if "frame" in event]
    assert sorted(frames) == ["member_left", "new_message", "room_removed"]  # new_message: the "Bob left" line
    assert not RoomMember.objects.filter(room=group_room, user=bob).exists()


def test_an_owner_who_leaves_hands_the_room_on(ann, bob, group_room):
    actions.leave_room(ann, group_room.id)
    assert RoomMember.objects.get(room=group_room, user=bob).role == "owner"


def test_a_direct_room_cannot_be_left(ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)
    with pytest.raises(ActionError) as error:
        actions.leave_room(ann, room["id"])
    assert error.value.code == "forbidden"


def test_members_cannot_add_to_a_private_room(bob, cat, group_room):
    with pytest.raises(ActionError) as error:
        actions.add_member(bob, group_room.id, cat.id)
    assert error.value.code == "forbidden"


def test_nobody_removes_the_owner(ann, bob, group_room):
    RoomMember.objects.filter(room=group_room, user=bob).update(role="admin")
    with pytest.raises(ActionError) as error:
        actions.remove_member(bob, group_room.id, ann.id)
    assert error.value.code == "forbidden"


def test_creating_a_room_announces_it_in_the_same_number_of_queries_for_3_or_30_members(make_user, ann):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_create(member_count):
        members = [make_user().id for _ in range(member_count)]
        with CaptureQueriesContext(connection) as captured:
            _, outbox = call_collecting_events(actions.create_group_room, ann, name="Team", members=members)
        assert len(outbox) == member_count + 1  # one room_added per member, the owner included
        return len(captured.captured_queries)

    assert queries_to_create(3) == queries_to_create(30)
