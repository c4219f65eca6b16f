"""Operator commands that are not moderation: confab_stats and seed_demo."""

from __future__ import annotations

import io
from datetime import timedelta

import orjson
import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message, Reaction, Room
from uploads.actions import create_upload

pytestmark = pytest.mark.django_db


def run(name: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("name", ["confab_stats", "seed_demo"])
def test_every_ops_command_has_help(name):
    parser = load_command_class("ops", name).create_parser("manage.py", name)
    assert parser.format_help().startswith(f"usage: manage.py {name}")


# --- confab_stats --------------------------------------------------------------------------------------


def test_stats_counts_users_rooms_messages_per_day_and_storage(ann, bob, group_room, make_user):
    make_user("maud", display_name="Maud", is_staff=True)
    upload = create_upload(bob, io.BytesIO(b"12345"), "a.txt")
    chat_actions.send_message(bob, group_room.id, body="with file", attachments=[upload.id])
    old, _ = chat_actions.send_message(ann, group_room.id, body="yesterday")
    Message.objects.filter(pk=old["id"]).update(created_at=timezone.now() - timedelta(days=1))
    bob.is_active = False
    bob.save()
    stats = orjson.loads(run("confab_stats", "--json", "--days", "3"))
    assert stats["users"] == {"total": 3, "active": 2, "suspended": 1, "staff": 1, "joined_last_7_days": 3}
    assert stats["rooms"] == {"total": 1, "group": 1, "direct": 0, "public": 0, "archived": 0}
    assert stats["messages"] == {"total": 2, "deleted": 0, "last_24_hours": 1}
    today = timezone.now().date()
    assert stats["messages_per_day"] == [
        {"date": str(today - timedelta(days=2)), "messages": 0},
        {"date": str(today - timedelta(days=1)), "messages": 1},
        {"date": str(today), "messages": 1},
    ]
    assert stats["storage"] == {"files": 1, "bytes": 5, "removed": 0, "unattached": 0}


def test_stats_prints_a_readable_summary(ann, group_room):
    chat_actions.send_message(ann, group_room.id, body="hello")
    text = run("confab_stats")
    assert "Users: 2 (2 active, 0 suspended" in text
    assert "Rooms: 1 (1 group, 0 direct" in text
    assert "Messages: 1 (0 deleted, 1 in the last 24 hours)" in text
    assert "Storage: 0 B in 0 file(s)" in text


def test_stats_refuses_a_bad_day_count():
    with pytest.raises(CommandError, match="--days"):
        run("confab_stats", "--days", "0")


# --- seed_demo -------------------------------------------------------------------------------------------


def test_seed_demo_creates_users_rooms_and_messages_once(settings, client):
    settings.DEBUG = True
    first = run("seed_demo")
    assert "password for all: confab-demo" in first
    assert "Seeded demo: 5 user(s) created, 3 room(s) created, 10 message(s) sent." in first
    counts = (Room.objects.count(), Message.objects.count(), Reaction.objects.count())
    second = run("seed_demo")
    assert "Seeded demo: 0 user(s) created, 0 room(s) created, 0 message(s) sent." in second
    assert (Room.objects.count(), Message.objects.count(), Reaction.objects.count()) == counts
    login = client.post("/api/v1/auth/token/", {"username": "ann", "password": "confab-demo"})
    assert login.status_code == 200


def test_seed_demo_refuses_to_run_without_debug(settings, django_user_model):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("seed_demo")
    assert not django_user_model.objects.exists()
