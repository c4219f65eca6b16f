"""Counts an operator wants at a glance: users, rooms, messages per day, storage used.

A fixed number of aggregate queries, whatever the size of the site.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from chat.models import Message, Room
from uploads.models import Upload

User = get_user_model()


def collect(days: int) -> dict[str, Any]:
    now = timezone.now()
    today = now.date()
    since = today - timedelta(days=days - 1)
    users = User.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(is_active=True)),
        suspended=Count("pk", filter=Q(is_active=False)),
        staff=Count("pk", filter=Q(is_staff=True)),
        joined_last_7_days=Count("pk", filter=Q(date_joined__gte=now - timedelta(days=7))),
    )
    rooms = Room.objects.aggregate(
        total=Count("pk"),
        group=Count("pk", filter=Q(kind=Room.Kind.GROUP, archived=False)),
        direct=Count("pk", filter=Q(kind=Room.Kind.DIRECT, archived=False)),
        public=Count("pk", filter=Q(is_public=True, archived=False)),
        archived=Count("pk", filter=Q(archived=True)),
    )
    messages = Message.objects.aggregate(
        total=Count("pk"),
        deleted=Count("pk", filter=Q(deleted_at__isnull=False)),
        last_24_hours=Count("pk", filter=Q(created_at__gte=now - timedelta(hours=24))),
    )
    per_day_rows = (
        Message.objects.filter(created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("pk"))
        .order_by("day")
    )
    per_day_counts = {row["day"]: row["count"] for row in per_day_rows}
    per_day = [
        {
            "date": (since + timedelta(days=offset)).isoformat(),
            "messages": per_day_counts.get(since + timedelta(days=offset), 0),
        }
        for offset in range(days)
    ]
    storage = Upload.objects.aggregate(
        files=Count("pk", filter=Q(removed_at__isnull=True)),
        bytes=Sum("size", filter=Q(removed_at__isnull=True), default=0),
        removed=Count("pk", filter=Q(removed_at__isnull=False)),
        unattached=Count("pk", filter=Q(message__isnull=True, removed_at__isnull=True)),
    )
    return {
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "users": users,
        "rooms": rooms,
        "messages": messages,
        "messages_per_day": per_day,
        "storage": storage,
    }


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


class Command(BaseCommand):
    help = "Print site statistics: users, rooms, messages per day and upload storage used."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=14, help="Days of messages-per-day to show (default 14).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")

    def handle(self, *args, days: int, json: bool, **options) -> None:
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        stats = collect(days)
        if json:
            self.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode())
            return
        users, rooms, messages, storage = stats["users"], stats["rooms"], stats["messages"], stats["storage"]
        lines = [
            f"Users: {users['total']} ({users['active']} active, {users['suspended']} suspended, "
            f"{users['staff']} staff, {users['joined_last_7_days']} joined in the last 7 days)",
            f"Rooms: {rooms['total']} ({rooms['group']} group, {rooms['direct']} direct, {rooms['public']} public, "
            f"{rooms['archived']} archived)",
            f"Messages: {messages['total']} ({messages['deleted']} deleted, "
            f"{messages['last_24_hours']} in the last 24 hours)",
            f"Storage: {human_bytes(storage['bytes'])} in {storage['files']} file(s) "
            f"({storage['unattached']} unattached, {storage['removed']} removed)",
            f"Messages per day, last {days} day(s):",
            *(f"  {row['date']}  {row['messages']}" for row in stats["messages_per_day"]),
        ]
        self.stdout.write("\n".join(lines))
