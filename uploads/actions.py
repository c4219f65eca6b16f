"""Uploads: accepting files, who may see them, attaching, removing and cleaning up.

Access, in one place (``get_visible_upload``):

- the owner sees their upload, attached or not;
- once attached to a message, the members of that message's room see it too,
  while the message is not deleted and the room not archived;
- moderators (``chat.permissions.is_moderator``) see attached uploads, as they
  see the messages; staff with the ``uploads.view_upload`` permission (the
  admin) see every upload;
- everyone else gets 404, never 403: an upload's existence is private.

A deleted message hides its attachments from the room (404), but not from
their owner: the file is the owner's own data, they uploaded it, and a
restored message (``chat.actions.restore_message``) must find it intact. To
take a file away from its owner too, a moderator removes it
(``remove_upload``), which deletes the stored files.

Stored files, in one place: they are deleted after the commit that deletes
their row (``signals.delete_files_with_row``, whoever deletes it: the admin,
a cascade, the retention purge) or removes it (``remove_upload``), both
through ``delete_files_after_commit``; ``delete_stored_files`` is the only
code that asks the storage to delete anything.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone

from chat.changes import mark_message_changed
from chat.models import Message, RoomMember
from chat.permissions import is_moderator
from core.errors import ActionError, forbidden, invalid, not_found
from core.publishing import publish, room_group
from core.ratelimit import check_rate
from core.validation import parse_id

from . import processing
from .models import Upload

logger = logging.getLogger(__name__)


# --- Creating -------------------------------------------------------------------------


QUOTA_WINDOW = timedelta(hours=24)


def check_upload_rate(user) -> None:
    """Count one upload request of ``user`` (``RATE_LIMIT_UPLOADS`` per ``RATE_LIMIT_UPLOADS_WINDOW`` s).

    Every request counts, accepted or refused: what the limit protects is
    the work of looking at a file, which a refused one costs too.
    """
    check_rate(
        "upload",
        user.pk,
        limit=settings.RATE_LIMIT_UPLOADS,
        window=settings.RATE_LIMIT_UPLOADS_WINDOW,
        what="uploads",
    )


def uploaded_bytes(user, since) -> int:
    """Bytes ``user`` uploaded since ``since`` (removed uploads included: they were stored), in one query."""
    return Upload.objects.filter(owner=user, created_at__gt=since).aggregate(total=Sum("size"))["total"] or 0


def check_upload_quota(user, size: int) -> None:
    """Refuse ``size`` more bytes when the user's last 24 hours of uploads would pass ``UPLOAD_QUOTA_BYTES_PER_DAY``.

    Over the quota is 429 ``rate_limited`` with ``retry_after``: the seconds
    until enough of the user's uploads are older than 24 hours for this one
    to fit (and ``limit``, ``used``). A single file larger than the whole
    quota could never fit: 413 ``too_large`` with ``limit``.
    """
    quota = settings.UPLOAD_QUOTA_BYTES_PER_DAY
    if quota <= 0:
        return
    if size > quota:
        raise ActionError(
            "too_large", f"The file is larger than the daily upload quota of {quota:,} bytes.", limit=quota
        )
    now = timezone.now()
    used = uploaded_bytes(user, now - QUOTA_WINDOW)
    if used + size <= quota:
        return
    retry_after = _seconds_until_fits(user, now, used + size - quota)
    raise ActionError(
        "rate_limited",
        f"Daily upload quota reached: {used:,} of {quota:,} bytes in the last 24 hours. Try again in {retry_after} s.",
        retry_after=retry_after,
        limit=quota,
        used=used,
    )


def _seconds_until_fits(user, now, excess: int) -> int:
    """When uploads totalling at least ``excess`` bytes have left the 24-hour window (oldest leave first)."""
    freed = 0
    recent = Upload.objects.filter(owner=user, created_at__gt=now - QUOTA_WINDOW).order_by("created_at", "id")
    for created_at, size in recent.values_list("created_at", "size").iterator():
        freed += size
        if freed >= excess:
            return max(1, math.ceil((created_at + QUOTA_WINDOW - now).total_seconds()))
    return max(1, math.ceil(QUOTA_WINDOW.total_seconds()))  # not reached: size <= quota


def _received_size(fp: IO[bytes]) -> int:
    size = getattr(fp, "size", None)
    if isinstance(size, int):
        return size
    position = fp.tell()
    size = fp.seek(0, io.SEEK_END)
    fp.seek(position)
    return size


def create_upload(user, fp: IO[bytes], original_name: str | None) -> Upload:
    """Check, process and store one file for ``user``; raises ``ActionError`` and stores nothing on failure.

    The checks, cheapest first: the request rate, then the daily quota with
    the received size (before any work on the file), then the file itself
    (``processing.prepare_upload``: type, pixels, and a turn in the image
    slots). The quota is checked again with the stored size in the
    transaction that saves the row, under a lock on the user's row, so
    concurrent uploads of one user cannot together pass it.

    The stored name is random (``upload_path``) with the extension of the
    detected type; the user's file name is kept only as ``original_name``.
    """
    check_upload_rate(user)
    check_upload_quota(user, _received_size(fp))
    prepared = processing.prepare_upload(fp, original_name)
    upload = Upload(
        owner=user,
        original_name=prepared.name,
        content_type=prepared.content_type,
        size=prepared.size,
        width=prepared.width,
        height=prepared.height,
        sha256=prepared.sha256,
    )
    stored: list[str] = []
    try:
        # An UploadedFile goes in as it is: a temporary file on disk is then moved, not copied.
        content = prepared.content if isinstance(prepared.content, File) else File(prepared.content)
        upload.file.save(f"upload.{prepared.kind.extension}", content, save=False)
        stored.append(upload.file.name)
        if prepared.thumbnail is not None:
            upload.thumbnail.save("thumbnail.webp", ContentFile(prepared.thumbnail), save=False)
            stored.append(upload.thumbnail.name)
        with transaction.atomic():
            list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
            check_upload_quota(user, prepared.size)
            upload.save()
    except BaseException:
        delete_stored_files(stored)
        raise
    return upload


# --- Reading --------------------------------------------------------------------------


def get_visible_upload(user, upload_id: Any) -> Upload:
    """An upload ``user`` may see (see the module docstring), or ``not_found``.

    Removed uploads are gone for everyone. At most two queries for a room
    member (the upload with its message and room, then the membership).
    """
    upload_id = parse_id(upload_id, "upload")
    upload = (
        Upload.objects.select_related("message", "message__room").filter(pk=upload_id, removed_at__isnull=True).first()
    )
    if upload is None:
        raise not_found("Upload")
    if upload.owner_id == user.id:
        return upload
    message = upload.message
    if (
        message is not None
        and message.deleted_at is None
        and not message.room.archived
        and RoomMember.objects.filter(room_id=message.room_id, user=user).exists()
    ):
        return upload
    if message is not None and is_moderator(user):
        return upload
    if user.is_active and user.is_staff and user.has_perm("uploads.view_upload"):
        return upload
    raise not_found("Upload")


def uploads_of(user, *, attached: bool | None = None) -> QuerySet[Upload]:
    """The caller's own uploads that still exist, newest first; optionally only (un)attached ones."""
    queryset = Upload.objects.filter(owner=user, removed_at__isnull=True).order_by("-created_at", "-id")
    if attached is not None:
        queryset = queryset.filter(message__isnull=not attached)
    return queryset


