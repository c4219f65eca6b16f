"""Who may see an upload: owner, room members once attached, moderators; everyone else 404.

Also what downloads look like: headers that keep a browser from treating a
file as a page of this origin.
"""

from __future__ import annotations

import pytest

from chat import actions as chat_actions
from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db

ENDPOINTS = ("/api/v1/uploads/{}/", "/api/v1/uploads/{}/download/", "/api/v1/uploads/{}/thumbnail/")


def statuses(client, upload_id: int) -> list[int]:
    return [client.get(endpoint.format(upload_id)).status_code for endpoint in ENDPOINTS]


@pytest.fixture
def image_upload(ann, upload_file) -> Upload:
    response = upload_file(ann, "photo.png", files.image_bytes())
    assert response.status_code == 201
    return Upload.objects.get(pk=response.json()["id"])


@pytest.fixture
def attached_image(ann, group_room, image_upload) -> Upload:
    payload, _ = chat_actions.send_message(ann, group_room.id, attachments=[image_upload.id])
    image_upload.refresh_from_db()
    image_upload.sent = payload
    return image_upload


def test_owner_sees_an_unattached_upload(ann, image_upload, api_for):
    assert statuses(api_for(ann), image_upload.id) == [200, 200, 200]


def test_room_member_does_not_see_an_unattached_upload(bob, image_upload, api_for):
    assert statuses(api_for(bob), image_upload.id) == [404, 404, 404]


def test_room_member_sees_an_attached_upload(bob, attached_image, api_for):
    client = api_for(bob)

    assert statuses(client, attached_image.id) == [200, 200, 200]
    assert client.get(f"/api/v1/uploads/{attached_image.id}/").json() == attached_image.sent["attachments"][0]


def test_non_member_gets_404_for_an_attached_upload(cat, attached_image, api_for):
    assert statuses(api_for(cat), attached_image.id) == [404, 404, 404]


def test_unknown_upload_is_404(ann, api_for):
    assert statuses(api_for(ann), 999_999) == [404, 404, 404]


def test_deleted_message_hides_its_attachments_from_the_room(ann, bob, attached_image, api_for):
    chat_actions.delete_message(ann, attached_image.message_id)

    assert statuses(api_for(bob), attached_image.id) == [404, 404, 404]


def test_owner_keeps_their_upload_after_deleting_the_message(ann, attached_image, api_for):
    chat_actions.delete_message(ann, attached_image.message_id)

    assert statuses(api_for(ann), attached_image.id) == [200, 200, 200]


def test_restored_message_shows_its_attachments_again(ann, bob, attached_image, moderator, api_for):
    chat_actions.delete_message(ann, attached_image.message_id)
    chat_actions.restore_message(moderator, attached_image.message_id)

    assert statuses(api_for(bob), attached_image.id) == [200, 200, 200]


def test_member_who_left_the_room_loses_access(bob, group_room, attached_image, api_for):
    chat_actions.leave_room(bob, group_room.id)

    assert statuses(api_for(bob), attached_image.id) == [404, 404, 404]


def test_moderator_sees_attached_but_not_unattached_uploads(ann, moderator, attached_image, upload_file, api_for):
    loose = upload_file(ann, "loose.png", files.image_bytes()).json()["id"]

    assert statuses(api_for(moderator), attached_image.id) == [200, 200, 200]
    assert statuses(api_for(moderator), loose) == [404, 404, 404]


def test_access_check_takes_two_queries_for_a_member(bob, attached_image, django_assert_num_queries):
    from uploads.actions import get_visible_upload

    with django_assert_num_queries(2):
        assert get_visible_upload(bob, attached_image.id).pk == attached_image.pk


def test_image_download_is_inline_with_its_type_and_nosniff(ann, image_upload, api_for):
    response = api_for(ann).get(f"/api/v1/uploads/{image_upload.id}/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline; filename=\"photo.png\"; filename*=UTF-8''photo.png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert int(response["Content-Length"]) == image_upload.size
    assert b"".join(response.streaming_content) == image_upload.file.open("rb").read()


def test_thumbnail_is_served_as_webp(ann, image_upload, api_for):
    response = api_for(ann).get(f"/api/v1/uploads/{image_upload.id}/thumbnail/")

    assert response["Content-Type"] == "image/webp"
    assert response["Content-Disposition"].startswith('inline; filename="photo-thumbnail.webp"')
    assert files.open_image(b"".join(response.streaming_content)).format == "WEBP"


def test_documents_download_as_attachments_with_the_encoded_original_name(ann, upload_file, api_for):
    upload_id = upload_file(ann, 'Отчёт "final".html.txt', b"<script>alert(1)</script>").json()["id"]

    response = api_for(ann).get(f"/api/v1/uploads/{upload_id}/download/")

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == (
        'attachment; filename="_____ _final_.html.txt"; '
        "filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20_final_.html.txt"
    )
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_documents_have_no_thumbnail(ann, upload_file, api_for):
    upload_id = upload_file(ann, "a.pdf", b"%PDF-1.4\n%%EOF\n").json()["id"]

    response = api_for(ann).get(f"/api/v1/uploads/{upload_id}/thumbnail/")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_anonymous_download_is_refused(image_upload):
    from rest_framework.test import APIClient

    assert APIClient().get(f"/api/v1/uploads/{image_upload.id}/download/").status_code == 401


def test_a_cached_copy_is_revalidated_with_the_etag(ann, bob, attached_image, api_for):
    first = api_for(ann).get(f"/api/v1/uploads/{attached_image.id}/download/")
    assert first["ETag"] == f'"{attached_image.sha256}"'

    again = api_for(ann).get(f"/api/v1/uploads/{attached_image.id}/download/", HTTP_IF_NONE_MATCH=first["ETag"])
    thumbnail = api_for(ann).get(f"/api/v1/uploads/{attached_image.id}/thumbnail/")
    thumbnail_again = api_for(ann).get(
        f"/api/v1/uploads/{attached_image.id}/thumbnail/", HTTP_IF_NONE_MATCH=thumbnail["ETag"]
    )

    assert (again.status_code, again.content) == (304, b"")
    assert thumbnail_again.status_code == 304


def test_the_etag_does_not_bypass_the_access_check(cat, attached_image, api_for):
    response = api_for(cat).get(
        f"/api/v1/uploads/{attached_image.id}/download/", HTTP_IF_NONE_MATCH=f'"{attached_image.sha256}"'
    )

    assert response.status_code == 404
