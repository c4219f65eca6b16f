"""An upload's stored files are deleted exactly once, after the commit, whichever way its row goes.

The storage is the real filesystem storage under a temporary MEDIA_ROOT,
counting the deletes it is asked for: a second attempt on a file already
gone would not fail on a filesystem (nor on S3), so only the count shows it.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message
from uploads.actions import create_upload, remove_upload
from uploads.models import Upload

from . import files
from .counting_storage import CountingFileSystemStorage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def counting_storage(settings, media_root):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.uploads.counting_storage.CountingFileSystemStorage"},
    }
    CountingFileSystemStorage.deleted = []
    return CountingFileSystemStorage


@pytest.fixture
def image_upload(ann) -> Upload:
    upload = create_upload(ann, io.BytesIO(files.image_bytes()), "photo.png")
    assert upload.file.name and upload.thumbnail.name
    return upload


def names_of(upload: Upload) -> list[str]:
    return [upload.file.name, upload.thumbnail.name]


def assert_deleted_once(counting_storage, media_root, names: list[str], caplog) -> None:
    assert sorted(counting_storage.deleted) == sorted(names)
    assert not any((media_root / name).exists() for name in names)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_purging_a_message_deletes_each_attachment_file_once(
    ann, group_room, image_upload, counting_storage, media_root, caplog, django_capture_on_commit_callbacks
):
    names = names_of(image_upload)
    sent, _ = chat_actions.send_message(ann, group_room.id, attachments=[image_upload.id])
    chat_actions.delete_message(ann, sent["id"])
    Message.objects.filter(pk=sent["id"]).update(deleted_at=timezone.now() - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_deleted_messages", "--days", "0", stdout=io.StringIO())

    assert not Upload.objects.exists()
    assert_deleted_once(counting_storage, media_root, names, caplog)


def test_removing_an_upload_deletes_its_files_once(
    moderator, image_upload, counting_storage, media_root, caplog, django_capture_on_commit_callbacks
):
    names = names_of(image_upload)

    with django_capture_on_commit_callbacks(execute=True):
        remove_upload(moderator, image_upload.id)

    assert Upload.objects.get(pk=image_upload.id).removed_at is not None
    assert_deleted_once(counting_storage, media_root, names, caplog)


def test_cleaning_up_an_unattached_upload_deletes_its_files_once(
    image_upload, counting_storage, media_root, caplog, django_capture_on_commit_callbacks
):
    names = names_of(image_upload)
    Upload.objects.filter(pk=image_upload.pk).update(created_at=timezone.now() - timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("remove_unattached_uploads", stdout=io.StringIO())

    assert not Upload.objects.exists()
    assert_deleted_once(counting_storage, media_root, names, caplog)


def test_deleting_the_row_deletes_its_files_once(
    image_upload, counting_storage, media_root, caplog, django_capture_on_commit_callbacks
):
    names = names_of(image_upload)

    with django_capture_on_commit_callbacks(execute=True):
        Upload.objects.filter(pk=image_upload.pk).delete()

    assert_deleted_once(counting_storage, media_root, names, caplog)


def test_a_purge_that_does_not_commit_deletes_no_file(
    ann, group_room, image_upload, counting_storage, media_root, django_capture_on_commit_callbacks
):
    sent, _ = chat_actions.send_message(ann, group_room.id, attachments=[image_upload.id])
    chat_actions.delete_message(ann, sent["id"])

    with django_capture_on_commit_callbacks(execute=False):
        chat_actions.do_purge_messages([sent["id"]])

    assert counting_storage.deleted == []
    assert all((media_root / name).exists() for name in names_of(image_upload))
