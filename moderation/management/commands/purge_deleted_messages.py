"""Erase soft-deleted messages for good once the retention period is over.

A soft delete keeps the row so a moderator can restore it; after
``MESSAGE_RETENTION_DAYS`` the message, its reactions, its attachments' rows
and their files are removed. Works in batches, each its own transaction, and
deletes files only after the rows' transaction committed (a failed batch
leaves its files in place).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from chat.history_cache import note_history_changed
from chat.models import Message, Reaction


class Command(BaseCommand):
    help = "Permanently delete messages soft-deleted more than MESSAGE_RETENTION_DAYS ago, with reactions and files."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Retention in days (default: settings.MESSAGE_RETENTION_DAYS = {settings.MESSAGE_RETENTION_DAYS}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Messages per transaction (default 500).")

    def handle(self, *args, days: int | None, dry_run: bool, batch_size: int, **options) -> None:
        from uploads.models import Upload

        days = settings.MESSAGE_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        due = Message.objects.filter(deleted_at__isnull=False, deleted_at__lt=cutoff)

        if dry_run:
            reactions = Reaction.objects.filter(message__in=due).count()
            uploads = Upload.objects.filter(message__in=due).aggregate(count=Count("pk"), bytes=Sum("size", default=0))
            self.stdout.write(
                f"Dry run: would purge {due.count()} message(s) deleted before {cutoff:%Y-%m-%d %H:%M} UTC, "
                f"{reactions} reaction(s), {uploads['count']} attachment(s) ({uploads['bytes']} bytes)."
            )
            return

        totals = {"messages": 0, "reactions": 0, "uploads": 0, "files": 0, "bytes": 0}
        failed_files: list[str] = []
        while True:
            ids = list(due.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            with transaction.atomic():
                # Replies to a purged message lose their `reply_to`, and the message leaves its room's history.
                note_history_changed(Message.objects.filter(pk__in=ids).values_list("room_id", flat=True).distinct())
                uploads = list(Upload.objects.filter(message_id__in=ids).values_list("pk", "file", "thumbnail", "size"))
                totals["reactions"] += Reaction.objects.filter(message_id__in=ids).delete()[0]
                totals["uploads"] += Upload.objects.filter(pk__in=[u[0] for u in uploads]).delete()[0]
                totals["messages"] += Message.objects.filter(pk__in=ids).delete()[1].get(Message._meta.label, 0)
            # Files go only after their rows are gone for good.
            for _, file_name, thumbnail_name, size in uploads:
                totals["bytes"] += size
                for name in (file_name, thumbnail_name):
                    if not name:
                        continue
                    try:
                        default_storage.delete(name)
                        totals["files"] += 1
                    except Exception as error:  # storage errors vary by backend
                        failed_files.append(f"{name}: {error}")
        self.stdout.write(
            f"Purged {totals['messages']} message(s) deleted before {cutoff:%Y-%m-%d %H:%M} UTC, "
            f"{totals['reactions']} reaction(s), {totals['uploads']} attachment(s), "
            f"{totals['files']} file(s), {totals['bytes']} bytes."
        )
        if failed_files:
            raise CommandError(f"{len(failed_files)} file(s) could not be deleted: " + "; ".join(failed_files[:10]))
