"""Timeline lines: joins, leaves, additions, removals and renames stored as ``system`` messages with their seq."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Permission

from chat import actions
from chat.models import Message, Room, RoomMember
from notifications.triggers import message_may_notify
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0


@pytest.fixture
def lobby(ann, bob) -> Room:
    """A public group room owned by Ann with Bob in it, and no timeline lines yet."""
    return Room.objects.get(pk=actions.create_group_room(ann, name="Lobby", is_public=True, members=[bob.id])["id"])


def history(client, room) -> list[dict]:
    return client.get(f"/api/v1/rooms/{room.id}/messages/").json()["messages"]


def lines(client, room) -> list[tuple]:
    return [(m["seq"], m["kind"], m["sender"], m["body"], m["system"]) for m in history(client, room)]


def test_joining_adds_a_joined_line_with_the_next_seq(api_for, bob, cat, lobby):
    actions.send_message(bob, lobby.id, body="hello")

    actions.join_room(cat, lobby.id)

    assert lines(api_for(bob), lobby)[-1] == (
        2,
        "system",
        None,
        "Cat joined",
        {"event": "joined", "actor": cat.id, "target": None, "name": None},
    )


def test_leaving_adds_a_left_line(api_for, ann, bob, lobby):
    actions.leave_room(bob, lobby.id)

    assert lines(api_for(ann), lobby) == [
        (1, "system", None, "Bob left", {"event": "left", "actor": bob.id, "target": None, "name": None})
    ]


def test_adding_names_who_added_whom(api_for, ann, cat, lobby):
    actions.add_member(ann, lobby.id, cat.id)

    assert lines(api_for(cat), lobby) == [
        (1, "system", None, "Ann added Cat", {"event": "added", "actor": ann.id, "target": cat.id, "name": None})
    ]


def test_removing_names_who_removed_whom(api_for, ann, bob, lobby):
    actions.remove_member(ann, lobby.id, bob.id)

    assert lines(api_for(ann), lobby) == [
        (1, "system", None, "Ann removed Bob", {"event": "removed", "actor": ann.id, "target": bob.id, "name": None})
    ]


def test_removing_your_own_id_is_a_left_line(api_for, ann, bob, lobby):
    api_for(bob).delete(f"/api/v1/rooms/{lobby.id}/members/{bob.id}/")

    assert [line[4]["event"] for line in lines(api_for(ann), lobby)] == ["left"]


def test_a_moderator_outside_the_room_is_named_as_the_remover(api_for, ann, bob, make_user, lobby):
    moderator = make_user("mod", display_name="Mod")
    moderator.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    moderator = type(moderator).objects.get(pk=moderator.pk)

    actions.remove_member(moderator, lobby.id, bob.id)

    assert [(line[3], line[4]["actor"]) for line in lines(api_for(ann), lobby)] == [("Mod removed Bob", moderator.id)]


def test_renaming_adds_a_renamed_line_with_the_new_name(api_for, ann, lobby):
    api_for(ann).patch(f"/api/v1/rooms/{lobby.id}/", {"name": "Hall"}, format="json")

    assert lines(api_for(ann), lobby) == [
        (
            1,
            "system",
            None,
            "Ann renamed the room to Hall",
            {"event": "renamed", "actor": ann.id, "target": None, "name": "Hall"},
        )
    ]


def test_changing_other_room_fields_or_the_same_name_adds_no_line(api_for, ann, lobby):
    client = api_for(ann)
    client.patch(f"/api/v1/rooms/{lobby.id}/", {"name": "Lobby", "topic": "news"}, format="json")

    assert (history(client, lobby), Room.objects.get(pk=lobby.pk).last_seq) == ([], 0)


def test_the_line_is_plain_text_never_markup(api_for, ann, make_user, lobby):
    sly = make_user("sly", display_name="<b>*Sly*</b>")

    actions.join_room(sly, lobby.id)

    message = history(api_for(ann), lobby)[-1]
    assert (message["body"], message["body_html"]) == (
        "<b>*Sly*</b> joined",
        "<p>&lt;b&gt;*Sly*&lt;/b&gt; joined</p>",
    )


def test_a_refused_change_writes_no_line(api_for, ann, bob, lobby):
    response = api_for(ann).post(f"/api/v1/rooms/{lobby.id}/members/", {"user": bob.id}, format="json")

    assert (response.status_code, Message.objects.filter(room=lobby).count()) == (409, 0)
    assert Room.objects.get(pk=lobby.pk).last_seq == 0


def test_the_line_is_read_for_its_actor_and_unread_for_the_others(api_for, ann, bob, cat, lobby):
    actions.add_member(ann, lobby.id, cat.id)

    unread = {
        user.username: next(r["unread"] for r in api_for(user).get("/api/v1/rooms/").json() if r["id"] == lobby.id)
        for user in (ann, bob)
    }
    assert unread == {"ann": 0, "bob": 1}
    assert RoomMember.objects.get(room=lobby, user=ann).last_read_seq == 1


def test_system_lines_never_notify(ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)
    line = Message(room=Room.objects.get(pk=room["id"]), kind=Message.Kind.SYSTEM, body="x", seq=1)

    # Any message of a direct room would notify; a system line does not.
    assert message_may_notify(line, mentioned_user_ids=set(), mentions_room=False) is False


@pytest.fixture
def joined_line(cat, lobby) -> Message:
    actions.join_room(cat, lobby.id)
    return Message.objects.get(room=lobby, kind=Message.Kind.SYSTEM)


def test_a_system_line_cannot_be_edited(api_for, cat, joined_line):
    response = api_for(cat).patch(f"/api/v1/messages/{joined_line.id}/", {"body": "Cat left"}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert Message.objects.get(pk=joined_line.pk).body == "Cat joined"


def test_a_system_line_cannot_be_reacted_to(api_for, bob, joined_line):
    response = api_for(bob).post(f"/api/v1/messages/{joined_line.id}/reactions/", {"emoji": "👋"}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert joined_line.reactions.count() == 0


def test_a_system_line_cannot_be_pinned(api_for, ann, joined_line):
    response = api_for(ann).post(f"/api/v1/messages/{joined_line.id}/pin/")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert Message.objects.get(pk=joined_line.pk).pinned is False


def test_sync_returns_the_lines_missed(ann, cat, lobby):
    from chat import queries

    actions.join_room(cat, lobby.id)

    synced = queries.sync_rooms(ann, {str(lobby.id): 0})
    assert [(m["seq"], m["system"]["event"]) for m in synced["messages"][str(lobby.id)]] == [(1, "joined")]


@pytest.mark.django_db(transaction=True)
async def test_the_room_gets_the_line_as_new_message(ws_connect, bob, cat, lobby):
    ws = await ws_connect(bob)

    await database_sync_to_async(actions.join_room)(cat, lobby.id)

    frame = await receive_until(ws, "new_message")
    message = frame["data"]["message"]
    assert (message["seq"], message["kind"], message["body"], message["system"]) == (
        1,
        "system",
        "Cat joined",
        {"event": "joined", "actor": cat.id, "target": None, "name": None},
    )
