"""Moderation's maintenance commands: purge_deleted_messages, export_room / import_room."""

from __future__ import annotations

import io
import subprocess
import sys
import tracemalloc
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message, Reaction, Room, RoomMember
from uploads.models import Upload

pytestmark = pytest.mark.django_db

COMMANDS = ["purge_deleted_messages", "export_room", "import_room"]
PROJECT_DIR = Path(__file__).resolve().parents[2]


def run(name: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    parser = load_command_class("moderation", name).create_parser("manage.py", name)
    text = parser.format_help()
    assert text.startswith(f"usage: manage.py {name}")
    if name in ("purge_deleted_messages", "import_room"):
        assert "--dry-run" in text


def test_a_failing_command_exits_non_zero_with_its_reason():
    result = subprocess.run(
        [sys.executable, "manage.py", "purge_deleted_messages", "--days", "-1"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--days must be 0 or more." in result.stderr


# --- purge_deleted_messages ----------------------------------------------------------------------


@pytest.fixture
def purge_setup(ann, bob, group_room, say, upload_for, settings):
    """An old deleted message with a reaction, an attachment and a reply; a recent deleted one; a live one."""
    settings.MESSAGE_RETENTION_DAYS = 30
    upload = upload_for(bob, "old.txt")
    old = say(bob, group_room, "old and deleted", attachments=[upload.id])
    chat_actions.set_reaction(ann, old.id, "👍", True)
    reply = say(ann, group_room, "replying", reply_to=old.id)
    recent = say(bob, group_room, "recently deleted")
    live = say(bob, group_room, "still here")
    for message in (old, recent):
        chat_actions.delete_message(bob, message.id)
    Message.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    Message.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=29))
    upload.refresh_from_db()
    return {"old": old, "reply": reply, "recent": recent, "live": live, "upload": upload}


def test_purge_dry_run_counts_and_changes_nothing(purge_setup):
    output = run("purge_deleted_messages", "--dry-run")
    assert "Dry run: would purge 1 message(s)" in output
    assert "1 reaction(s), 1 attachment(s) (14 bytes)" in output
    assert Message.objects.count() == 4 and Reaction.objects.count() == 1 and Upload.objects.count() == 1
    assert default_storage.exists(purge_setup["upload"].file.name)


def test_purge_deletes_old_soft_deleted_messages_with_reactions_and_files(
    purge_setup, django_capture_on_commit_callbacks
):
    stored = purge_setup["upload"].file.name
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the purge commits
        output = run("purge_deleted_messages")
    assert output.startswith("Purged 1 message(s)")
    assert "1 reaction(s), 1 attachment(s), 1 file(s)" in output
    assert set(Message.objects.values_list("pk", flat=True)) == {
        purge_setup["reply"].id,
        purge_setup["recent"].id,
        purge_setup["live"].id,
    }
    assert not Reaction.objects.exists() and not Upload.objects.exists()
    assert not default_storage.exists(stored)
    purge_setup["reply"].refresh_from_db()
    assert purge_setup["reply"].reply_to_id is None


def test_purge_days_option_overrides_the_setting(purge_setup):
    run("purge_deleted_messages", "--days", "7")
    assert set(Message.objects.values_list("pk", flat=True)) == {purge_setup["reply"].id, purge_setup["live"].id}


def test_purge_with_nothing_due_says_so(ann, group_room, say):
    say(ann, group_room)
    assert run("purge_deleted_messages").startswith("Purged 0 message(s)")


def test_purge_refuses_a_bad_batch_size():
    with pytest.raises(CommandError, match="--batch-size"):
        run("purge_deleted_messages", "--batch-size", "0")


# --- export_room / import_room ----------------------------------------------------------------------


@pytest.fixture
def rich_room(ann, bob, cat, group_room, say, upload_for):
    """A room with a timeline line ("Ann added Cat", seq 1), an edit, reactions, a reply, a pin, an attachment
    and a deleted message."""
    chat_actions.add_member(ann, group_room.id, cat.id, "admin")
    first = say(ann, group_room, "first **draft**")
    chat_actions.edit_message(ann, first.id, body="first **final**")
    chat_actions.set_reaction(bob, first.id, "👍", True)
    chat_actions.set_reaction(cat, first.id, "👍", True)
    chat_actions.set_reaction(cat, first.id, "tada", True)
    upload = upload_for(bob, "plan.txt", b"the plan\n")
    say(bob, group_room, "see the plan", reply_to=first.id, attachments=[upload.id])
    gone = say(cat, group_room, "regrettable")
    chat_actions.delete_message(cat, gone.id)
    pinned = say(cat, group_room, "```\ncode\n```", kind="code")
    chat_actions.set_pinned(ann, pinned.id, True)
    chat_actions.mark_as_read(bob, group_room.id, 3)
    return group_room


def export_lines(room_id: int, *args) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_room", str(room_id), *args, stdout=out, stderr=err)
    assert err.getvalue().startswith(f"Exported room {room_id}")
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def comparable(lines: list[dict]) -> list[dict]:
    """What must survive a round trip: everything but ids, copied file names and idempotency keys."""
    result = []
    for line in lines:
        line = dict(line)
        if line["type"] == "room":
            line["room"] = {k: v for k, v in line["room"].items() if k not in ("id", "name")}
            line.pop("exported_at")
        if line["type"] == "message":
            line.pop("client_id")
            line["attachments"] = [
                {k: v for k, v in a.items() if k not in ("file", "thumbnail")} for a in line["attachments"]
            ]
        result.append(line)
    return result


def test_export_writes_room_users_members_messages_and_an_end_line(rich_room, ann, bob, cat):
    lines = export_lines(rich_room.id)
    assert [line["type"] for line in lines] == ["room", "user", "user", "user", "member", "member", "member"] + [
        "message"
    ] * 5 + ["end"]
    assert lines[0]["format"] == "confab.room" and lines[0]["version"] == 1
    assert lines[0]["room"]["name"] == "General"
    assert {line["username"] for line in lines if line["type"] == "user"} == {"ann", "bob", "cat"}
    assert {(line["user"], line["role"]) for line in lines if line["type"] == "member"} == {
        ("ann", "owner"),
        ("bob", "member"),
        ("cat", "admin"),
    }
    added, first, reply, gone, code = (line for line in lines if line["type"] == "message")
    assert (added["kind"], added["sender"], added["body"]) == ("system", None, "Ann added Cat")
    assert added["system"] == {"event": "added", "actor": "ann", "target": "cat", "name": None}
    assert first["body"] == "first **final**" and first["edited_at"] is not None
    assert first["reactions"] == [
        {"emoji": "👍", "user": "bob", "created_at": first["reactions"][0]["created_at"]},
        {"emoji": "👍", "user": "cat", "created_at": first["reactions"][1]["created_at"]},
        {"emoji": "tada", "user": "cat", "created_at": first["reactions"][2]["created_at"]},
    ]
    assert reply["reply_to_seq"] == 2
    [attachment] = reply["attachments"]
    assert (attachment["name"], attachment["owner"], attachment["size"], attachment["content_type"]) == (
        "plan.txt",
        "bob",
        9,
        "text/plain",
    )
    assert gone["deleted_at"] is not None and gone["body"] == "" and gone["deleted_by"] == "cat"
    assert code["kind"] == "code" and code["pinned"] is True and code["pinned_by"] == "ann"
    assert lines[-1] == {"type": "end", "users": 3, "members": 3, "messages": 5}


def test_export_can_keep_the_text_of_deleted_messages(rich_room):
    gone = [line for line in export_lines(rich_room.id, "--include-deleted") if line["type"] == "message"][3]
    assert gone["body"] == "regrettable"


def test_export_of_an_unknown_room_fails():
    with pytest.raises(CommandError, match="Room 424242 does not exist"):
        run("export_room", "424242")


def test_export_import_round_trip_keeps_edits_reactions_replies_and_attachments(rich_room, tmp_path):
    path = tmp_path / "room.jsonl"
    assert run("export_room", str(rich_room.id), "--output", str(path)).startswith(f"Exported room {rich_room.id}")
    output = run("import_room", str(path), "--name", "General (restored)")
    new_room = Room.objects.exclude(pk=rich_room.pk).get()
    assert output.startswith(f"Imported room {new_room.id} (General (restored)): 3 member(s), 5 message(s)")
    assert "3 reaction(s), 1 attachment(s) (1 file(s) copied)" in output
    assert new_room.last_seq == 5 and new_room.kind == "group"
    assert comparable(export_lines(new_room.id)) == comparable(export_lines(rich_room.id))

    reply = Message.objects.get(room=new_room, seq=3)
    assert reply.reply_to == Message.objects.get(room=new_room, seq=2)
    old_upload, new_upload = Upload.objects.get(message__room=rich_room), Upload.objects.get(message=reply)
    assert new_upload.file.name != old_upload.file.name  # a copy: removing one leaves the other
    assert default_storage.open(new_upload.file.name).read() == b"the plan\n"
    assert RoomMember.objects.get(room=new_room, user__username="bob").last_read_seq == 3


def test_the_imported_room_works_like_any_other(rich_room, tmp_path, ann, api_for):
    path = tmp_path / "room.jsonl"
    run("export_room", str(rich_room.id), "-o", str(path))
    run("import_room", str(path))
    new_room = Room.objects.exclude(pk=rich_room.pk).get()
    history = api_for(ann).get(f"/api/v1/rooms/{new_room.id}/messages/").json()
    assert [m["seq"] for m in history["messages"]] == [1, 2, 3, 4, 5]
    payload, _ = chat_actions.send_message(ann, new_room.id, body="next")
    assert payload["seq"] == 6


def test_import_dry_run_checks_everything_and_changes_nothing(rich_room, tmp_path):
    path = tmp_path / "room.jsonl"
    run("export_room", str(rich_room.id), "-o", str(path))
    files_before = sorted(p.name for p in (Path(default_storage.location) / "uploads").iterdir())
    output = run("import_room", str(path), "--dry-run")
    assert output.startswith("Would import room (new) (General): 3 member(s), 5 message(s)")
    assert Room.objects.count() == 1 and Message.objects.count() == 5 and Upload.objects.count() == 1
    assert sorted(p.name for p in (Path(default_storage.location) / "uploads").iterdir()) == files_before


def test_import_of_a_cut_short_file_fails_and_leaves_nothing(rich_room, tmp_path):
    path = tmp_path / "room.jsonl"
    run("export_room", str(rich_room.id), "-o", str(path))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(CommandError, match="no `end` line"):
        run("import_room", str(path))
    assert Room.objects.count() == 1 and Message.objects.count() == 5


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "The file is empty"),
        ('{"type": "room", "format": "other"}\n', "not a Confab room export"),
        ('{"type": "room", "format": "confab.room", "version": 9}\n', "version 9 is not supported"),
        ('{"type": "room", "format": "confab.room", "version": 1, "room": {}}\nnot json\n', "Line 2: not valid JSON"),
        ('{"type": "room", "format": "confab.room", "version": 1, "room": {}}\n{"type": "x"}\n', "unknown record"),
    ],
)
def test_import_refuses_bad_files_with_the_line_at_fault(tmp_path, content, error):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CommandError, match=error):
        run("import_room", str(path))
    assert not Room.objects.exists()