def image_renditions(user, upload_id: Any, sides: tuple[int, ...]) -> dict[int, bytes]:
    """Square WebP renditions (``processing.square_webp_renditions``) of one of the caller's own image uploads.

    For avatars: ``invalid`` for an upload that is not the caller's, is removed,
    or is not an image (one message, whichever it is: an upload's existence is
    private). Nothing is stored here; the caller stores what it keeps.
    """
    upload_id = parse_id(upload_id, "avatar")
    upload = Upload.objects.filter(pk=upload_id, owner=user, removed_at__isnull=True).first()
    if upload is None or not upload.is_image:
        raise invalid("`avatar` must be the id of an image you uploaded.")
    with upload.file.open("rb") as fp:
        return processing.square_webp_renditions(fp, sides)


# --- Attaching ------------------------------------------------------------------------


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


# --- Removing -------------------------------------------------------------------------


def remove_upload(moderator, upload_id: Any, reason: str = "") -> dict[str, Any]:
    """A moderator takes a file down: its stored files are deleted, the row stays as a record.

    If the upload is attached to a live message, the room gets
    ``attachment_removed`` (room, message and upload ids).
    The files are deleted after the commit, so a rolled-back removal loses
    nothing.
    """
    if not is_moderator(moderator):
        raise forbidden("Only moderators can remove uploads.")
    upload_id = parse_id(upload_id, "upload")
    if not isinstance(reason, str):
        raise invalid("`reason` must be a string.")
    with transaction.atomic():
        upload = Upload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None:
            raise not_found("Upload")
        if upload.removed_at is not None:
            raise ActionError("conflict", "The upload was already removed.")
        names = stored_names(upload)
        upload.removed_at = timezone.now()
        upload.file = ""
        upload.thumbnail = ""
        upload.save(update_fields=["removed_at", "file", "thumbnail"])
        room_id = None
        if upload.message_id is not None:
            message = Message.objects.select_related("sender").get(pk=upload.message_id)
            room_id = message.room_id
            mark_message_changed(message)  # one attachment fewer
            if message.deleted_at is None:
                publish(
                    room_group(message.room_id),
                    "attachment_removed",
                    {"room": message.room_id, "message": message.id, "upload": upload.pk},
                )
        delete_files_after_commit(names)
    logger.info(
        "upload %s removed by moderator %s (message %s): %s", upload.pk, moderator.pk, upload.message_id, reason
    )
    return {
        "upload": upload.pk,
        "message": upload.message_id,
        "room": room_id,
        "removed_at": upload.removed_at.isoformat().replace("+00:00", "Z"),
    }


