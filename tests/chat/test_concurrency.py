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