def test_import_refuses_unknown_users_unless_told_to_create_them(rich_room, tmp_path, django_user_model):
    path = tmp_path / "room.jsonl"
    run("export_room", str(rich_room.id), "-o", str(path))
    path.write_text(path.read_text().replace('"cat"', '"newcomer"'))
    with pytest.raises(CommandError, match="user 'newcomer' does not exist here"):
        run("import_room", str(path))
    output = run("import_room", str(path), "--create-users")
    assert "1 user(s) created" in output
    newcomer = django_user_model.objects.get(username="newcomer")
    assert newcomer.display_name == "Cat" and not newcomer.has_usable_password()


def test_import_without_files_keeps_attachments_as_removed(rich_room, tmp_path):
    path = tmp_path / "room.jsonl"
    run("export_room", str(rich_room.id), "-o", str(path))
    run("import_room", str(path), "--no-files")
    upload = Upload.objects.exclude(message__room=rich_room).get()
    assert upload.removed_at is not None and upload.original_name == "plan.txt" and not upload.file


def test_export_streams_in_batches_with_a_flat_query_count(
    ann, bob, group_room, tmp_path, django_assert_max_num_queries
):
    """1,200 messages: the queries grow with batches of 500, not with messages."""
    now = timezone.now()
    Message.objects.bulk_create(
        [Message(room=group_room, seq=seq, sender=ann, body=f"message {seq} " + "x" * 200) for seq in range(1, 1201)]
    )
    Message.objects.filter(room=group_room).update(created_at=now)
    Reaction.objects.bulk_create(
        [Reaction(message=m, user=bob, emoji="👍") for m in Message.objects.filter(room=group_room)[:600]]
    )
    path = tmp_path / "big.jsonl"
    tracemalloc.start()
    with django_assert_max_num_queries(20):
        call_command("export_room", str(group_room.id), "-o", str(path), stdout=io.StringIO())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(path.read_text().splitlines()) == 1 + 2 + 2 + 1200 + 1
    # A figure for the report, not an assertion (no timing or memory limits in tests).
    print(f"export_room, 1,200 messages: peak traced memory {peak // 1024} KiB, file {path.stat().st_size // 1024} KiB")
