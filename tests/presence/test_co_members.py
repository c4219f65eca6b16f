"""Who a connecting user shares a live room with, read once with the room list, with their presence columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat import actions as chat
from chat.models import Room
from presence.actions import (
    co_member_ids,
    co_member_presence_rows,
    connection_snapshot,
    presences,
    snapshot_from_rows,
)
from presence.models import Presence

pytestmark = pytest.mark.django_db


def test_the_co_members_of_a_user_are_the_members_of_their_live_rooms(ann, bob, cat, make_user):
    dan, eve = make_user("dan"), make_user("eve")
    chat.create_group_room(ann, name="Live", members=[bob.id])
    old = chat.create_group_room(ann, name="Old", members=[cat.id, dan.id])["id"]
    Room.objects.filter(pk=old).update(archived=True)
    chat.create_group_room(eve, name="Elsewhere", members=[cat.id])

    assert set(co_member_presence_rows(ann.id)) == {ann.id, bob.id}
    live_rooms = Room.objects.filter(memberships__user=ann, archived=False).values_list("id", flat=True)
    assert set(co_member_presence_rows(ann.id)) == co_member_ids(live_rooms)


def test_a_user_without_rooms_is_their_own_only_co_member(cat):
    assert set(co_member_presence_rows(cat.id)) == {cat.id}


def test_the_co_member_rows_are_read_in_one_query(ann, bob, cat, django_assert_num_queries):
    chat.create_group_room(ann, name="Live", members=[bob.id, cat.id])
    with django_assert_num_queries(1):
        co_member_presence_rows(ann.id)


def test_presence_objects_built_from_rows_are_those_built_from_users(ann, bob, cat):
    room = chat.create_group_room(ann, name="Live", members=[bob.id, cat.id])["id"]
    now = datetime.now(UTC)
    Presence.objects.create(user=bob, status="busy", status_text="in a call", last_seen=now - timedelta(hours=1))
    Presence.objects.create(user=cat, status="away", status_text="gone", status_expires_at=now - timedelta(minutes=1))
    bob.display_name = "Bob B."
    bob.avatar_key = "a1b2c3"  # the avatar fields are built from the row's key too
    bob.save()

    from_rows = snapshot_from_rows(ann.id, co_member_presence_rows(ann.id), {bob.id, cat.id}, [(room, bob.id)])

    assert from_rows == connection_snapshot(ann, {bob.id, cat.id}, [(room, bob.id)])
    assert from_rows["presence"] == presences([ann.id, bob.id, cat.id], {ann.id, bob.id, cat.id})
    assert [p["status"] for p in from_rows["presence"]] == ["online", "busy", "online"]  # cat's status has expired
    assert from_rows["typing"] == [{"room": room, "user": from_rows["presence"][1]["user"]}]


def _user_rows_examined(plan: dict) -> int:
    """How many rows of the user table a PostgreSQL plan run (EXPLAIN ANALYZE's JSON) read, kept or filtered out."""
    examined = 0
    if plan.get("Relation Name") == "accounts_user":
        examined = (plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)) * plan["Actual Loops"]
    return examined + sum(_user_rows_examined(child) for child in plan.get("Plans", ()))


def test_the_co_member_read_looks_its_users_up_by_id_however_many_users_there_are(ann, bob, postgres):
    """An OR of the co-member subquery and the user's own id cannot look ids up in the users' index: every
    connect read every user of the server (by a scan or the whole index). With thousands of users, the read
    must examine about as many user rows as it returns."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from presence.actions import _CO_MEMBER_PRESENCE

    User = get_user_model()
    User.objects.bulk_create(User(username=f"crowd{n}") for n in range(3000))
    chat.create_group_room(ann, name="Live", members=[bob.id])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
        compiled = _CO_MEMBER_PRESENCE.compile()
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.sql}", compiled.params_for((ann.id,)))
        (plan,) = cursor.fetchone()[0]

    assert _user_rows_examined(plan["Plan"]) <= 10  # ann and bob, and ann's id in the subquery
    assert set(co_member_presence_rows(ann.id)) == {ann.id, bob.id}
