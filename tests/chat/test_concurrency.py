"""Seq allocation under concurrent writers on PostgreSQL (row lock on the room)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from chat import actions
from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_sends_get_gap_free_strictly_increasing_seqs(postgres, settings, make_user, ann, group_room):
    settings.RATE_LIMIT_MESSAGES = 0
    senders = [make_user() for _ in range(8)]
    for user in senders:
        actions.add_member(ann, group_room.id, user.id)

    def send_many(user):
        try:
            return [actions.send_message(user, group_room.id, body=f"{user.username} {n}")[0]["seq"] for n in range(20)]
        finally:
            connections.close_all()  # each worker thread has its own connection

    with ThreadPoolExecutor(max_workers=8) as pool:
        per_sender = list(pool.map(send_many, senders))
    for seqs in per_sender:
        assert seqs == sorted(seqs)  # each sender sees its own messages in order
    all_seqs = sorted(seq for seqs in per_sender for seq in seqs)
    assert all_seqs == list(range(1, 161))
    assert list(Message.objects.filter(room=group_room).order_by("seq").values_list("seq", flat=True)) == all_seqs
    group_room.refresh_from_db()
    assert group_room.last_seq == 160


def test_history_read_while_others_send_and_react_is_never_older_than_what_committed_before_it(
    postgres, redis_url, settings, make_user, ann, group_room
):
    """Readers race writers; each page read after a change committed shows that change."""
    from chat import queries
    from chat.models import Reaction, Room

    settings.RATE_LIMIT_MESSAGES = 0
    writers = [make_user() for _ in range(4)]
    for user in writers:
        actions.add_member(ann, group_room.id, user.id)
    first, _ = actions.send_message(ann, group_room.id, body="react to me")

    emojis = ["👍", "🎉", "❤️", "😂", "🙏", "👀", "🔥", "✅", "💯", "🚀", "😮", "😢", "👏", "🤔", "🙌"]

    def write(user):
        try:
            for emoji in emojis:
                actions.send_message(user, group_room.id, body=f"{user.username} {emoji}")
                actions.set_reaction(user, first["id"], emoji, True)
        finally:
            connections.close_all()

    def read(_):
        """Reactions are only added here, so whatever committed before a read must be on its page."""
        try:
            stale = []
            for _ in range(40):
                committed_seq = Room.objects.values_list("last_seq", flat=True).get(pk=group_room.id)
                committed = set(Reaction.objects.filter(message_id=first["id"]).values_list("user_id", "emoji"))
                page = queries.history_page(Room.objects.get(pk=group_room.id), limit=100)
                if page["messages"][-1]["seq"] < committed_seq:
                    stale.append(("seq", committed_seq))
                shown = next(m for m in page["messages"] if m["id"] == first["id"])
                on_page = {(user, r["emoji"]) for r in shown["reactions"] for user in r["users"]}
                if not committed <= on_page:
                    stale.append(("reactions", committed - on_page))
            return stale
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = [pool.submit(write, user) for user in writers]
        reads = list(pool.map(read, range(4)))
        for future in writes:
            future.result()
    assert reads == [[], [], [], []]
    final = queries.history_page(Room.objects.get(pk=group_room.id), limit=100)
    assert final == queries.history_page_from_database(group_room.id, limit=100)
