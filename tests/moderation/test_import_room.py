"""import_room writes through chat's bulk do_* (chat.actions.imports): what the live path guarantees holds."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.management import call_command

from chat import actions as chat_actions
from chat.models import Room
from core.publishing import call_collecting_events, user_group

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def exported_room(tmp_path, ann, bob, group_room, say):
    say(ann, group_room, "one")
    say(bob, group_room, "two")
    path = tmp_path / "room.jsonl"
    call_command("export_room", str(group_room.id), "--output", str(path), stdout=io.StringIO())
    return path


def import_room(path) -> Room:
    out = io.StringIO()
    call_command("import_room", str(path), "--name", "Imported", stdout=out)
    return Room.objects.get(name="Imported")


def test_an_imported_room_is_announced_to_its_members_after_commit(exported_room, ann, bob):
    room, outbox = call_collecting_events(import_room, exported_room)

    added = {group: orjson.loads(message["frame"]) for group, message in outbox if message.get("added")}
    assert set(added) == {user_group(ann.id), user_group(bob.id)}
    assert {frame["type"] for frame in added.values()} == {"room_added"}
    assert {frame["data"]["room"]["id"] for frame in added.values()} == {room.id}


def test_the_next_message_in_an_imported_room_follows_its_last_seq(exported_room, ann):
    room = import_room(exported_room)

    payload, _ = chat_actions.send_message(ann, room.id, body="three")

    assert payload["seq"] == 3


def test_a_dry_run_announces_nothing(exported_room):
    def dry_run():
        call_command("import_room", str(exported_room), "--dry-run", stdout=io.StringIO())

    _, outbox = call_collecting_events(dry_run)

    assert outbox == []
