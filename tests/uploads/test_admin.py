"""The uploads admin: thumbnail previews that load, and the moderators' removal action."""

from __future__ import annotations

import pytest

from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client.force_login(admin)
    return client


def test_changelist_shows_thumbnail_previews_that_staff_can_load(ann, upload_file, admin_client_for):
    upload_id = upload_file(ann, "photo.png", files.image_bytes()).json()["id"]

    page = admin_client_for.get("/admin/uploads/upload/")

    assert page.status_code == 200
    assert f'src="/api/v1/uploads/{upload_id}/thumbnail/"' in page.content.decode()
    thumbnail = admin_client_for.get(f"/api/v1/uploads/{upload_id}/thumbnail/")
    assert (thumbnail.status_code, thumbnail["Content-Type"]) == (200, "image/webp")


def test_admin_cannot_add_uploads_by_hand(admin_client_for):
    assert admin_client_for.get("/admin/uploads/upload/add/").status_code == 403


def test_remove_action_removes_the_selected_uploads(ann, upload_file, admin_client_for):
    upload_id = upload_file(ann, "photo.png", files.image_bytes()).json()["id"]

    response = admin_client_for.post(
        "/admin/uploads/upload/", {"action": "remove_selected", "_selected_action": [upload_id]}, follow=True
    )

    assert "Removed 1 upload(s)." in response.content.decode()
    assert Upload.objects.get(pk=upload_id).removed_at is not None
