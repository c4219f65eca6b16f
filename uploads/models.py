"""Uploaded files: images (with a web-sized version and a thumbnail) and documents.

An upload belongs to its owner until it is attached to a message; from then
on the members of that message's room may see it too.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def upload_path(instance: "Upload", filename: str) -> str:
    # Unguessable and free of the user's file name, which is kept as metadata only.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"uploads/{secrets.token_urlsafe(24)}.{extension}"


def thumbnail_path(instance: "Upload", filename: str) -> str:
    return f"thumbnails/{secrets.token_urlsafe(24)}.webp"


class Upload(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to=upload_path, max_length=200)
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=200, blank=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    # A purged message takes its attachments with it (rows here, files by the
    # post_delete signal): with SET_NULL they would become unattached again,
    # visible to and re-attachable by their owner.
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    # Set when a moderator removes the file; the row stays so the message can say so.
    removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="upload_owner_idx"),
            models.Index(fields=["created_at"], condition=Q(message__isnull=True), name="upload_unattached_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
