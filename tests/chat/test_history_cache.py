"""The newest page of a room's history comes from a cache that is never stale.

Every test warms the cache, changes the room through the actions, and checks
that the page served equals the page the database gives without the cache.
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import actions, history_cache, queries
from chat.models import Message, Room
from uploads import actions as upload_actions

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(settings, tmp_path):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def moderator(make_user):
    from django.contrib.auth.models import Permission

    user = make_user("mod", display_name="Mod")
    user.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    return type(user).objects.get(pk=user.pk)


def newest(room_id: int, limit: int = 50) -> dict:
    """The page as served: the room read fresh, as the membership check reads it."""
    return queries.history_page(Room.objects.get(pk=room_id), limit=limit)


def from_database(room_id: int, limit: int = 50) -> dict:
    return queries.history_page_from_database(room_id, limit=limit)


def message_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if '"chat_message"' in q["sql"]]


@pytest.fixture
def room_with_messages(ann, bob, group_room):
    for n in range(3):
        actions.send_message(ann if n % 2 else bob, group_room.id, body=f"message {n}")
    newest(group_room.id)  # warm
    return group_room


def test_a_warm_newest_page_reads_no_message_rows(room_with_messages):
    room = Room.objects.get(pk=room_with_messages.id)
    with CaptureQueriesContext(connection) as captured:
        page = queries.history_page(room, limit=50)
    assert message_queries(captured) == []
    assert len(captured) == 1  # the senders, read fresh
    assert page == from_database(room.id)


def test_a_new_message_extends_the_cached_page_with_one_read_of_the_newer_rows(ann, room_with_messages):
    sent, _ = actions.send_message(ann, room_with_messages.id, body="fresh")
    room = Room.objects.get(pk=room_with_messages.id)
    with CaptureQueriesContext(connection) as captured:
        page = queries.history_page(room, limit=50)
    [messages_read] = message_queries(captured)
    assert "seq" in messages_read and ">" in messages_read
    assert page["messages"][-1] == sent
    assert page == from_database(room.id)


def test_edit_is_served_at_once(ann, room_with_messages):
    message = Message.objects.filter(room=room_with_messages, sender=ann).first()
    actions.edit_message(ann, message.id, body="rewritten")
    assert newest(room_with_messages.id) == from_database(room_with_messages.id)
    assert "rewritten" in [m["body"] for m in newest(room_with_messages.id)["messages"]]


def test_delete_and_restore_are_served_at_once(ann, moderator, room_with_messages):
    message = Message.objects.filter(room=room_with_messages, sender=ann).first()
    actions.delete_message(ann, message.id)
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert [m["deleted"] for m in page["messages"]].count(True) == 1

    actions.restore_message(moderator, message.id)
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert [m["deleted"] for m in page["messages"]].count(True) == 0


def test_pin_and_unpin_are_served_at_once(ann, room_with_messages):
    message = Message.objects.filter(room=room_with_messages).first()
    actions.set_pinned(ann, message.id, True)
    assert newest(room_with_messages.id) == from_database(room_with_messages.id)
    actions.set_pinned(ann, message.id, False)
    assert newest(room_with_messages.id) == from_database(room_with_messages.id)
    assert not any(m["pinned"] for m in newest(room_with_messages.id)["messages"])


def test_reactions_added_and_removed_are_served_at_once(ann, bob, room_with_messages):
    message = Message.objects.filter(room=room_with_messages).first()
    actions.set_reaction(bob, message.id, "👍", True)
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert page["messages"][0]["reactions"] == [{"emoji": "👍", "count": 1, "users": [bob.id]}]

    actions.set_reaction(bob, message.id, "👍", False)
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert page["messages"][0]["reactions"] == []


def test_a_renamed_sender_shows_the_new_name_in_the_cached_page(ann, room_with_messages):
    ann.display_name = "Annabel"
    ann.save(update_fields=["display_name"])
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert {m["sender"]["display_name"] for m in page["messages"]} == {"Annabel", "Bob"}


def test_a_deleted_user_takes_their_reactions_out_of_the_cached_page(ann, cat, room_with_messages):
    actions.add_member(ann, room_with_messages.id, cat.id)
    message = Message.objects.filter(room=room_with_messages).first()
    actions.set_reaction(cat, message.id, "🎉", True)
    newest(room_with_messages.id)  # warm with the reaction
    cat.delete()
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert page["messages"][0]["reactions"] == []


def test_a_deleted_sender_shows_as_no_sender(bob, room_with_messages):
    bob.delete()
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert [m["sender"] is None for m in page["messages"]] == [True, False, True]


def test_an_attachment_removed_by_a_moderator_is_served_at_once(ann, moderator, room_with_messages):
    upload = upload_actions.create_upload(ann, io.BytesIO(b"notes"), "notes.txt")
    actions.send_message(ann, room_with_messages.id, body="see file", attachments=[upload.id])
    assert len(newest(room_with_messages.id)["messages"][-1]["attachments"]) == 1

    upload_actions.remove_upload(moderator, upload.id, "spam")
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert page["messages"][-1]["attachments"] == []


def test_purged_messages_leave_the_cached_page(ann, bob, room_with_messages):
    first = Message.objects.filter(room=room_with_messages).order_by("seq").first()
    actions.send_message(ann, room_with_messages.id, body="a reply", reply_to=first.id)
    actions.delete_message(bob, first.id)
    newest(room_with_messages.id)  # warm with the deleted message
    call_command("purge_deleted_messages", "--days", "0", stdout=io.StringIO())
    page = newest(room_with_messages.id)
    assert page == from_database(room_with_messages.id)
    assert first.seq not in [m["seq"] for m in page["messages"]]
    assert page["messages"][-1]["reply_to"] is None


def test_has_more_says_whether_older_messages_exist(ann, group_room):
    for n in range(3):
        actions.send_message(ann, group_room.id, body=f"m{n}")
    assert newest(group_room.id, limit=2)["has_more"] is True
    assert newest(group_room.id, limit=3)["has_more"] is False
    assert newest(group_room.id, limit=2) == from_database(group_room.id, limit=2)


def test_a_room_longer_than_the_cache_pages_back_from_the_database(settings, ann, group_room):
    settings.HISTORY_CACHE_SIZE = 5
    for n in range(7):
        actions.send_message(ann, group_room.id, body=f"m{n}")
    page = newest(group_room.id, limit=5)
    assert [m["body"] for m in page["messages"]] == ["m2", "m3", "m4", "m5", "m6"]
    assert page["has_more"] is True
    assert page == from_database(group_room.id, limit=5)
    for n in range(7, 10):
        actions.send_message(ann, group_room.id, body=f"m{n}")
    page = newest(group_room.id, limit=5)
    assert [m["body"] for m in page["messages"]] == ["m5", "m6", "m7", "m8", "m9"]
    assert page == from_database(group_room.id, limit=5)


def test_an_empty_room_has_an_empty_page(group_room):
    assert newest(group_room.id) == {"messages": [], "has_more": False}


def test_pages_live_in_redis_shared_by_every_process(redis_url, ann, room_with_messages):
    from core.redis import sync_client

    room = Room.objects.get(pk=room_with_messages.id)
    sync_client().flushdb()
    queries.history_page(room, limit=50)
    [key] = sync_client().keys(f"{history_cache.KEY_PREFIX}{room.id}:*")
    assert key.decode().endswith(f":{room.history_revision}")
    assert 0 < sync_client().ttl(key) <= 600

    actions.edit_message(ann, Message.objects.filter(room=room, sender=ann).first().id, body="changed")
    assert newest(room.id) == from_database(room.id)


def test_the_rest_api_serves_the_cached_page(api_for, bob, room_with_messages):
    response = api_for(bob).get(f"/api/v1/rooms/{room_with_messages.id}/messages/")
    assert response.status_code == 200
    assert response.json() == from_database(room_with_messages.id)
