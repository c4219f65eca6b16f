"""Reads of notifications."""

from __future__ import annotations

from .models import Notification


def unread_notification_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
