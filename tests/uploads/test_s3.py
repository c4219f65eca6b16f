"""The same uploads on S3-compatible storage (django-storages), against moto's in-process S3."""

from __future__ import annotations

import pytest

from uploads.actions import remove_upload
from uploads.models import Upload

from . import files

moto = pytest.importorskip("moto")

pytestmark = pytest.mark.django_db
BUCKET = "confab-test-uploads"


@pytest.fixture
def s3_bucket(settings, monkeypatch):
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": BUCKET, "default_acl": "private", "file_overwrite": False},
            },
        }
        yield client


def keys(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_image_is_stored_in_the_bucket_and_served_through_the_app(ann, upload_file, api_for, s3_bucket, media_root):
    response = upload_file(ann, "photo.jpg", files.jpeg_with_orientation_and_gps())

    assert response.status_code == 201, response.content
    upload = Upload.objects.get(pk=response.json()["id"])
    assert keys(s3_bucket) == {upload.file.name, upload.thumbnail.name}
    assert not any(path.is_file() for path in media_root.rglob("*"))  # nothing on the local disk
    download = api_for(ann).get(f"/api/v1/uploads/{upload.id}/download/")
    data = b"".join(download.streaming_content)
    assert (download.status_code, download["Content-Type"]) == (200, "image/jpeg")
    assert data == s3_bucket.get_object(Bucket=BUCKET, Key=upload.file.name)["Body"].read()
    assert files.open_image(data).size == (200, 400) and b"Exif" not in data


def test_document_and_removal_on_s3(
    ann, moderator, upload_file, api_for, s3_bucket, django_capture_on_commit_callbacks
):
    upload_id = upload_file(ann, "notes.md", b"# notes\n").json()["id"]
    upload = Upload.objects.get(pk=upload_id)
    assert b"".join(api_for(ann).get(f"/api/v1/uploads/{upload_id}/download/").streaming_content) == b"# notes\n"

    with django_capture_on_commit_callbacks(execute=True):
        remove_upload(moderator, upload_id)

    assert upload.file.name not in keys(s3_bucket)
    assert keys(s3_bucket) == set()


def test_orphan_sweep_lists_the_bucket_and_keeps_named_files(ann, group_room, upload_file, s3_bucket, capsys):
    from django.core.management import call_command

    from chat.actions import send_message

    upload = Upload.objects.get(pk=upload_file(ann, "a.txt", b"text").json()["id"])
    send_message(ann, group_room.id, attachments=[upload.id])
    s3_bucket.put_object(Bucket=BUCKET, Key="uploads/orphan.txt", Body=b"lost")

    call_command("remove_unattached_uploads", "--orphans", "--hours", "0")

    assert "Deleted 1 orphaned file(s) (4 bytes)." in capsys.readouterr().out
    assert keys(s3_bucket) == {upload.file.name}
