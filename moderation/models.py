"""Reports from users and the audit log of what moderators did.

Both are written only by ``moderation.actions``; admin shows them. The audit
log keeps a text description of its target beside the id, so an entry still
reads correctly after the message, member or upload it names is gone.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

REPORT_REASON_MAX_LENGTH = 1000
AUDIT_REASON_MAX_LENGTH = 500


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    message = models.ForeignKey("chat.Message", on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports")
    reason = models.TextField(max_length=REPORT_REASON_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A reporter cannot pile up open reports on one message; after a
            # moderator closed one, they may report it again.
            models.UniqueConstraint(
                fields=["message", "reporter"], condition=Q(status="open"), name="report_one_open_per_reporter"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="report_queue_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Report {self.pk} on message {self.message_id} ({self.status})"


class AuditLog(models.Model):
    class Action(models.TextChoices):
        DELETE_MESSAGE = "delete_message", "Deleted a message"
        RESTORE_MESSAGE = "restore_message", "Restored a message"
        PIN_MESSAGE = "pin_message", "Pinned a message"
        UNPIN_MESSAGE = "unpin_message", "Unpinned a message"
        REMOVE_MEMBER = "remove_member", "Removed a member from a room"
        MUTE_MEMBER = "mute_member", "Muted a member in a room"
        UNMUTE_MEMBER = "unmute_member", "Unmuted a member in a room"
        SET_MEMBER_ROLE = "set_member_role", "Changed a member's role in a room"
        SUSPEND_USER = "suspend_user", "Suspended a user"
        UNSUSPEND_USER = "unsuspend_user", "Lifted a suspension"
        REMOVE_UPLOAD = "remove_upload", "Removed an upload"
        RESOLVE_REPORT = "resolve_report", "Resolved a report"
        DISMISS_REPORT = "dismiss_report", "Dismissed a report"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text too: the log must outlive the accounts it names.
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action.choices)
    target_type = models.CharField(max_length=20)
    target_id = models.BigIntegerField()
    target_repr = models.CharField(max_length=200)
    room_id = models.BigIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=AUDIT_REASON_MAX_LENGTH)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.actor_username} {self.action} {self.target_type} {self.target_id}"
