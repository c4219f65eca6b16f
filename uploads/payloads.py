"""The upload object of the wire contract."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def upload_payload(upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "name": upload.original_name,
        "content_type": upload.content_type,
        "size": upload.size,
        "url": reverse("upload-download", args=[upload.id]),
        "thumbnail_url": reverse("upload-thumbnail", args=[upload.id]) if upload.thumbnail else None,
        "width": upload.width,
        "height": upload.height,
        "created_at": upload.created_at.isoformat().replace("+00:00", "Z") if upload.created_at else None,
    }
