"""Every registered server event is produced by the real actions and consumer, and matches its schema.

One session of two members walks through every request of the protocol;
the frame check (tests/event_schema.py) validates each frame as it is
encoded, and the session must have produced every registered server event:
an event registered with no code path that produces it here fails, so each
new event comes with its exercise. Each request sent is checked against its
client spec too.
"""

import io

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from jsonschema import Draft202012Validator

from accounts.profile import update_profile
from chat import actions
from core.events import CLIENT, SERVER, all_specs, spec_for
from core.publishing import resync_envelope, room_group
from moderation.actions import suspend_user
from tests.conftest import receive_until
from uploads.actions import create_upload, remove_upload

pytestmark = pytest.mark.django_db(transaction=True)


async def request(ws, event_type: str, data: dict, request_id: str) -> dict:
    """Send a request (checked against its client spec) and return its ack."""
    spec = spec_for(event_type)
    assert spec is not None and spec.direction == CLIENT, event_type
    Draft202012Validator(spec.data).validate(data)
    await ws.send_json_to({"type": event_type, "id": request_id, "data": data})
    frame = await receive_until(ws, "ack", request_id=request_id)
    return frame["data"]


async def test_a_session_produces_every_registered_server_event_each_as_its_schema_says(
    ws_connect, make_user, ann, bob, group_room, produced_events, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    room = group_room.id
    maud = await database_sync_to_async(make_user)("maud", is_staff=True, is_superuser=True)  # a moderator
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    await receive_until(ann_ws, "user_online")

    await request(bob_ws, "typing_start", {"room": room}, "t1")
    await receive_until(ann_ws, "user_typing")
    await request(bob_ws, "typing_stop", {"room": room}, "t2")
    await receive_until(ann_ws, "user_stopped_typing")

    sent = await request(ann_ws, "send_message", {"room": room, "body": "hi @bob", "client_id": None}, "m1")
    message = sent["message"]["id"]
    await receive_until(bob_ws, "new_message")
    await receive_until(bob_ws, "notification")
    await request(bob_ws, "mark_as_read", {"room": room, "seq": sent["message"]["seq"]}, "m2")
    await receive_until(ann_ws, "messages_read")
    await receive_until(bob_ws, "notifications_read")
    await request(ann_ws, "edit_message", {"message": message, "body": "hi all"}, "m3")
    await receive_until(bob_ws, "message_edited")
    await request(ann_ws, "pin_message", {"message": message}, "m4")
    await receive_until(bob_ws, "message_pinned")
    await request(ann_ws, "unpin_message", {"message": message}, "m5")
    await receive_until(bob_ws, "message_unpinned")
    await request(bob_ws, "add_reaction", {"message": message, "emoji": "👍"}, "m6")
    await receive_until(ann_ws, "reaction_added")
    await request(bob_ws, "remove_reaction", {"message": message, "emoji": "👍"}, "m7")
    await receive_until(ann_ws, "reaction_removed")
    await request(bob_ws, "send_message", {"room": room, "body": "in thread", "thread": message}, "m7t")
    await receive_until(ann_ws, "thread_updated")
    await request(ann_ws, "delete_message", {"message": message}, "m8")
    await receive_until(bob_ws, "message_deleted")
    await database_sync_to_async(actions.restore_message)(maud, message)
    await receive_until(bob_ws, "message_restored")
    upload = await database_sync_to_async(create_upload)(ann, io.BytesIO(b"notes"), "notes.txt")
    await request(ann_ws, "send_message", {"room": room, "attachments": [upload.id]}, "m9")
    await database_sync_to_async(remove_upload)(maud, upload.id)
    await receive_until(bob_ws, "attachment_removed")

    await request(bob_ws, "update_status", {"status": "busy", "status_text": "in a meeting"}, "s1")
    await receive_until(ann_ws, "status_changed")
    await database_sync_to_async(update_profile)(bob, {"display_name": "Bobby"})
    await receive_until(ann_ws, "user_updated")
    await request(bob_ws, "sync", {"rooms": {str(room): 0}, "since": ann_ws.ready["data"]["server_time"]}, "s2")
    await request(bob_ws, "ping", {}, "s3")
    # What the layer sends when its subscriptions come back, or a room's sequencer gives up on a seq.
    await get_channel_layer().group_send(room_group(room), resync_envelope("gap"))
    await receive_until(bob_ws, "resync")

    public = await database_sync_to_async(actions.create_group_room)(ann, name="Lobby", is_public=True)
    await receive_until(ann_ws, "room_added")
    await request(bob_ws, "join_room", {"room": public["id"]}, "j1")
    await receive_until(ann_ws, "member_joined")
    await receive_until(bob_ws, "room_added")
    await database_sync_to_async(actions.set_member_role)(ann, public["id"], bob.id, "admin")
    await receive_until(bob_ws, "member_updated")
    await database_sync_to_async(actions.update_room)(ann, public["id"], topic="Say hello")
    await receive_until(bob_ws, "room_updated")
    await database_sync_to_async(actions.update_membership_settings)(bob, public["id"], muted=True)
    await receive_until(bob_ws, "membership_updated")
    await request(bob_ws, "leave_room", {"room": public["id"]}, "j2")
    await receive_until(ann_ws, "member_left")
    await receive_until(bob_ws, "room_removed")

    await database_sync_to_async(suspend_user)(maud, bob.id, "spam")
    await receive_until(bob_ws, "error")
    await bob_ws.disconnect()  # the server closed the socket; the client's side of the close ends the session
    await receive_until(ann_ws, "user_offline")

    assert {spec.type for spec in all_specs(SERVER)} - produced_events == set()
