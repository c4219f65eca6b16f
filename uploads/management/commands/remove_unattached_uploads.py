"""Delete uploads that were never attached to a message within the grace period.

An upload is made before the message that carries it; one that is still
unattached after ``UPLOAD_UNATTACHED_GRACE_HOURS`` (24 by default) was
abandoned (a closed tab, a cancelled message). Run it from cron, e.g. hourly.
Exits non-zero when some stored files could not be deleted (their rows stay
and the next run retries them).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from uploads.actions import remove_unattached_uploads


class Command(BaseCommand):
    help = "Delete uploads never attached to a message within the grace period (UPLOAD_UNATTACHED_GRACE_HOURS)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--hours",
            type=int,
            default=None,
            help="Grace period in hours (default: the UPLOAD_UNATTACHED_GRACE_HOURS setting).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")

    def handle(self, *args, hours: int | None, dry_run: bool, **options) -> None:
        hours = settings.UPLOAD_UNATTACHED_GRACE_HOURS if hours is None else hours
        if hours < 0:
            raise CommandError("--hours must be 0 or more.")
        try:
            result = remove_unattached_uploads(older_than=timedelta(hours=hours), dry_run=dry_run)
        except Exception as exc:
            raise CommandError(f"Cleanup failed: {exc}") from exc
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(f"{verb} {result.uploads} unattached upload(s) older than {hours} h ({result.bytes} bytes).")
        if result.failed:
            raise CommandError(f"{result.failed} upload(s) kept: their stored files could not be deleted (see log).")
