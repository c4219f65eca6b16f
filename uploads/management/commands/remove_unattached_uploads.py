"""Delete uploads that were never attached to a message within the grace period.

An upload is made before the message that carries it; one that is still
unattached after ``UPLOAD_UNATTACHED_GRACE_HOURS`` (24 by default) was
abandoned (a closed tab, a cancelled message). Run it from cron, e.g. hourly.
``--orphans`` also sweeps stored files that no upload names (a crash between
storing and committing); on S3 that lists the bucket, so run it less often.
Exits non-zero when something could not be deleted (rows stay, so the next
run retries them).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from uploads.actions import remove_orphaned_files, remove_unattached_uploads


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
        parser.add_argument(
            "--orphans",
            action="store_true",
            help="Also delete stored files that no upload names, older than the grace period.",
        )

    def handle(self, *args, hours: int | None, dry_run: bool, orphans: bool, **options) -> None:
        hours = settings.UPLOAD_UNATTACHED_GRACE_HOURS if hours is None else hours
        if hours < 0:
            raise CommandError("--hours must be 0 or more.")
        older_than = timedelta(hours=hours)
        verb = "Would delete" if dry_run else "Deleted"
        try:
            result = remove_unattached_uploads(older_than=older_than, dry_run=dry_run)
            self.stdout.write(
                f"{verb} {result.uploads} unattached upload(s) older than {hours} h ({result.bytes} bytes)."
            )
            failed = result.failed
            if orphans:
                orphaned = remove_orphaned_files(older_than=older_than, dry_run=dry_run)
                self.stdout.write(f"{verb} {orphaned.uploads} orphaned file(s) ({orphaned.bytes} bytes).")
                failed += orphaned.failed
        except Exception as exc:
            raise CommandError(f"Cleanup failed: {exc}") from exc
        if failed:
            raise CommandError(f"{failed} upload(s) or file(s) kept: they could not be deleted (see log).")
