"""Slash commands: read by chat's send check, so REST and the socket run them alike."""

import pytest
from channels.db import database_sync_to_async

from chat import actions
from chat.models import Message, Room, RoomMember
from integrations.models import Delivery, OutgoingWebhook
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


def send(api_for, user, room, body, **fields):
    return api_for(user).post(f"/api/v1/rooms/{room.id}/messages/", {"body": body, **fields}, format="json")


def texts(room) -> list[str]:
    return list(Message.objects.filter(room=room).exclude(kind=Message.Kind.SYSTEM).values_list("body", flat=True))


def test_me_sends_an_action_line(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/me waves")
    assert response.status_code == 201
    assert response.json()["body"] == "/me waves" and response.json()["kind"] == "text"


def test_me_without_text_is_invalid_and_sends_nothing(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/me")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert texts(group_room) == []


def test_shrug_appends_the_shrug(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/shrug no idea")
    assert response.status_code == 201
    assert "<p>no idea ¯\\_(ツ)_/¯</p>" in response.json()["body_html"]


def test_shrug_alone_is_the_shrug(api_for, ann, group_room):
    assert "<p>¯\\_(ツ)_/¯</p>" in send(api_for, ann, group_room, "/shrug").json()["body_html"]


def test_a_double_slash_sends_the_literal_text(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "//etc/hosts is the file")
    assert response.status_code == 201 and response.json()["body"] == "/etc/hosts is the file"


def test_an_unknown_command_is_refused_with_its_code_and_stores_nothing(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/frobnicate now")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_command" and "/frobnicate" in response.json()["detail"]
    assert texts(group_room) == []


def test_a_slash_in_a_code_message_is_not_a_command(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/usr/bin/env python", kind="code")
    assert response.status_code == 201 and response.json()["body"] == "/usr/bin/env python"


def test_topic_sets_the_room_topic_through_the_room_action(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/topic Release day")
    assert response.status_code == 200
    assert response.json()["command"] == "topic" and response.json()["result"]["room"]["topic"] == "Release day"
    assert Room.objects.get(pk=group_room.pk).topic == "Release day"
    assert texts(group_room) == []


def test_topic_from_a_member_who_is_not_admin_is_forbidden(api_for, bob, group_room):
    response = send(api_for, bob, group_room, "/topic Mine now")
    assert response.status_code == 403 and Room.objects.get(pk=group_room.pk).topic == ""


def test_invite_adds_the_named_user(api_for, ann, cat, group_room):
    response = send(api_for, ann, group_room, "/invite @cat")
    assert response.status_code == 200 and response.json()["result"]["member"]["user"]["id"] == cat.id
    assert RoomMember.objects.filter(room=group_room, user=cat).exists()


def test_invite_of_an_unknown_user_is_not_found(api_for, ann, group_room):
    response = send(api_for, ann, group_room, "/invite @nobody")
    assert response.status_code == 404 and RoomMember.objects.filter(room=group_room).count() == 2


def test_invite_of_a_member_is_a_conflict(api_for, ann, bob, group_room):
    assert send(api_for, ann, group_room, "/invite bob").status_code == 409


def test_invite_without_a_name_is_invalid(api_for, ann, group_room):
    assert send(api_for, ann, group_room, "/invite").json()["code"] == "invalid"


def test_leave_leaves_the_room(api_for, bob, group_room):
    response = send(api_for, bob, group_room, "/leave")
    assert response.status_code == 200 and response.json() == {"command": "leave", "result": {}}
    assert not RoomMember.objects.filter(room=group_room, user=bob).exists()


def test_mute_and_unmute_set_the_callers_own_mute(api_for, bob, group_room):
    assert send(api_for, bob, group_room, "/mute").json()["result"]["room"]["muted"] is True
    assert RoomMember.objects.get(room=group_room, user=bob).muted is True
    assert send(api_for, bob, group_room, "/unmute").json()["result"]["room"]["muted"] is False
    assert RoomMember.objects.get(room=group_room, user=bob).muted is False


def test_a_command_with_a_reply_to_is_invalid_and_runs_nothing(api_for, bob, group_room):
    response = send(api_for, bob, group_room, "/leave", reply_to=1)
    assert response.status_code == 400 and RoomMember.objects.filter(room=group_room, user=bob).exists()


def test_a_custom_command_is_queued_for_its_url_and_stores_no_message(api_for, ann, bob, group_room):
    created = api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/",
        {"command": "deploy", "url": "http://127.0.0.1:9/x"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["command"] == "deploy" and created.json()["secret"]
    response = send(api_for, bob, group_room, "/deploy staging")
    assert response.status_code == 200 and response.json() == {
        "command": "deploy",
        "result": {"queued": 1, "dropped": 0},
    }
    delivery = Delivery.objects.get()
    assert delivery.payload["command"] == "deploy" and delivery.payload["text"] == "staging"
    assert delivery.payload["user"]["id"] == bob.id
    assert texts(group_room) == []


def test_a_custom_command_is_only_its_rooms(api_for, ann, group_room):
    other = actions.create_group_room(ann, name="Other")
    api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/", {"command": "deploy", "url": "http://127.0.0.1:9/"}, format="json"
    )
    assert (
        api_for(ann).post(f"/api/v1/rooms/{other['id']}/messages/", {"body": "/deploy"}, format="json").json()["code"]
        == "unknown_command"
    )


@pytest.mark.parametrize(
    "data,code",
    [
        ({"command": "me", "url": "http://127.0.0.1:9/"}, "conflict"),
        ({"command": "Bad Name", "url": "http://127.0.0.1:9/"}, "invalid"),
        ({"command": "deploy", "url": "file:///etc/passwd"}, "invalid"),
        ({"command": "deploy", "url": "ftp://example.com/"}, "invalid"),
        ({"command": "deploy"}, "invalid"),
    ],
)
def test_a_bad_custom_command_is_refused(api_for, ann, group_room, data, code):
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/commands/", data, format="json")
    assert response.json()["code"] == code and not OutgoingWebhook.objects.exists()


def test_a_command_name_is_registered_once_per_room(api_for, ann, group_room):
    client = api_for(ann)
    data = {"command": "deploy", "url": "http://127.0.0.1:9/"}
    codes = [client.post(f"/api/v1/rooms/{group_room.id}/commands/", data, format="json").status_code for _ in "ab"]
    assert codes == [201, 409]


def test_a_revoked_custom_command_is_unknown_again(api_for, ann, group_room):
    created = api_for(ann).post(
        f"/api/v1/rooms/{group_room.id}/commands/", {"command": "deploy", "url": "http://127.0.0.1:9/"}, format="json"
    )
    assert api_for(ann).delete(f"/api/v1/commands/{created.json()['id']}/").status_code == 204
    assert send(api_for, ann, group_room, "/deploy").json()["code"] == "unknown_command"


@pytest.mark.django_db(transaction=True)
async def test_commands_work_from_the_socket_too(ws_connect, ann, bob, group_room):
    ws = await ws_connect(ann)
    await ws.send_json_to({"type": "send_message", "id": "c1", "data": {"room": group_room.id, "body": "/topic Hi"}})
    ack = await receive_until(ws, "ack", request_id="c1")
    assert ack["data"]["command"] == "topic" and ack["data"]["result"]["room"]["topic"] == "Hi"
    await ws.send_json_to({"type": "send_message", "id": "c2", "data": {"room": group_room.id, "body": "/nope"}})
    error = await receive_until(ws, "error", request_id="c2")
    assert error["data"]["code"] == "unknown_command"
    await ws.send_json_to({"type": "send_message", "id": "c3", "data": {"room": group_room.id, "body": "/me waves"}})
    sent = await receive_until(ws, "ack", request_id="c3")
    assert sent["data"]["message"]["body"] == "/me waves"
    assert await database_sync_to_async(texts)(group_room) == ["/me waves"]
