"""Delete read notifications older than N days (unread ones are always kept)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from notifications.actions import prune_read_notifications


class Command(BaseCommand):
    help = (
        "Delete read notifications created more than --days days ago "
        "(default: settings.NOTIFICATIONS_RETENTION_DAYS). Unread notifications are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Age in days (default {settings.NOTIFICATIONS_RETENTION_DAYS}, from NOTIFICATIONS_RETENTION_DAYS).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, days: int | None = None, dry_run: bool = False, **options) -> None:
        if days is None:
            days = settings.NOTIFICATIONS_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        try:
            count = prune_read_notifications(days=days, dry_run=dry_run)
        except DatabaseError as error:
            raise CommandError(f"Pruning failed, nothing was deleted: {error}") from error
        if dry_run:
            self.stdout.write(f"Would delete {count} read notification(s) older than {days} day(s) (dry run).")
        else:
            self.stdout.write(f"Deleted {count} read notification(s) older than {days} day(s).")
