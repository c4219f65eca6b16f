"""The send path's hand-written PostgreSQL SQL stores exactly what its ORM branch stores.

SQLite runs the ORM branch (``_membership_for_send_orm``, ``_insert_message_orm``);
PostgreSQL runs the SQL written out for speed (``_membership_for_send_postgresql``,
``_insert_message_postgresql``). Here both run on PostgreSQL, the same messages
into two rooms made alike, and everything they leave behind is compared:
the stored rows, seqs, the rooms' counters, read marks and the client_id
retry lookup.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from chat import actions
from chat.actions import send
from chat.models import Message, Room, RoomMember

pytestmark = pytest.mark.django_db

BRANCHES = {
    "postgresql": (send._membership_for_send_postgresql, send._insert_message_postgresql),
    "orm": (send._membership_for_send_orm, send._insert_message_orm),
}
NEW_CLIENT_ID = object()
START = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def fields_of(instance, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
        if f.attname not in leave_out
    }


@pytest.fixture
def rooms(ann, bob, cat) -> dict[str, Room]:
    """One room per branch, made alike: Ann owns it, Bob and Cat are members."""
    made = {}
    for branch in BRANCHES:
        payload = actions.create_group_room(ann, name=f"Parity {branch}", members=[bob.id, cat.id])
        made[branch] = Room.objects.get(pk=payload["id"])
    return made


def send_through(branch: str, room: Room, script: list[tuple[Any, dict[str, Any]]]) -> list[Message]:
    """Check each message as the live path does, then store it with ``branch``'s insert."""
    _, insert = BRANCHES[branch]
    sent: list[Message] = []
    for index, (user, fields) in enumerate(script):
        fields = dict(fields)
        if fields.get("client_id") is NEW_CLIENT_ID:
            fields["client_id"] = str(uuid.uuid4())  # (sender, client_id) is unique across rooms
        if "reply_to_index" in fields:
            fields["reply_to"] = sent[fields.pop("reply_to_index")].pk
        outgoing = actions.check_send_message(user, room.id, **fields)
        message = outgoing.message
        message.created_at = message.updated_at = START + timedelta(seconds=index)
        with transaction.atomic():
            insert(message, outgoing.membership.pk)
        assert message.pk is not None and not message._state.adding
        sent.append(message)
    return sent


def stored(room: Room) -> list[dict[str, Any]]:
    """The room's message rows as stored, with ids replaced by what they point at."""
    seq_of = dict(Message.objects.filter(room=room).values_list("pk", "seq"))
    rows = []
    for message in Message.objects.filter(room=room).order_by("seq"):
        row = fields_of(message, leave_out=("id", "room_id", "reply_to_id", "client_id"))
        row["reply_to_seq"] = seq_of.get(message.reply_to_id)
        row["has_client_id"] = message.client_id is not None
        rows.append(row)
    return rows


def read_marks(room: Room) -> dict[int, int]:
    return dict(RoomMember.objects.filter(room=room).values_list("user_id", "last_read_seq"))


@pytest.fixture
def script(ann, bob, cat):
    return [
        (ann, {"body": "hello", "client_id": NEW_CLIENT_ID}),
        (bob, {"body": "hi @ann and @cat"}),
        (ann, {"body": "```\nprint(1)\n```", "kind": "code", "reply_to_index": 0}),
        (cat, {"body": "ünïcødé 🎉 <b>not bold</b>", "client_id": NEW_CLIENT_ID}),
        (bob, {"body": "@room lunch?"}),
    ]


def test_both_branches_store_the_same_rows_seqs_counters_and_read_marks(postgres, rooms, script, ann, bob, cat):
    sent = {branch: send_through(branch, rooms[branch], script) for branch in BRANCHES}

    assert [m.seq for m in sent["postgresql"]] == [m.seq for m in sent["orm"]] == [1, 2, 3, 4, 5]
    assert stored(rooms["postgresql"]) == stored(rooms["orm"])
    # What each branch left on the instance is what it stored.
    for branch in BRANCHES:
        assert [fields_of(m, leave_out=("id",)) for m in sent[branch]] == [
            fields_of(m, leave_out=("id",)) for m in Message.objects.filter(room=rooms[branch]).order_by("seq")
        ]
    for room in rooms.values():
        room.refresh_from_db()
    made_alike = ("id", "name", "created_at")  # the rooms themselves were made one after the other
    assert fields_of(rooms["postgresql"], leave_out=made_alike) == fields_of(rooms["orm"], leave_out=made_alike)
    assert rooms["orm"].last_seq == 5 and rooms["orm"].last_message_at == START + timedelta(seconds=4)
    assert read_marks(rooms["postgresql"]) == read_marks(rooms["orm"])
    assert read_marks(rooms["orm"]) == {ann.id: 3, bob.id: 5, cat.id: 4}  # each sender's own last message


def test_both_branches_find_the_same_membership_and_retry(postgres, rooms, script, ann, bob, cat, make_user):
    room = rooms["postgresql"]
    sent = send_through("postgresql", room, script)
    ann_client_id = sent[0].client_id
    dan = make_user("dan")
    archived = rooms["orm"]
    Room.objects.filter(pk=archived.pk).update(archived=True)
    lookups = [
        (ann.id, room.id, ann_client_id),  # a retry: the stored message's id
        (ann.id, room.id, None),
        (ann.id, room.id, uuid.uuid4()),  # a client_id never used
        (bob.id, room.id, ann_client_id),  # someone else's client_id
        (cat.id, room.id, sent[3].client_id),
        (dan.id, room.id, None),  # not a member
        (ann.id, archived.id, None),  # an archived room
    ]

    found = {}
    for branch, (membership_for_send, _) in BRANCHES.items():
        found[branch] = []
        for user_id, room_id, client_id in lookups:
            membership = membership_for_send(user_id, room_id, client_id)
            if membership is None:
                found[branch].append(None)
            else:
                found[branch].append((fields_of(membership), fields_of(membership.room), membership.retried_message_id))

    assert found["postgresql"] == found["orm"]
    retried = [entry[2] if entry else None for entry in found["orm"]]
    assert retried == [sent[0].pk, None, None, None, sent[3].pk, None, None]
    assert [entry is None for entry in found["orm"]] == [False] * 5 + [True, True]
