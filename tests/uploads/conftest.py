"""Uploads tests write into a temporary MEDIA_ROOT, never into the repository."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def upload_file(api_for):
    """POST a file to /api/v1/uploads/ as ``user``; returns the response."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(user, name: str, data: bytes, content_type: str = "application/octet-stream"):
        return api_for(user).post(
            "/api/v1/uploads/", {"file": SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart"
        )

    return upload


@pytest.fixture
def moderator(make_user):
    from django.contrib.auth.models import Permission

    user = make_user("mod", display_name="Mod")
    user.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache
