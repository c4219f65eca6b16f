"""Erase soft-deleted messages for good once the retention period is over.

A soft delete keeps the row so a moderator can restore it; after
``MESSAGE_RETENTION_DAYS`` the message, its reactions, its attachments' rows
and their files are removed, by ``chat.actions.do_purge_messages``. Works in
batches, each its own transaction; the files of a batch are deleted once its
transaction committed (a failed batch leaves its files in place), by the
uploads app's ``post_delete`` receiver. A file that cannot be deleted then is
logged and left for ``remove_unattached_uploads --orphans``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Sum
from django.utils import timezone

from chat.actions import do_purge_messages
from chat.models import Message, Reaction
from uploads.models import Upload


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

        totals = {"messages": 0, "reactions": 0, "attachments": 0, "files": 0, "bytes": 0}
        while True:
            ids = list(due.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            purged = do_purge_messages(ids)
            for key in totals:
                totals[key] += getattr(purged, key)
        self.stdout.write(
            f"Purged {totals['messages']} message(s) deleted before {cutoff:%Y-%m-%d %H:%M} UTC, "
            f"{totals['reactions']} reaction(s), {totals['attachments']} attachment(s), "
            f"{totals['files']} file(s), {totals['bytes']} bytes."
        )
