"""Seq allocation under concurrent writers on PostgreSQL (row lock on the room)."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connections

from chat import actions
from chat.actions import send
from chat.models import Message, RoomMember
from notifications.models import Notification
from tests.conftest import prepared_statements

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
    # Seqs 1-8 are the eight "Ann added ..." lines; the 160 sends follow them without a gap.
    assert all_seqs == list(range(9, 169))
    stored = list(Message.objects.filter(room=group_room).order_by("seq").values_list("seq", flat=True))
    assert stored == list(range(1, 169))
    group_room.refresh_from_db()
    assert group_room.last_seq == 168


def test_an_ordinary_send_is_two_statements_and_no_transaction_round_trips(postgres, ann, bob, group_room):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        message, created = actions.send_message(ann, group_room.id, body="hello", client_id=str(uuid.uuid4()))
    sqls = [q["sql"] for q in queries.captured_queries]
    # The membership (with the client_id lookup), then seq + insert + read mark in one statement.
    assert len(sqls) == 2, sqls
    assert sqls[1].startswith("WITH room AS (UPDATE")
    assert created and message["seq"] == 1
    assert RoomMember.objects.get(room=group_room, user=ann).last_read_seq == 1
    group_room.refresh_from_db()
    assert group_room.last_seq == 1 and group_room.last_message_at is not None


def test_the_send_statements_are_prepared_once_on_the_connection(postgres, ann, group_room):
    actions.send_message(ann, group_room.id, body="hello 0")
    prepared = prepared_statements()
    assert any(statement.startswith("WITH room AS (UPDATE") for statement in prepared)
    assert any("sender_id = $1 AND client_id = $2" in statement for statement in prepared)
    for n in range(1, 4):
        actions.send_message(ann, group_room.id, body=f"hello {n}")
    assert prepared_statements() == prepared  # the same statements again: prepared (and planned) once


def test_with_prepared_statements_off_a_send_prepares_nothing(postgres, settings, ann, group_room):
    settings.DB_PREPARED_STATEMENTS = False
    before = prepared_statements()  # what earlier tests left on this connection
    actions.send_message(ann, group_room.id, body="hello", client_id=str(uuid.uuid4()))
    assert prepared_statements() == before


def test_a_send_of_every_parameter_type_stores_them_as_given(postgres, ann, group_room):
    """The insert's parameters are bound by the server, each cast to its column's type."""
    client_id = uuid.uuid4()
    root, _ = actions.send_message(ann, group_room.id, body="root")
    reply, _ = actions.send_message(
        ann, group_room.id, body="a **reply**", client_id=str(client_id), reply_to=root["id"]
    )
    stored = Message.objects.get(pk=reply["id"])
    assert (stored.client_id, stored.reply_to_id, stored.body) == (client_id, root["id"], "a **reply**")
    assert stored.system is None and stored.pinned is False and stored.created_at == stored.updated_at


def test_a_failed_insert_takes_no_seq_and_moves_no_read_mark(postgres, ann, group_room):
    client_id = uuid.uuid4()
    actions.send_message(ann, group_room.id, body="first", client_id=str(client_id))
    membership = RoomMember.objects.get(room=group_room, user=ann)
    # What a racing retry meets: the same (sender, client_id) committed a moment before.
    duplicate = Message(room=group_room, sender=ann, body="again", body_html="", client_id=client_id)
    duplicate.created_at = duplicate.updated_at = group_room.created_at
    with pytest.raises(IntegrityError):
        send._insert_message(duplicate, membership.pk)
    group_room.refresh_from_db()
    assert group_room.last_seq == 1
    membership.refresh_from_db()
    assert membership.last_read_seq == 1
    assert actions.send_message(ann, group_room.id, body="next")[0]["seq"] == 2


def test_racing_sends_of_every_kind_share_one_gap_free_seq(postgres, settings, make_user, ann, group_room):
    """Plain sends (one statement in autocommit), replies and mentions (a transaction
    with notifications) and retries of one client_id, all at once into one room."""
    settings.RATE_LIMIT_MESSAGES = 0
    senders = [make_user() for _ in range(6)]
    for user in senders:
        actions.add_member(ann, group_room.id, user.id)
    parent, _ = actions.send_message(ann, group_room.id, body="parent")
    shared_client_id = str(uuid.uuid4())

    def send_many(index_and_user):
        index, user = index_and_user
        created_ids = []
        try:
            for n in range(12):
                fields = {"body": f"{user.username} {n}"}
                if n % 3 == 1:
                    fields["reply_to"] = parent["id"]
                elif n % 3 == 2:
                    fields["body"] = f"@{ann.username} {n}"
                message, created = actions.send_message(user, group_room.id, **fields)
                assert created
                created_ids.append(message["id"])
            return created_ids
        finally:
            connections.close_all()

    def retry_shared(_):
        try:
            return actions.send_message(senders[0], group_room.id, body="once", client_id=shared_client_id)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=12) as pool:
        sends = pool.map(send_many, enumerate(senders))
        retries = pool.map(retry_shared, senders)
        sent, retried = list(sends), list(retries)
    assert sum(created for _, created in retried) == 1
    assert len({message["id"] for message, _ in retried}) == 1
    seqs = sorted(Message.objects.filter(room=group_room).values_list("seq", flat=True))
    # Six "Ann added ..." lines, the parent, the sends and the one stored retry.
    assert seqs == list(range(1, 1 + 6 + 1 + 6 * 12 + 1))
    assert sum(len(ids) for ids in sent) == 6 * 12
    group_room.refresh_from_db()
    assert group_room.last_seq == len(seqs)
    assert Notification.objects.filter(message__room=group_room, recipient=ann).count() == 6 * 12 * 2 // 3


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
