"""``manage.py prune_notifications``: read notifications older than N days go, the rest stay."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from notifications.models import Notification
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.django_db


def stored(recipient, *, age_days: float, read: bool) -> Notification:
    """A stored notification of a given age (made by hand: pruning is what is under test)."""
    notification = Notification.objects.create(recipient=recipient, kind=Notification.Kind.SYSTEM)
    created = timezone.now() - timedelta(days=age_days)
    Notification.objects.filter(pk=notification.pk).update(
        created_at=created, read_at=created + timedelta(minutes=5) if read else None
    )
    return notification


@pytest.fixture
def mix(bob):
    """Old read, old unread, recent read, recent unread."""
    return {
        "old_read": stored(bob, age_days=40, read=True),
        "old_unread": stored(bob, age_days=40, read=False),
        "recent_read": stored(bob, age_days=3, read=True),
        "recent_unread": stored(bob, age_days=3, read=False),
    }


def prune(*args) -> str:
    out = StringIO()
    call_command("prune_notifications", *args, stdout=out)
    return out.getvalue()


def remaining(mix) -> set[str]:
    ids = set(Notification.objects.values_list("id", flat=True))
    return {name for name, notification in mix.items() if notification.id in ids}


def test_prune_deletes_read_notifications_older_than_the_retention_setting(settings, mix):
    settings.NOTIFICATIONS_RETENTION_DAYS = 30
    output = prune()
    assert remaining(mix) == {"old_unread", "recent_read", "recent_unread"}
    assert output == "Deleted 1 read notification(s) older than 30 day(s).\n"


def test_prune_days_overrides_the_setting(settings, mix):
    settings.NOTIFICATIONS_RETENTION_DAYS = 30
    output = prune("--days", "2")
    assert remaining(mix) == {"old_unread", "recent_unread"}
    assert output == "Deleted 2 read notification(s) older than 2 day(s).\n"


def test_prune_never_deletes_unread_notifications(mix):
    prune("--days", "0")
    assert remaining(mix) == {"old_unread", "recent_unread"}


def test_dry_run_counts_and_changes_nothing(mix):
    output = prune("--days", "2", "--dry-run")
    assert output == "Would delete 2 read notification(s) older than 2 day(s) (dry run).\n"
    assert remaining(mix) == set(mix)


def test_prune_with_nothing_to_delete_says_zero(mix):
    assert prune("--days", "100") == "Deleted 0 read notification(s) older than 100 day(s).\n"
    assert remaining(mix) == set(mix)


def test_negative_days_fail_and_change_nothing(mix):
    with pytest.raises(CommandError, match="--days must be 0 or more"):
        prune("--days", "-1")
    assert remaining(mix) == set(mix)


def test_a_database_failure_exits_non_zero_with_the_reason(tmp_path):
    """Run as a real process on a database without the tables: exit status 1 and the error, no traceback."""
    result = subprocess.run(
        [sys.executable, "manage.py", "prune_notifications", "--days", "3"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"},
    )
    assert result.returncode == 1
    assert "Pruning failed, nothing was deleted: no such table: notifications_notification" in result.stderr
    assert "Traceback" not in result.stderr
