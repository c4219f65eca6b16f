"""The WebSocket transport: frames in, actions called, one ack or error out, events forwarded."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from chat import actions
from chat.models import Message, Room
from config.asgi import application
from tests.conftest import browser_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def request(ws, event_type, data, request_id="r1"):
    await ws.send_json_to({"type": event_type, "id": request_id, "data": data})
    frame = await ws.receive_json_from(timeout=3)
    while frame.get("id") != request_id:
        frame = await ws.receive_json_from(timeout=3)
    return frame


async def nothing_arrives(ws, wait=0.3):
    assert await ws.receive_nothing(timeout=wait), "an unexpected frame arrived"


# --- Authentication ----------------------------------------------------------------


async def test_a_jwt_authenticate_frame_gets_ready_with_the_users_rooms(ws_connect, ann, group_room):
    ws = await ws_connect(ann)
    data = ws.ready["data"]
    assert data["user"] == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    assert [room["id"] for room in data["rooms"]] == [group_room.id]
    assert data["session"] and data["notifications_unread"] == 0


async def test_a_token_connect_reaches_ready_with_one_worker_thread_call(ws_connect, ann, group_room, monkeypatch):
    """The token check and everything ``ready`` reads share one trip to a database thread (a connect's cost)."""
    from realtime import database

    calls = []
    real_call = database.database_call

    async def counted(function, *args, **kwargs):
        calls.append(function.__name__)
        return await real_call(function, *args, **kwargs)

    monkeypatch.setattr(database, "database_call", counted)

    ws = await ws_connect(ann)

    assert calls == ["_authenticate_and_load_many"]
    assert [room["id"] for room in ws.ready["data"]["rooms"]] == [group_room.id]


async def test_the_session_cookie_authenticates_a_browser_socket(client, ann, group_room):
    await database_sync_to_async(client.force_login)(ann)
    ws = browser_socket(client.cookies["sessionid"].value)
    connected, _ = await ws.connect()
    assert connected
    ready = await ws.receive_json_from(timeout=3)
    assert ready["type"] == "ready" and ready["data"]["user"]["id"] == ann.id
    await ws.disconnect()


async def test_a_foreign_origin_is_refused():
    ws = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await ws.connect()
    assert connected is False


async def test_a_bad_token_is_refused_with_4401(ann):
    ws = WebsocketCommunicator(application, "/ws/chat/")
    await ws.connect()
    await ws.send_json_to({"type": "authenticate", "id": "a", "data": {"token": "nope"}})
    error = await ws.receive_json_from(timeout=3)
    assert error == {
        "type": "error",
        "id": "a",
        "data": {"code": "unauthenticated", "message": error["data"]["message"]},
    }
    assert await ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_token_of_a_suspended_user_is_refused(ann):
    ann.is_active = False
    await database_sync_to_async(ann.save)()
    ws = WebsocketCommunicator(application, "/ws/chat/")
    await ws.connect()
    await ws.send_json_to({"type": "authenticate", "data": {"token": str(AccessToken.for_user(ann))}})
    assert (await ws.receive_json_from(timeout=3))["data"]["code"] == "unauthenticated"
    assert (await ws.receive_output(timeout=3))["code"] == 4401


async def test_anything_before_authenticate_is_refused_with_4401():
    ws = WebsocketCommunicator(application, "/ws/chat/")
    await ws.connect()
    await ws.send_json_to({"type": "send_message", "id": "x", "data": {}})
    assert (await ws.receive_json_from(timeout=3))["data"]["code"] == "unauthenticated"
    assert (await ws.receive_output(timeout=3))["code"] == 4401


async def test_a_socket_that_never_authenticates_is_closed(settings):
    settings.WS_AUTH_TIMEOUT = 0.2
    ws = WebsocketCommunicator(application, "/ws/chat/")
    await ws.connect()
    assert (await ws.receive_json_from(timeout=3))["data"]["code"] == "unauthenticated"
    assert (await ws.receive_output(timeout=3))["code"] == 4401


# --- Bad frames never close the connection -----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        ('{"type": "fly"}', "invalid"),
        ('{"type": 5}', "invalid"),
        ('{"type": "send_message", "data": [1]}', "invalid"),
        ('{"type": "ping", "id": "' + "x" * 65 + '"}', "invalid"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(ws_connect, ann, group_room, raw, code):
    ws = await ws_connect(ann)
    await ws.send_to(text_data=raw)
    assert (await ws.receive_json_from(timeout=3))["data"]["code"] == code
    assert (await request(ws, "ping", {}, "still-there"))["type"] == "ack"


async def test_a_frame_over_the_size_limit_is_too_large(ws_connect, ann, group_room, settings):
    settings.WS_MAX_FRAME_BYTES = 1000
    ws = await ws_connect(ann)
    frame = await request(ws, "send_message", {"room": group_room.id, "body": "x" * 2000}, None)
    assert frame["type"] == "error" and frame["data"]["code"] == "too_large"
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_an_action_error_keeps_the_request_id(ws_connect, ann, group_room):
    ws = await ws_connect(ann)
    frame = await request(ws, "send_message", {"room": 999999, "body": "x"}, "lost")
    assert frame == {"type": "error", "id": "lost", "data": {"code": "not_found", "message": "Room not found."}}


async def test_rate_limited_errors_carry_retry_after(ws_connect, ann, group_room, settings):
    settings.RATE_LIMIT_MESSAGES = 1
    ws = await ws_connect(ann)
    assert (await request(ws, "send_message", {"room": group_room.id, "body": "1"}, "a"))["type"] == "ack"
    frame = await request(ws, "send_message", {"room": group_room.id, "body": "2"}, "b")
    assert frame["data"]["code"] == "rate_limited" and frame["data"]["retry_after"] >= 1


# --- Each client event: ack to the caller, broadcast to the room ---------------------------


async def test_send_message_acks_and_broadcasts_new_message(ws_connect, ann, bob, group_room):
    ann_ws, bob_ws = await ws_connect(ann), await ws_connect(bob)
    client_id = str(uuid.uuid4())
    ack = await request(ann_ws, "send_message", {"room": group_room.id, "body": "hi", "client_id": client_id})
    message = ack["data"]["message"]
    assert (message["seq"], message["body"], message["client_id"]) == (1, "hi", client_id)
    assert (await receive_until(bob_ws, "new_message"))["data"] == {"message": message}
    assert (await receive_until(ann_ws, "new_message"))["data"] == {"message": message}


async def test_a_retried_send_acks_the_same_message_and_broadcasts_once(ws_connect, ann, bob, group_room):
    ann_ws, bob_ws = await ws_connect(ann), await ws_connect(bob)
    data = {"room": group_room.id, "body": "once", "client_id": str(uuid.uuid4())}
    first = await request(ann_ws, "send_message", data, "try-1")
    second = await request(ann_ws, "send_message", data, "try-2")
    assert first["data"] == second["data"]
    await receive_until(bob_ws, "new_message")
    await nothing_arrives(bob_ws)


async def test_edit_delete_pin_and_react_reach_the_room(ws_connect, ann, bob, group_room):
    ann_ws, bob_ws = await ws_connect(ann), await ws_connect(bob)
    sent = await request(ann_ws, "send_message", {"room": group_room.id, "body": "v1"})
    message_id = sent["data"]["message"]["id"]
    await receive_until(bob_ws, "new_message")

    edited = (await request(ann_ws, "edit_message", {"message": message_id, "body": "v2"}, "e"))["data"]["message"]
    assert edited["body"] == "v2"  # the ack: the whole message
    assert (await receive_until(bob_ws, "message_edited"))["data"] == {
        "room": group_room.id,
        "message": message_id,
        "seq": 1,
        "body": "v2",
        "body_html": edited["body_html"],
        "edited_at": edited["edited_at"],
    }

    pinned = await request(bob_ws, "pin_message", {"message": message_id}, "p")
    assert pinned["data"]["message"]["pinned"] is True
    pin_event = (await receive_until(bob_ws, "message_pinned"))["data"]
    assert (pin_event["room"], pin_event["message"], pin_event["pinned_by"]) == (group_room.id, message_id, bob.id)
    unpinned = await request(bob_ws, "unpin_message", {"message": message_id}, "u")
    assert unpinned["data"]["message"]["pinned"] is False
    assert (await receive_until(ann_ws, "message_unpinned"))["data"] == {
        "room": group_room.id,
        "message": message_id,
        "seq": 1,
        "pinned_by": None,
        "pinned_at": None,
    }

    reacted = await request(bob_ws, "add_reaction", {"message": message_id, "emoji": "🎉"}, "ra")
    assert reacted["data"]["message"]["reactions"] == [{"emoji": "🎉", "count": 1, "users": [bob.id]}]
    reaction = {"room": group_room.id, "message": message_id, "emoji": "🎉", "user": bob.id}
    assert (await receive_until(ann_ws, "reaction_added"))["data"] == {**reaction, "count": 1}
    await request(bob_ws, "remove_reaction", {"message": message_id, "emoji": "🎉"}, "rr")
    assert (await receive_until(ann_ws, "reaction_removed"))["data"] == {**reaction, "count": 0}

    deleted = await request(ann_ws, "delete_message", {"message": message_id}, "d")
    assert deleted["data"] == {}
    event = await receive_until(bob_ws, "message_deleted")
    assert event["data"] == {"room": group_room.id, "message": message_id, "seq": 1}


async def test_mark_as_read_acks_the_unread_count_and_tells_the_room(ws_connect, ann, bob, group_room):
    ann_ws, bob_ws = await ws_connect(ann), await ws_connect(bob)
    for n in range(2):
        await request(ann_ws, "send_message", {"room": group_room.id, "body": str(n)}, f"s{n}")
    ack = await request(bob_ws, "mark_as_read", {"room": group_room.id, "seq": 1}, "read")
    assert ack["data"] == {"room": group_room.id, "last_read_seq": 1, "unread": 1}
    event = await receive_until(ann_ws, "messages_read")
    assert event["data"] == {"room": group_room.id, "user": bob.id, "last_read_seq": 1}


async def test_join_and_leave_follow_the_room_live(ws_connect, ann, cat):
    room = await database_sync_to_async(actions.create_group_room)(ann, name="Lobby", is_public=True)
    ann_ws, cat_ws = await ws_connect(ann), await ws_connect(cat)
    joined = await request(cat_ws, "join_room", {"room": room["id"]}, "j")
    assert joined["data"]["id"] == room["id"] and len(joined["data"]["members"]) == 2
    assert (await receive_until(cat_ws, "room_added"))["data"]["room"]["id"] == room["id"]
    assert (await receive_until(ann_ws, "member_joined"))["data"]["user"]["id"] == cat.id

    await request(ann_ws, "send_message", {"room": room["id"], "body": "welcome"}, "w")
    assert (await receive_until(cat_ws, "new_message"))["data"]["message"]["body"] == "welcome"

    assert (await request(cat_ws, "leave_room", {"room": room["id"]}, "l"))["data"] == {}
    assert (await receive_until(cat_ws, "room_removed"))["data"] == {"room": room["id"]}
    assert (await receive_until(ann_ws, "member_left"))["data"]["user"]["id"] == cat.id
    await request(ann_ws, "send_message", {"room": room["id"], "body": "gone?"}, "w2")
    await nothing_arrives(cat_ws)


async def test_a_room_created_while_connected_is_followed_without_reconnecting(ws_connect, ann, bob):
    bob_ws = await ws_connect(bob)
    room = await database_sync_to_async(actions.create_group_room)(ann, name="New", members=[bob.id])
    added = await receive_until(bob_ws, "room_added")
    assert added["data"]["room"]["id"] == room["id"] and added["data"]["room"]["unread"] == 0
    await database_sync_to_async(actions.send_message)(ann, room["id"], body="first")
    assert (await receive_until(bob_ws, "new_message"))["data"]["message"]["body"] == "first"


async def test_a_stranger_receives_nothing_from_a_room(ws_connect, ann, cat, group_room):
    ann_ws, cat_ws = await ws_connect(ann), await ws_connect(cat)
    await request(ann_ws, "send_message", {"room": group_room.id, "body": "private"})
    await nothing_arrives(cat_ws)
    frame = await request(cat_ws, "typing_start", {"room": group_room.id}, "t")
    assert frame["data"]["code"] == "not_found"


# --- sync: nothing lost to a disconnect ------------------------------------------------------


async def test_sync_returns_exactly_what_a_disconnected_client_missed(ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    send = database_sync_to_async(actions.send_message)
    for n in range(1, 3):
        await send(ann, group_room.id, body=f"seen {n}")
    seen = [(await receive_until(bob_ws, "new_message"))["data"]["message"]["seq"] for _ in range(2)]
    assert seen == [1, 2]
    await bob_ws.disconnect()
    missed_ids = [(await send(ann, group_room.id, body=f"missed {n}"))[0]["id"] for n in range(3, 6)]
    await database_sync_to_async(actions.delete_message)(ann, missed_ids[0])
    bob_ws = await ws_connect(bob)
    ack = await request(bob_ws, "sync", {"rooms": {str(group_room.id): 2}})
    missed = ack["data"]["messages"][str(group_room.id)]
    assert [(m["seq"], m["body"], m["deleted"]) for m in missed] == [
        (3, "", True),
        (4, "missed 4", False),
        (5, "missed 5", False),
    ]
    assert ack["data"]["has_more"] == {str(group_room.id): False}


async def test_sync_since_returns_changes_to_messages_the_client_already_had(ws_connect, ann, bob, group_room):
    act = database_sync_to_async
    kept, _ = await act(actions.send_message)(ann, group_room.id, body="keep")
    edited, _ = await act(actions.send_message)(ann, group_room.id, body="old text")
    gone, _ = await act(actions.send_message)(ann, group_room.id, body="regret")
    bob_ws = await ws_connect(bob)
    since = bob_ws.ready["data"]["server_time"]
    await bob_ws.disconnect()
    await act(actions.edit_message)(ann, edited["id"], body="new text")
    await act(actions.delete_message)(ann, gone["id"])
    await act(actions.set_reaction)(ann, kept["id"], "👍", True)
    bob_ws = await ws_connect(bob)
    ack = await request(bob_ws, "sync", {"rooms": {str(group_room.id): 3}, "since": since})
    changed = {m["seq"]: m for m in ack["data"]["changed"][str(group_room.id)]}
    assert changed[1]["reactions"] == [{"emoji": "👍", "count": 1, "users": [ann.id]}]
    assert changed[2]["body"] == "new text" and changed[2]["edited_at"] is not None
    assert changed[3]["deleted"] is True
    assert ack["data"]["messages"][str(group_room.id)] == []
    assert ack["data"]["server_time"] >= since


async def test_sync_rejects_a_since_that_is_not_a_server_time(ws_connect, bob, group_room):
    bob_ws = await ws_connect(bob)
    ack = await request(bob_ws, "sync", {"rooms": {str(group_room.id): 0}, "since": "yesterday"})
    assert ack["data"]["code"] == "invalid"


async def test_sync_is_capped_with_has_more(ws_connect, ann, bob, group_room, settings):
    settings.SYNC_MAX_MESSAGES = 2
    settings.RATE_LIMIT_MESSAGES = 0
    for n in range(5):
        await database_sync_to_async(actions.send_message)(ann, group_room.id, body=str(n))
    bob_ws = await ws_connect(bob)
    ack = await request(bob_ws, "sync", {"rooms": {str(group_room.id): 1}})
    assert [m["seq"] for m in ack["data"]["messages"][str(group_room.id)]] == [2, 3]
    assert ack["data"]["has_more"] == {str(group_room.id): True}


async def test_sync_reports_rooms_the_user_is_not_in(ws_connect, bob, group_room):
    other = await database_sync_to_async(Room.objects.create)(name="Elsewhere")
    bob_ws = await ws_connect(bob)
    ack = await request(bob_ws, "sync", {"rooms": {str(group_room.id): 0, str(other.id): 0}})
    assert ack["data"]["unknown_rooms"] == [other.id]
    assert str(other.id) not in ack["data"]["messages"]


@pytest.mark.parametrize("rooms", [None, [1], {"x": 1}, {"1": "y"}, {"1": -1}])
async def test_sync_rejects_bad_positions(ws_connect, bob, group_room, rooms):
    bob_ws = await ws_connect(bob)
    assert (await request(bob_ws, "sync", {"rooms": rooms}))["data"]["code"] == "invalid"


async def test_an_idle_connection_on_redis_still_receives_events(ws_connect, ann, bob, group_room, redis_url):
    """redis-py 8 timed idle channel-layer readers out after 5 s; the pin to 7.4 must hold."""
    bob_ws = await ws_connect(bob)
    await asyncio.sleep(6)
    await database_sync_to_async(actions.send_message)(ann, group_room.id, body="after a nap")
    assert (await receive_until(bob_ws, "new_message", timeout=5))["data"]["message"]["body"] == "after a nap"


# --- Direct delivery (realtime.layers + ChatConsumer._layer_event) --------------------------------


def _live_consumers():
    from presence import store

    return [c.consumer() for c in store.local.connections.values() if c.consumer() is not None]


@pytest.fixture(params=["embedded", "redis"])
def layer_backend(request) -> str:
    """The embedded layer, then Redis (both deliver to the consumers directly)."""
    request.getfixturevalue("redis_url" if request.param == "redis" else "embedded")
    return request.param


async def test_events_that_waited_leave_no_backlog_behind(layer_backend, ws_connect, ann, bob, group_room):
    """Events queued while a connection handled a message are sent, and the idle connection keeps no queue."""
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    for n in range(3):
        await request(bob_ws, "send_message", {"room": group_room.id, "body": f"m{n}"}, request_id=f"s{n}")
    for n in range(3):
        frame = await receive_until(ann_ws, "new_message")
        assert frame["data"]["message"]["body"] == f"m{n}"
    await asyncio.sleep(0.1)
    consumers = _live_consumers()
    assert len(consumers) == 2
    assert [c._backlog for c in consumers] == [None, None]


async def test_a_frame_whose_send_waits_is_finished_before_later_ones():
    """A server send that waits (flow control) is resumed in a task; frames after it wait their turn."""
    from chat.consumers import ChatConsumer

    writable = asyncio.Event()
    sent = []

    async def send(message):
        await writable.wait()
        sent.append(message["text"])

    consumer = ChatConsumer()
    consumer.base_send = send
    consumer._dispatching = asyncio.Lock()
    consumer.channel_name = "test!1"
    consumer._layer_event({"type": "chat.frame", "frame": "one"})  # waits: the socket is not writable
    consumer._layer_event({"type": "chat.frame", "frame": "two"})
    consumer._layer_event({"type": "chat.frame", "frame": "mine", "exclude_user": None})
    await asyncio.sleep(0.01)
    assert sent == []
    writable.set()
    await consumer._drainer
    assert sent == ["one", "two", "mine"] and consumer._backlog is None
    consumer._layer_event({"type": "chat.frame", "frame": "three"})  # writable again: sent at once
    assert sent[-1] == "three"


async def test_slim_queue_and_event_behave_as_asyncio_ones():
    from realtime.uvicorn_sansio import SlimEvent, SlimQueue

    queue = SlimQueue()
    assert queue.empty()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await getter == 1 and not queue.empty()
    assert await queue.get() == 2 and queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()

    event = SlimEvent()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    assert await asyncio.gather(*waiters) == [True, True] and event.is_set()
    event.clear()
    waiter = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not event._waiters


async def test_sockets_that_authenticate_at_once_each_get_their_own_ready(ann, bob, cat, group_room):
    """Their loads share one database call (``connect_loads``); each socket still gets its own user."""
    from core.metrics import counts

    sockets = [WebsocketCommunicator(application, "/ws/chat/") for _ in range(3)]
    users = [ann, bob, cat]
    for ws in sockets:
        assert (await ws.connect(timeout=5))[0]
    calls_before, items_before = counts.database_batches, counts.database_batched_items
    for ws, user in zip(sockets, users, strict=True):
        await ws.send_json_to({"type": "authenticate", "data": {"token": str(AccessToken.for_user(user))}})

    readies = [await receive_until(ws, "ready") for ws in sockets]

    assert [ready["data"]["user"]["id"] for ready in readies] == [ann.id, bob.id, cat.id]
    assert [[room["id"] for room in ready["data"]["rooms"]] for ready in readies] == [[group_room.id]] * 2 + [[]]
    assert (counts.database_batches - calls_before, counts.database_batched_items - items_before) == (1, 3)
    for ws in sockets:
        await ws.disconnect()
