"""The durable part of presence: status, status text and last seen.

Which connections are alive right now lives in ``presence.store`` (Redis or
in-process), never in the database; only ``last_seen`` is written here, and
throttled.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Presence(models.Model):
    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        BUSY = "busy", "Busy"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="presence"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ONLINE)
    status_text = models.CharField(max_length=140, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # When the chosen status and its text return to online and "" (presence.actions.clear_expired_statuses);
    # null: kept until changed.
    status_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["status_expires_at"], condition=Q(status_expires_at__isnull=False), name="presence_expiry_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.status}"
