"""Attaching uploads to messages through chat.actions.send_message, and what messages then carry."""

from __future__ import annotations

import pytest

from chat import actions as chat_actions
from chat.models import Message
from core.errors import ActionError
from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_id(upload_file):
    def make(user, name="photo.png", data=None) -> int:
        response = upload_file(user, name, data if data is not None else files.image_bytes((640, 480)))
        assert response.status_code == 201, response.content
        return response.json()["id"]

    return make


def test_image_attachments_make_an_image_message_with_thumbnails(ann, group_room, upload_id):
    first, second = upload_id(ann), upload_id(ann, "b.gif", files.animated_gif())

    payload, created = chat_actions.send_message(ann, group_room.id, attachments=[first, second])

    assert created and payload["kind"] == "image"
    assert [a["id"] for a in payload["attachments"]] == [first, second]
    attachment = payload["attachments"][0]
    assert attachment["thumbnail_url"] == f"/api/v1/uploads/{first}/thumbnail/"
    assert (attachment["width"], attachment["height"], attachment["content_type"]) == (640, 480, "image/png")
    assert Upload.objects.get(pk=first).message_id == payload["id"]


def test_a_document_makes_a_file_message_with_name_and_size(ann, group_room, upload_id):
    document = upload_id(ann, "notes.txt", b"hello")

    payload, _ = chat_actions.send_message(ann, group_room.id, body="see notes", attachments=[document])

    assert payload["kind"] == "file"
    attachment = payload["attachments"][0]
    assert (attachment["name"], attachment["size"], attachment["thumbnail_url"]) == ("notes.txt", 5, None)


def test_history_shows_the_same_attachments_as_the_live_event(ann, bob, group_room, upload_id, api_for):
    sent, _ = chat_actions.send_message(ann, group_room.id, attachments=[upload_id(ann)])

    history = api_for(bob).get(f"/api/v1/rooms/{group_room.id}/messages/").json()

    messages = history["messages"] if isinstance(history, dict) else history
    assert [m for m in messages if m["id"] == sent["id"]][0]["attachments"] == sent["attachments"]


def test_attaching_someone_elses_upload_is_refused(ann, bob, group_room, upload_id):
    anns = upload_id(ann)

    with pytest.raises(ActionError) as error:
        chat_actions.send_message(bob, group_room.id, body="mine now", attachments=[anns])

    assert error.value.code == "invalid"
    assert Upload.objects.get(pk=anns).message_id is None
    assert not Message.objects.filter(sender=bob).exists()


def test_attaching_an_upload_twice_is_refused(ann, group_room, upload_id):
    once = upload_id(ann)
    first, _ = chat_actions.send_message(ann, group_room.id, attachments=[once])

    with pytest.raises(ActionError) as error:
        chat_actions.send_message(ann, group_room.id, body="again", attachments=[once])

    assert error.value.code == "invalid"
    assert Upload.objects.get(pk=once).message_id == first["id"]
    assert Message.objects.filter(room=group_room).count() == 1


def test_attaching_through_rest_refuses_someone_elses_upload(ann, bob, group_room, upload_id, api_for):
    anns = upload_id(ann)

    response = api_for(bob).post(
        f"/api/v1/rooms/{group_room.id}/messages/", {"body": "x", "attachments": [anns]}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_attaching_a_removed_upload_is_refused(ann, group_room, upload_id, moderator):
    from uploads.actions import remove_upload

    removed = upload_id(ann)
    remove_upload(moderator, removed)

    with pytest.raises(ActionError):
        chat_actions.send_message(ann, group_room.id, attachments=[removed])


def test_purging_a_message_deletes_its_uploads_and_files(
    ann, group_room, upload_id, media_root, django_capture_on_commit_callbacks
):
    sent, _ = chat_actions.send_message(ann, group_room.id, attachments=[upload_id(ann)])
    upload = Upload.objects.get(message_id=sent["id"])
    paths = [media_root / upload.file.name, media_root / upload.thumbnail.name]
    assert all(path.exists() for path in paths)

    with django_capture_on_commit_callbacks(execute=True):
        Message.objects.filter(pk=sent["id"]).delete()

    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not any(path.exists() for path in paths)
