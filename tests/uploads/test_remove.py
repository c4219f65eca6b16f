"""Moderators removing uploads, and the cleanup of uploads never attached."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat import actions as chat_actions
from core.errors import ActionError
from uploads.actions import remove_upload
from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_upload(upload_file):
    def make(user, name="photo.png", data=None) -> Upload:
        response = upload_file(user, name, data if data is not None else files.image_bytes())
        assert response.status_code == 201, response.content
        return Upload.objects.get(pk=response.json()["id"])

    return make


def stored_paths(media_root, upload: Upload) -> list:
    return [media_root / name for name in (upload.file.name, upload.thumbnail.name) if name]


# --- remove_upload ----------------------------------------------------------------------------


def test_only_moderators_may_remove_uploads(ann, bob, group_room, new_upload):
    upload = new_upload(ann)

    with pytest.raises(ActionError) as error:
        remove_upload(ann, upload.id)

    assert error.value.code == "forbidden"
    assert Upload.objects.get(pk=upload.id).removed_at is None


def test_removal_deletes_the_files_and_hides_the_upload_from_everyone(
    ann, moderator, new_upload, media_root, api_for, django_capture_on_commit_callbacks
):
    upload = new_upload(ann)
    paths = stored_paths(media_root, upload)

    with django_capture_on_commit_callbacks(execute=True):
        result = remove_upload(moderator, upload.id, reason="spam")

    assert result["upload"] == upload.id and result["message"] is None
    assert not any(path.exists() for path in paths)
    removed = Upload.objects.get(pk=upload.id)
    assert removed.removed_at is not None and removed.file.name == "" and removed.thumbnail.name == ""
    assert api_for(ann).get(f"/api/v1/uploads/{upload.id}/").status_code == 404
    assert api_for(ann).get("/api/v1/uploads/").json()["count"] == 0


def test_removing_twice_is_a_conflict(ann, moderator, new_upload):
    upload = new_upload(ann)
    remove_upload(moderator, upload.id)

    with pytest.raises(ActionError) as error:
        remove_upload(moderator, upload.id)

    assert error.value.code == "conflict"


def test_removing_an_unknown_upload_is_not_found(moderator):
    with pytest.raises(ActionError) as error:
        remove_upload(moderator, 424242)

    assert error.value.code == "not_found"


def test_removing_an_attachment_publishes_the_message_without_it(
    ann, group_room, moderator, new_upload, django_capture_on_commit_callbacks, settings
):
    # Listened to from sync code: the in-memory layer serves every event loop
    # alike (Redis pub/sub keeps one layer per loop; the socket tests cover Redis).
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    kept, dropped = new_upload(ann, "kept.txt", b"kept"), new_upload(ann)
    sent, _ = chat_actions.send_message(ann, group_room.id, body="two files", attachments=[kept.id, dropped.id])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"room.{group_room.id}", channel)

    with django_capture_on_commit_callbacks(execute=True):
        result = remove_upload(moderator, dropped.id)

    event = async_to_sync(layer.receive)(channel)
    import json

    frame = json.loads(event["frame"])
    assert frame["type"] == "attachment_removed"
    assert frame["data"] == {"room": group_room.id, "message": sent["id"], "upload": dropped.id}
    assert (result["message"], result["room"]) == (sent["id"], group_room.id)


# --- remove_unattached_uploads ------------------------------------------------------------------


def age(upload: Upload, hours: float) -> None:
    Upload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - timedelta(hours=hours))


def test_cleanup_dry_run_counts_and_changes_nothing(ann, group_room, new_upload, media_root, capsys):
    old, recent, attached = new_upload(ann), new_upload(ann), new_upload(ann)
    chat_actions.send_message(ann, group_room.id, attachments=[attached.id])
    age(old, 30)
    age(attached, 30)
    before = sorted(str(p) for p in media_root.rglob("*") if p.is_file())

    call_command("remove_unattached_uploads", "--dry-run")

    assert capsys.readouterr().out.strip() == (
        f"Would delete 1 unattached upload(s) older than 24 h ({old.size} bytes)."
    )
    assert Upload.objects.count() == 3
    assert sorted(str(p) for p in media_root.rglob("*") if p.is_file()) == before
    assert recent.pk  # untouched, younger than the grace period


def test_cleanup_deletes_old_unattached_uploads_with_their_files(
    ann, group_room, new_upload, media_root, capsys, django_capture_on_commit_callbacks
):
    old, recent, attached = new_upload(ann), new_upload(ann), new_upload(ann)
    chat_actions.send_message(ann, group_room.id, attachments=[attached.id])
    age(old, 30)
    age(attached, 30)
    old_paths = stored_paths(media_root, old)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("remove_unattached_uploads")

    assert "Deleted 1 unattached upload(s) older than 24 h" in capsys.readouterr().out
    assert set(Upload.objects.values_list("pk", flat=True)) == {recent.pk, attached.pk}
    assert not any(path.exists() for path in old_paths)
    assert all(path.exists() for path in stored_paths(media_root, recent) + stored_paths(media_root, attached))


def test_cleanup_hours_option_overrides_the_setting(ann, new_upload, capsys):
    upload = new_upload(ann)
    age(upload, 2)

    call_command("remove_unattached_uploads", "--hours", "1")

    assert "Deleted 1 unattached upload(s) older than 1 h" in capsys.readouterr().out
    assert not Upload.objects.exists()


def test_cleanup_refuses_negative_hours():
    with pytest.raises(CommandError, match="--hours"):
        call_command("remove_unattached_uploads", "--hours", "-1")


def test_cleanup_fails_with_non_zero_exit_and_keeps_rows_when_files_cannot_be_deleted(ann, new_upload, media_root):
    upload = new_upload(ann, "a.txt", b"text")
    age(upload, 48)
    # Where the file was, a non-empty directory: the storage cannot delete it.
    stored = media_root / upload.file.name
    stored.unlink()
    stored.mkdir()
    (stored / "blocker").write_bytes(b"x")

    with pytest.raises(CommandError, match="1 upload\\(s\\) or file\\(s\\) kept"):
        call_command("remove_unattached_uploads")

    assert Upload.objects.filter(pk=upload.pk).exists()


def test_orphaned_files_are_deleted_only_with_the_option_and_after_the_grace_period(
    ann, new_upload, media_root, capsys
):
    import os
    import time

    kept = new_upload(ann)
    (media_root / "uploads").mkdir(exist_ok=True)
    old_orphan, new_orphan = media_root / "uploads" / "lost.png", media_root / "uploads" / "in-flight.png"
    old_orphan.write_bytes(b"x" * 10)
    new_orphan.write_bytes(b"y")
    day_ago = time.time() - 86400 * 2
    os.utime(old_orphan, (day_ago, day_ago))
    os.utime(media_root / kept.file.name, (day_ago, day_ago))

    call_command("remove_unattached_uploads", "--orphans", "--dry-run")
    assert "Would delete 1 orphaned file(s) (10 bytes)." in capsys.readouterr().out
    assert old_orphan.exists()

    call_command("remove_unattached_uploads", "--orphans")

    assert "Deleted 1 orphaned file(s) (10 bytes)." in capsys.readouterr().out
    assert not old_orphan.exists()
    assert new_orphan.exists() and (media_root / kept.file.name).exists()
