"""A page of history read from the database runs SQL compiled once per page shape, and says what the ORM would.

``history_page_from_database`` executes ``seq_window`` compiled (``core.compiled``)
and rebuilds the messages and senders from its rows; the reference is the
page written out here with the ORM. The room holds each kind of
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


def _orm_page(room_id: int, *, before: int | None, after: int | None, limit: int) -> dict:
    """The page written out with the ORM, apart from the code under test: the oracle."""
    messages = Message.objects.filter(MAIN_HISTORY, room_id=room_id).select_related("sender")
    if before is not None:
        messages = messages.filter(seq__lt=before)
    if after is not None:
        rows = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
    else:
        rows = list(messages.order_by("-seq")[: limit + 1])[::-1]
    has_more = len(rows) > limit
    page = rows[:limit] if after is not None else rows[-limit:]
    return {"messages": message_payloads(page), "has_more": has_more}


@pytest.mark.parametrize(
    "bounds",
    [
        {"before": None, "after": None, "limit": 50},
        {"before": None, "after": None, "limit": 100},
        {"before": None, "after": None, "limit": 3},  # a size not compiled: the ORM builds it
        {"before": 6, "after": None, "limit": 50},
        {"before": 6, "after": None, "limit": 2},
        {"before": 100, "after": None, "limit": 100},
        {"before": None, "after": 2, "limit": 50},
        {"before": None, "after": 2, "limit": 3},
        {"before": None, "after": 0, "limit": 100},
        {"before": 9, "after": 3, "limit": 50},
        {"before": 9, "after": 3, "limit": 2},
        {"before": 1, "after": None, "limit": 50},
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


def test_only_the_page_sizes_clients_use_are_compiled_and_every_shape_of_them_is_kept(busy_room):
    queries._compiled_history_window.cache_clear()

    for limit in range(1, 101):
        for bounds in ({}, {"before": 5}, {"after": 2}, {"before": 9, "after": 2}):
            queries.history_page_from_database(busy_room, limit=limit, **bounds)

    kept = queries._compiled_history_window.cache_info()
    assert (kept.currsize, kept.maxsize) == (8, 8)  # four shapes at 50 and at 100, no more
    assert kept.misses == 8
