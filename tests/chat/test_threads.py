"""Threads: replies to a root message, the root's summary, the thread page, following and read marks.

The contract is docs/protocol.md, section "Threads". Replies are sent through
the real actions or REST; events go through the real WebSocket stack.
"""

import threading
import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import actions
from chat.models import Message, ThreadFollow
from chat.queries import sync_rooms
from notifications.models import Notification
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def room_of_three(group_room, ann, cat):
    actions.add_member(ann, group_room.id, cat.id)
    return group_room


def send(user, room, body="hi", **fields) -> dict:
    return actions.send_message(user, room.id, body=body, **fields)[0]


def post(api_for, user, room, **data):
    return api_for(user).post(f"/api/v1/rooms/{room.id}/messages/", {"body": "x", **data}, format="json")


# --- Sending a reply -------------------------------------------------------------------------


def test_a_reply_names_its_root_and_an_ordinary_message_names_none(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    reply = post(api_for, bob, group_room, thread=root["id"]).json()
    assert (reply["thread_root"], reply["also_to_room"], root["thread_root"]) == (root["id"], False, None)


@pytest.mark.parametrize(
    ("make_target", "message"),
    [
        (lambda root, other: root["reply"], "`thread` is a reply: reply in its thread's root instead."),
        (lambda root, other: other, "`thread` is not a message of this room."),
        (lambda root, other: root["deleted"], "`thread` is a deleted message."),
        (lambda root, other: root["system"], "`thread` is a system message: it cannot have a thread."),
    ],
    ids=["reply", "other-room", "deleted", "system"],
)
def test_a_bad_thread_root_is_invalid_and_stores_nothing(api_for, ann, bob, group_room, make_target, message):
    root = send(ann, group_room)
    targets = {"reply": send(bob, group_room, thread=root["id"])["id"]}
    deleted = send(ann, group_room)
    actions.delete_message(ann, deleted["id"])
    targets["deleted"] = deleted["id"]
    targets["system"] = Message.objects.create(room=group_room, seq=999, kind=Message.Kind.SYSTEM, body="s").id
    other_room = actions.create_group_room(ann, name="Other", members=[bob.id])
    other = actions.send_message(ann, other_room["id"], body="elsewhere")[0]["id"]
    count = Message.objects.count()

    response = post(api_for, bob, group_room, thread=make_target(targets, other))

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["message"]) == ("invalid", message)
    assert Message.objects.count() == count


def test_also_to_room_without_a_thread_is_invalid(api_for, bob, group_room):
    response = post(api_for, bob, group_room, also_to_room=True)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert Message.objects.count() == 0


