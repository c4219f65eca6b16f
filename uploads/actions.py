"""Uploads: accepting files and attaching them to messages."""

from __future__ import annotations

from chat.errors import invalid

from .models import Upload


def attach_uploads(user, message, upload_ids: list[int]) -> list[Upload]:
    """Attach the caller's own, not yet attached uploads to ``message``.

    Runs inside the send transaction; the rows are locked so one upload cannot
    be attached to two messages by two racing sends.
    """
    uploads = list(
        Upload.objects.select_for_update().filter(
            pk__in=upload_ids, owner=user, message__isnull=True, removed_at__isnull=True
        )
    )
    if len(uploads) != len(upload_ids):
        raise invalid("Some `attachments` are not your uploads, or are attached to another message already.")
    Upload.objects.filter(pk__in=upload_ids).update(message=message)
    by_id = {upload.pk: upload for upload in uploads}
    ordered = [by_id[pk] for pk in upload_ids]
    for upload in ordered:
        upload.message = message
    return ordered