def stored_names(upload: Upload) -> list[str]:
    """The names of the files ``upload`` has in storage (none once removed)."""
    return [name for name in (upload.file.name, upload.thumbnail.name) if name]


def delete_files_after_commit(names: list[str]) -> None:
    """Delete the files of a row that goes or is removed once that change commits:
    a rolled-back delete or removal keeps its files."""
    if names:
        transaction.on_commit(lambda: delete_stored_files(names))


def delete_stored_files(names: list[str]) -> list[str]:
    """Delete files from storage; returns the names that could not be deleted (and logs them)."""
    failed = []
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("could not delete stored file %s", name)
            failed.append(name)
    return failed


@dataclass
class CleanupResult:
    uploads: int = 0
    bytes: int = 0
    failed: int = 0


def remove_unattached_uploads(*, older_than: timedelta, dry_run: bool = False, batch_size: int = 200) -> CleanupResult:
    """Delete uploads never attached to a message within ``older_than`` (rows and files).

    Each batch is locked while its files are deleted, so a message being sent
    cannot attach an upload that is disappearing (it waits, then finds it
    gone and refuses). Unlike every other deletion, the files go BEFORE the
    rows: an upload whose files cannot be deleted keeps its row, so the next
    run tries again (it is counted in ``failed``); the rows that go have
    their names emptied first, so ``delete_files_with_row`` finds nothing
    left to delete.
    """
    cutoff = timezone.now() - older_than
    candidates = Upload.objects.filter(message__isnull=True, created_at__lt=cutoff)
    result = CleanupResult()
    if dry_run:
        for size in candidates.values_list("size", flat=True).iterator():
            result.uploads += 1
            result.bytes += size
        return result
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                candidates.filter(pk__gt=last_id)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .only("pk", "file", "thumbnail", "size")[:batch_size]
            )
            if not batch:
                break
            last_id = batch[-1].pk
            deleted_ids = []
            for upload in batch:
                if delete_stored_files(stored_names(upload)):
                    result.failed += 1
                    continue
                deleted_ids.append(upload.pk)
                result.bytes += upload.size
            if deleted_ids:
                # Names emptied first: the post_delete cleanup then has nothing left to do (no second delete).
                Upload.objects.filter(pk__in=deleted_ids).update(file="", thumbnail="")
                Upload.objects.filter(pk__in=deleted_ids).delete()
            result.uploads += len(deleted_ids)
    return result


STORAGE_PREFIXES = ("uploads", "thumbnails")


def remove_orphaned_files(*, older_than: timedelta, dry_run: bool = False, batch_size: int = 500) -> CleanupResult:
    """Delete stored files that no upload row names (older than ``older_than``).

    They are left behind when a process dies between storing a file and
    committing its row, or when deleting a file after a removal failed. The
    age check keeps files of uploads still being made. On S3 this lists the
    prefixes and asks each object's time: run it now and then, not hourly.
    """
    cutoff = timezone.now() - older_than
    result = CleanupResult()
    for prefix in STORAGE_PREFIXES:
        try:
            _, names = default_storage.listdir(prefix)
        except FileNotFoundError:
            continue
        paths = [f"{prefix}/{name}" for name in names]
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            field = "file" if prefix == "uploads" else "thumbnail"
            known = set(Upload.objects.filter(**{f"{field}__in": batch}).values_list(field, flat=True))
            for path in batch:
                if path in known or default_storage.get_modified_time(path) >= cutoff:
                    continue
                size = default_storage.size(path)
                if not dry_run and delete_stored_files([path]):
                    result.failed += 1
                    continue
                result.uploads += 1
                result.bytes += size
    return result