def test_also_to_room_must_be_a_boolean(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    response = post(api_for, bob, group_room, thread=root["id"], also_to_room="yes")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert response.json()["message"] == "`also_to_room` must be true or false."
    assert Message.objects.count() == 1


def test_a_reply_takes_the_rooms_next_seq(ann, bob, group_room):
    root = send(ann, group_room)
    reply = send(bob, group_room, thread=root["id"])
    after = send(ann, group_room)
    assert (root["seq"], reply["seq"], after["seq"]) == (1, 2, 3)


# --- The root's summary -----------------------------------------------------------------------


def test_a_root_without_replies_has_no_summary(ann, group_room):
    assert send(ann, group_room)["thread_summary"] is None


def test_the_roots_summary_counts_replies_and_lists_repliers_in_first_reply_order(
    api_for, ann, bob, cat, room_of_three
):
    root = send(ann, room_of_three)
    send(cat, room_of_three, thread=root["id"])
    send(bob, room_of_three, thread=root["id"])
    last = send(cat, room_of_three, thread=root["id"])

    page = api_for(ann).get(f"/api/v1/messages/{root['id']}/thread/").json()

    assert page["root"]["thread_summary"] == {
        "replies": 3,
        "last_reply_at": last["created_at"],
        "participants": [cat.id, bob.id],
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_replies_are_all_counted(postgres, api_for, ann, bob, cat, room_of_three):
    root = send(ann, room_of_three)
    clients = [api_for(user) for user in (ann, bob, cat, ann, bob, cat)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def reply(client) -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(
                client.post(
                    f"/api/v1/rooms/{room_of_three.id}/messages/",
                    {"body": "r", "thread": root["id"], "client_id": str(uuid.uuid4())},
                    format="json",
                ).status_code
            )
        finally:
            connection.close()

    workers = [threading.Thread(target=reply, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert statuses == [201] * 6
    stored = Message.objects.get(pk=root["id"])
    assert stored.thread_reply_count == 6
    assert sorted(stored.thread_participants) == sorted([ann.id, bob.id, cat.id])


# --- Main history -----------------------------------------------------------------------------


def test_a_reply_never_appears_in_the_cached_newest_page(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/")  # the page is cached now
    send(bob, group_room, thread=root["id"])
    page = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/").json()
    assert [m["id"] for m in page["messages"]] == [root["id"]]


def test_a_reply_never_appears_in_a_page_from_the_database(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(bob, group_room, thread=root["id"])
    page = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/?after=0").json()
    assert [m["id"] for m in page["messages"]] == [root["id"]]


def test_a_reply_also_to_room_is_in_the_main_history_flagged(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/")
    reply = send(bob, group_room, thread=root["id"], also_to_room=True)
    page = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/").json()
    assert [(m["id"], m["also_to_room"]) for m in page["messages"]] == [(root["id"], False), (reply["id"], True)]


def test_the_cached_root_shows_its_fresh_summary_after_a_reply(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/")
    send(bob, group_room, thread=root["id"])
    page = api_for(ann).get(f"/api/v1/rooms/{group_room.id}/messages/").json()
    assert page["messages"][0]["thread_summary"]["replies"] == 1


def test_a_reply_is_not_the_rooms_last_message(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(bob, group_room, thread=root["id"])
    assert api_for(ann).get("/api/v1/rooms/").json()[0]["last_message"]["id"] == root["id"]


def test_a_reply_does_not_count_as_unread_in_the_room(api_for, ann, bob, group_room):
    root = send(bob, group_room)
    send(bob, group_room, thread=root["id"])
    assert api_for(ann).get("/api/v1/rooms/").json()[0]["unread"] == 1


def test_a_reply_also_to_room_counts_as_unread_in_the_room(api_for, ann, bob, group_room):
    root = send(bob, group_room)
    send(bob, group_room, thread=root["id"], also_to_room=True)
    assert api_for(ann).get("/api/v1/rooms/").json()[0]["unread"] == 2


def test_sync_returns_replies(ann, bob, group_room):
    root = send(ann, group_room)
    reply = send(bob, group_room, thread=root["id"])

    synced = sync_rooms(ann, {str(group_room.id): 0})["messages"][str(group_room.id)]
    assert [(m["id"], m["thread_root"]) for m in synced] == [(root["id"], None), (reply["id"], root["id"])]


def test_sync_since_an_earlier_answer_lists_the_root_as_changed_with_its_summary(ann, bob, group_room):
    root = send(ann, group_room)
    since = sync_rooms(ann, {str(group_room.id): root["seq"]})["server_time"]
    send(bob, group_room, thread=root["id"])
    changed = sync_rooms(ann, {str(group_room.id): root["seq"]}, since)["changed"][str(group_room.id)]
    assert [(m["id"], m["thread_summary"]["replies"]) for m in changed] == [(root["id"], 1)]


# --- The thread page --------------------------------------------------------------------------


def test_the_thread_page_is_the_root_and_its_replies_oldest_first(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(ann, group_room)  # not in the thread
    replies = [send(bob, group_room, thread=root["id"])["id"] for _ in range(3)]
    page = api_for(ann).get(f"/api/v1/messages/{root['id']}/thread/").json()
    assert (page["root"]["id"], [m["id"] for m in page["messages"]], page["has_more"]) == (root["id"], replies, False)


def test_the_thread_page_pages_back_with_before_and_forward_with_after(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    replies = [send(bob, group_room, thread=root["id"]) for _ in range(5)]
    client = api_for(ann)
    newest = client.get(f"/api/v1/messages/{root['id']}/thread/?limit=2").json()
    older = client.get(f"/api/v1/messages/{root['id']}/thread/?limit=2&before={replies[3]['seq']}").json()
    newer = client.get(f"/api/v1/messages/{root['id']}/thread/?limit=2&after={replies[0]['seq']}").json()
    ids = [r["id"] for r in replies]
    assert ([m["id"] for m in newest["messages"]], newest["has_more"]) == (ids[3:], True)
    assert ([m["id"] for m in older["messages"]], older["has_more"]) == (ids[1:3], True)
    assert ([m["id"] for m in newer["messages"]], newer["has_more"]) == (ids[1:3], True)


def test_a_thread_limit_over_100_is_invalid(api_for, ann, group_room):
    root = send(ann, group_room)
    response = api_for(ann).get(f"/api/v1/messages/{root['id']}/thread/?limit=101")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_a_non_member_gets_404_for_the_thread(api_for, ann, cat, group_room):
    root = send(ann, group_room)
    assert api_for(cat).get(f"/api/v1/messages/{root['id']}/thread/").status_code == 404


def test_the_thread_of_a_reply_is_invalid_and_names_its_root(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    reply = send(bob, group_room, thread=root["id"])
    response = api_for(ann).get(f"/api/v1/messages/{reply['id']}/thread/")
    assert response.status_code == 400
    assert response.json()["message"] == (
        f"Message {reply['id']} is a reply: its thread is that of message {root['id']}."
    )


def test_the_thread_page_makes_as_many_queries_for_20_replies_as_for_2(
    api_for, ann, bob, group_room, django_assert_num_queries
):
    small_root = send(ann, group_room)
    large_root = send(ann, group_room)
    for _ in range(2):
        send(bob, group_room, thread=small_root["id"])
    for _ in range(20):
        send(bob, group_room, thread=large_root["id"])
    client = api_for(ann)

    with CaptureQueriesContext(connection) as small:
        client.get(f"/api/v1/messages/{small_root['id']}/thread/")

    with django_assert_num_queries(len(small)):
        page = client.get(f"/api/v1/messages/{large_root['id']}/thread/").json()
    assert len(page["messages"]) == 20


# --- Following and notifications ---------------------------------------------------------------


def kinds(message: dict) -> dict[int, str]:
    return dict(Notification.objects.filter(message_id=message["id"]).values_list("recipient_id", "kind"))


def test_the_roots_author_gets_a_thread_reply_notification_and_the_replier_none(ann, bob, group_room):
    root = send(ann, group_room)
    reply = send(bob, group_room, thread=root["id"])
    assert kinds(reply) == {ann.id: "thread_reply"}


def test_a_replier_follows_and_hears_of_later_replies(ann, bob, cat, room_of_three):
    root = send(ann, room_of_three)
    send(cat, room_of_three, thread=root["id"])
    later = send(bob, room_of_three, thread=root["id"])
    assert kinds(later) == {ann.id: "thread_reply", cat.id: "thread_reply"}


def test_a_member_outside_the_thread_is_not_notified(ann, bob, cat, room_of_three):
    root = send(ann, room_of_three)
    reply = send(bob, room_of_three, thread=root["id"])
    assert cat.id not in kinds(reply)


def test_a_mention_in_a_reply_notifies_once_as_mention_and_follows(ann, bob, cat, room_of_three):
    root = send(ann, room_of_three)
    reply = send(bob, room_of_three, "hey @cat", thread=root["id"])
    later = send(bob, room_of_three, thread=root["id"])
    assert (kinds(reply)[cat.id], kinds(later)[cat.id]) == ("mention", "thread_reply")


def test_an_unfollowed_thread_sends_no_thread_reply(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(bob, group_room, thread=root["id"])
    assert api_for(ann).delete(f"/api/v1/messages/{root['id']}/thread/follow/").status_code == 204
    later = send(bob, group_room, thread=root["id"])
    assert kinds(later) == {}


def test_following_a_thread_brings_its_replies(api_for, ann, bob, cat, room_of_three):
    root = send(ann, room_of_three)
    assert api_for(cat).put(f"/api/v1/messages/{root['id']}/thread/follow/").status_code == 204
    reply = send(bob, room_of_three, thread=root["id"])
    assert kinds(reply)[cat.id] == "thread_reply"


def test_following_needs_membership(api_for, ann, cat, group_room):
    root = send(ann, group_room)
    assert api_for(cat).put(f"/api/v1/messages/{root['id']}/thread/follow/").status_code == 404
    assert ThreadFollow.objects.count() == 0


# --- Per-thread read marks and the followed threads ----------------------------------------------


def test_reading_a_thread_moves_the_mark_and_counts_what_is_left(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    first = send(bob, group_room, thread=root["id"])
    send(bob, group_room, thread=root["id"])
    response = api_for(ann).post(f"/api/v1/messages/{root['id']}/thread/read/", {"seq": first["seq"]}, format="json")
    assert response.json() == {"message": root["id"], "last_read_seq": first["seq"], "unread": 1}


def test_a_thread_read_mark_never_moves_back(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    reply = send(bob, group_room, thread=root["id"])
    client = api_for(ann)
    client.post(f"/api/v1/messages/{root['id']}/thread/read/", {"seq": reply["seq"]}, format="json")
    response = client.post(f"/api/v1/messages/{root['id']}/thread/read/", {"seq": 0}, format="json")
    assert response.json()["last_read_seq"] == reply["seq"]


def test_a_reply_reads_the_thread_for_its_sender(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(ann, group_room, thread=root["id"])
    send(bob, group_room, thread=root["id"])
    send(bob, group_room, thread=root["id"])
    assert [t["unread"] for t in api_for(bob).get("/api/v1/threads/").json()] == [0]


def test_a_bad_thread_read_seq_is_invalid(api_for, ann, group_room):
    root = send(ann, group_room)
    response = api_for(ann).post(f"/api/v1/messages/{root['id']}/thread/read/", {"seq": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert ThreadFollow.objects.count() == 0


def test_followed_threads_list_unread_ones_first(api_for, ann, bob, group_room):
    read_root = send(ann, group_room)
    unread_root = send(ann, group_room)
    send(bob, group_room, thread=unread_root["id"])
    last = send(bob, group_room, thread=read_root["id"])  # the newer thread, but read below
    api_for(ann).post(f"/api/v1/messages/{read_root['id']}/thread/read/", {"seq": last["seq"]}, format="json")

    threads = api_for(ann).get("/api/v1/threads/").json()

    assert [(t["root"]["id"], t["unread"], t["room"]) for t in threads] == [
        (unread_root["id"], 1, group_room.id),
        (read_root["id"], 0, group_room.id),
    ]
    assert threads[0]["thread_summary"] == threads[0]["root"]["thread_summary"]


def test_unfollowed_threads_are_not_listed(api_for, ann, bob, group_room):
    root = send(ann, group_room)
    send(bob, group_room, thread=root["id"])
    api_for(ann).delete(f"/api/v1/messages/{root['id']}/thread/follow/")
    assert api_for(ann).get("/api/v1/threads/").json() == []


# --- Live events -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_reply_goes_out_as_new_message_then_thread_updated(ws_connect, ann, bob, group_room):
    root = await database_sync_to_async(send)(ann, group_room)
    ann_ws = await ws_connect(ann)
    bob_ws = await ws_connect(bob)
    await bob_ws.send_json_to(
        {"type": "send_message", "id": "t1", "data": {"room": group_room.id, "body": "r", "thread": root["id"]}}
    )

    new = await receive_until(ann_ws, "new_message")
    updated = await receive_until(ann_ws, "thread_updated")

    assert new["data"]["message"]["thread_root"] == root["id"]
    assert updated["data"] == {
        "room": group_room.id,
        "message": root["id"],
        "thread_summary": {
            "replies": 1,
            "last_reply_at": new["data"]["message"]["created_at"],
            "participants": [bob.id],
        },
    }
