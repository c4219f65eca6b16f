"""A page of history read from the database runs SQL compiled once per page shape, and says what the ORM would.

``history_page_from_database`` executes ``seq_window`` compiled (``core.compiled``)
and rebuilds the messages and senders from its rows; ``seq_page`` over the
same queryset through the ORM is the reference. The room holds each kind of
row a page can show: messages with reactions, a deleted one, a thread-only
reply (never in the room's history), a reply also sent to the room, and a
timeline line (no sender).
"""

from __future__ import annotations

import pytest

from chat import actions, queries
from chat.models import MAIN_HISTORY, Message
from chat.payloads import message_payloads

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_room(ann, bob, cat) -> int:
    room = actions.create_group_room(ann, name="Busy", members=[bob.id])["id"]
    for n in range(4):
        actions.send_message(ann if n % 2 else bob, room, body=f"**news** {n}")
    root, _ = actions.send_message(bob, room, body="a root")
    actions.set_reaction(ann, root["id"], "👍", present=True)
    actions.send_message(ann, room, body="a thread-only reply", thread=root["id"])
    actions.send_message(ann, room, body="a reply for all", thread=root["id"], also_to_room=True)
    gone, _ = actions.send_message(bob, room, body="soon gone")
    actions.delete_message(bob, gone["id"])
    actions.add_member(ann, room, cat.id)  # "Ann added Cat": a timeline line
    actions.send_message(cat, room, body="hello")
    return room


def _orm_page(room_id: int, **bounds) -> dict:
    messages = Message.objects.filter(MAIN_HISTORY, room_id=room_id).select_related("sender")
    rows, has_more = queries.seq_page(messages, **bounds)
    return {"messages": message_payloads(rows), "has_more": has_more}


@pytest.mark.parametrize(
    "bounds",
    [
        {"before": None, "after": None, "limit": 50},
        {"before": None, "after": None, "limit": 3},
        {"before": 6, "after": None, "limit": 2},
        {"before": 100, "after": None, "limit": 4},
        {"before": None, "after": 2, "limit": 3},
        {"before": None, "after": 0, "limit": 50},
        {"before": 9, "after": 3, "limit": 2},
        {"before": 1, "after": None, "limit": 5},
    ],
)
def test_a_compiled_history_page_is_what_the_orm_builds(busy_room, bounds):
    assert queries.history_page_from_database(busy_room, **bounds) == _orm_page(busy_room, **bounds)


def test_a_compiled_history_page_leaves_out_thread_only_replies_and_keeps_the_rest(busy_room):
    page = queries.history_page_from_database(busy_room, limit=50)

    bodies = [message.get("body") for message in page["messages"]]
    assert "a thread-only reply" not in bodies
    assert "a reply for all" in bodies
    timeline_line = next(message for message in page["messages"] if message["kind"] == "system")
    assert timeline_line["sender"] is None
    assert [message["seq"] for message in page["messages"]] == sorted(message["seq"] for message in page["messages"])
    assert page["has_more"] is False


def test_history_pages_of_many_sizes_keep_a_bounded_number_of_compiled_statements(busy_room):
    queries._compiled_history_window.cache_clear()

    for limit in range(1, 41):
        queries.history_page_from_database(busy_room, before=5, limit=limit)

    kept = queries._compiled_history_window.cache_info()
    assert (kept.currsize, kept.maxsize) == (16, 16)
