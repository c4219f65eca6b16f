"""REST changes reach the room's WebSocket connections exactly as the socket's own requests do.

Each REST call here is made by one member; another member's open socket must
receive the contract's event with the same payload the REST answer carries.
"""

import uuid

import pytest
from asgiref.sync import sync_to_async

from chat import actions
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def call(client, method: str, url: str, data=None):
    return sync_to_async(getattr(client, method))(url, data, format="json")


async def test_rest_send_broadcasts_new_message_with_the_answered_payload(api_for, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    response = await call(
        api_for(ann), "post", f"/api/v1/rooms/{group_room.id}/messages/", {"body": "hi", "client_id": str(uuid.uuid4())}
    )

    event = await receive_until(bob_ws, "new_message")
    assert response.status_code == 201
    assert event["data"]["message"] == response.json()


async def test_rest_send_retry_broadcasts_nothing_new(api_for, ws_connect, ann, bob, group_room):
    client_id = str(uuid.uuid4())
    client = api_for(ann)
    url = f"/api/v1/rooms/{group_room.id}/messages/"
    bob_ws = await ws_connect(bob)
    await call(client, "post", url, {"body": "once", "client_id": client_id})
    await receive_until(bob_ws, "new_message")

    retry = await call(client, "post", url, {"body": "once", "client_id": client_id})

    assert retry.status_code == 200
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_rest_edit_delete_react_and_pin_reach_the_room(api_for, ws_connect, ann, bob, group_room):
    sent, _ = await sync_to_async(actions.send_message)(ann, group_room.id, body="first")
    bob_ws = await ws_connect(bob)
    client = api_for(ann)
    message_url = f"/api/v1/messages/{sent['id']}/"

    edited = (await call(client, "patch", message_url, {"body": "edited"})).json()
    assert (await receive_until(bob_ws, "message_edited"))["data"] == {
        "room": group_room.id,
        "message": sent["id"],
        "seq": 1,
        "body": edited["body"],
        "body_html": edited["body_html"],
        "edited_at": edited["edited_at"],
    }

    reaction = {"room": group_room.id, "message": sent["id"], "emoji": "👍", "user": ann.id}
    reacted = (await call(client, "post", f"{message_url}reactions/", {"emoji": "👍"})).json()
    assert reacted["reactions"] == [{"emoji": "👍", "count": 1, "users": [ann.id]}]  # the caller gets it whole
    assert (await receive_until(bob_ws, "reaction_added"))["data"] == {**reaction, "count": 1}

    unreacted = (await call(client, "delete", f"{message_url}reactions/", {"emoji": "👍"})).json()
    assert unreacted["reactions"] == []
    assert (await receive_until(bob_ws, "reaction_removed"))["data"] == {**reaction, "count": 0}

    pinned = (await call(client, "post", f"{message_url}pin/")).json()
    assert pinned["pinned"] is True
    pin_event = (await receive_until(bob_ws, "message_pinned"))["data"]
    assert (pin_event["message"], pin_event["pinned_by"]) == (sent["id"], ann.id)

    unpinned = (await call(client, "delete", f"{message_url}pin/")).json()
    assert unpinned["pinned"] is False
    unpin_event = (await receive_until(bob_ws, "message_unpinned"))["data"]
    assert (unpin_event["message"], unpin_event["pinned_by"], unpin_event["pinned_at"]) == (sent["id"], None, None)

    await call(client, "delete", message_url)
    deleted = await receive_until(bob_ws, "message_deleted")
    assert deleted["data"] == {"room": group_room.id, "message": sent["id"], "seq": 1}


async def test_rest_read_tells_the_room(api_for, ws_connect, ann, bob, group_room):
    await sync_to_async(actions.send_message)(ann, group_room.id, body="read me")
    ann_ws = await ws_connect(ann)

    await call(api_for(bob), "post", f"/api/v1/rooms/{group_room.id}/read/", {"seq": 1})

    event = await receive_until(ann_ws, "messages_read")
    assert event["data"] == {"room": group_room.id, "user": bob.id, "last_read_seq": 1}


async def test_rest_member_add_and_remove_follow_the_users_socket(api_for, ws_connect, ann, cat, group_room):
    cat_ws = await ws_connect(cat)
    client = api_for(ann)

    await call(client, "post", f"/api/v1/rooms/{group_room.id}/members/", {"user": cat.id})
    added = await receive_until(cat_ws, "room_added")
    await sync_to_async(actions.send_message)(ann, group_room.id, body="welcome")
    welcome = await receive_until(cat_ws, "new_message")

    await call(client, "delete", f"/api/v1/rooms/{group_room.id}/members/{cat.id}/")
    removed = await receive_until(cat_ws, "room_removed")

    assert added["data"]["room"]["id"] == group_room.id
    assert welcome["data"]["message"]["body"] == "welcome"
    assert removed["data"] == {"room": group_room.id}


async def test_rest_room_change_broadcasts_room_updated(api_for, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    await call(api_for(ann), "patch", f"/api/v1/rooms/{group_room.id}/", {"topic": "Launch day"})

    event = await receive_until(bob_ws, "room_updated")
    assert event["data"]["room"]["topic"] == "Launch day"


async def test_rest_failed_patch_broadcasts_nothing(api_for, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    response = await call(
        api_for(ann), "patch", f"/api/v1/rooms/{group_room.id}/", {"topic": "Launch day", "notify_level": "bogus"}
    )

    assert response.status_code == 400
    assert await bob_ws.receive_nothing(timeout=0.3)


async def test_rest_and_socket_sends_share_one_rate_limit(api_for, ws_connect, ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 3
    ann_ws = await ws_connect(ann)
    for n in range(2):
        await ann_ws.send_json_to(
            {
                "type": "send_message",
                "id": f"s{n}",
                "data": {"room": group_room.id, "body": f"socket {n}", "client_id": str(uuid.uuid4())},
            }
        )
        await receive_until(ann_ws, "ack", request_id=f"s{n}")
    url = f"/api/v1/rooms/{group_room.id}/messages/"
    client = api_for(ann)

    third = await call(client, "post", url, {"body": "rest 1", "client_id": str(uuid.uuid4())})
    fourth = await call(client, "post", url, {"body": "rest 2", "client_id": str(uuid.uuid4())})

    assert third.status_code == 201
    assert fourth.status_code == 429
    assert fourth.json()["code"] == "rate_limited"


PER_MEMBER_FIELDS = {"role", "unread", "last_read_seq", "notify_level", "muted", "last_message"}


async def test_room_updated_carries_no_per_member_fields(api_for, ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)

    await call(api_for(ann), "patch", f"/api/v1/rooms/{group_room.id}/", {"topic": "Launch day"})

    event = await receive_until(bob_ws, "room_updated")
    assert not set(event["data"]["room"]) & PER_MEMBER_FIELDS


async def test_own_settings_reach_the_users_other_connections_with_only_what_changed(
    api_for, ws_connect, ann, bob, group_room
):
    ann_ws = await ws_connect(ann)
    other_tab = await ws_connect(bob)
    await receive_until(ann_ws, "user_online")

    response = await call(
        api_for(bob), "patch", f"/api/v1/rooms/{group_room.id}/", {"muted": True, "notify_level": "all"}
    )

    assert response.status_code == 200
    event = await receive_until(other_tab, "membership_updated")
    assert event["data"] == {"room": group_room.id, "muted": True}  # notify_level was "all" already
    assert await ann_ws.receive_nothing(timeout=0.3)  # nobody else's business


async def test_own_settings_set_to_what_they_are_announce_nothing(api_for, ws_connect, bob, group_room):
    other_tab = await ws_connect(bob)

    response = await call(api_for(bob), "patch", f"/api/v1/rooms/{group_room.id}/", {"muted": False})

    assert response.status_code == 200
    assert await other_tab.receive_nothing(timeout=0.3)


async def test_the_mute_command_reaches_the_users_other_connections(ws_connect, bob, group_room):
    other_tab = await ws_connect(bob)

    await sync_to_async(actions.send_message)(bob, group_room.id, body="/mute")

    event = await receive_until(other_tab, "membership_updated")
    assert event["data"] == {"room": group_room.id, "muted": True}
