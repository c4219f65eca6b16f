"""Stored notifications: what a user is told about while away.

Rows are written only by ``notifications.actions`` (the rules live there) and
read through ``notifications.queries``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    class Kind(models.TextChoices):
        MENTION = "mention", "Mention"
        DM = "dm", "Direct message"
        REPLY = "reply", "Reply"
        SYSTEM = "system", "System"
        THREAD_REPLY = "thread_reply", "Reply in a followed thread"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    room = models.ForeignKey("chat.Room", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "chat.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One notification per message and recipient, whatever its kind: a
            # message that both mentions and replies to someone, or an edit that
            # mentions someone already told about it, must not notify twice.
            # (NULL messages, i.e. system notifications, never collide.)
            models.UniqueConstraint(fields=["recipient", "message"], name="notification_unique_recipient_message")
        ]
        indexes = [
            # The notification centre pages newest first by id.
            models.Index(fields=["recipient", "-id"], name="notification_recipient_idx"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"
