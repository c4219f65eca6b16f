"""Bot tokens, incoming and outgoing webhooks, and the outbox of deliveries to outgoing webhooks.

Secrets a client presents (API tokens, incoming webhook tokens) are stored only
as their SHA-256: a copy of the database does not let anyone post. The secret
of an outgoing webhook signs what Confab sends, so Confab must keep it; it is
shown once and never listed again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class BotToken(models.Model):
    """A long-lived API token of a bot: ``Authorization: Bearer cfb_...`` on REST, ``authenticate`` on the socket."""

    bot = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot_tokens")
    name = models.CharField(max_length=80)
    # sha256 hex of the whole token; the token itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token after its prefix, so its owner can tell tokens apart.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}...)"


class IncomingWebhook(models.Model):
    """A URL that posts into one room as the webhook's own bot user."""

    room = models.ForeignKey("chat.Room", on_delete=models.CASCADE, related_name="incoming_webhooks")
    name = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    bot = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class OutgoingWebhook(models.Model):
    """A receiver URL that gets the room's matching messages (or one custom slash command), signed.

    ``last_seq`` is the room seq up to which messages were looked at: the
    worker reads the room's messages past it and moves it in the same
    transaction that queues their deliveries, so a message is queued once and
    never lost to a crash (a room's seqs commit in order: chat.actions.send).
    """

    class Trigger(models.TextChoices):
        ALL = "all", "Every message"
        PREFIX = "prefix", "Messages starting with the trigger word"
        MENTION = "mention", "Messages mentioning the webhook's bot"
        COMMAND = "command", "A custom slash command"

    room = models.ForeignKey("chat.Room", on_delete=models.CASCADE, related_name="outgoing_webhooks")
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=2000)
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    # The prefix word, or the command's name without its slash.
    trigger_word = models.CharField(max_length=32, blank=True)
    secret = models.CharField(max_length=64, editable=False)
    bot = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    # Deliveries not queued because the webhook already had OUTGOING_WEBHOOK_PENDING_MAX waiting.
    dropped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "trigger_word"],
                condition=Q(trigger="command", revoked_at__isnull=True),
                name="outgoing_one_live_command_per_room",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One POST owed to an outgoing webhook: the outbox row the worker claims, retries and closes."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Given up"

    webhook = models.ForeignKey(OutgoingWebhook, on_delete=models.CASCADE, related_name="deliveries")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending_due_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} to {self.webhook_id} ({self.status})"
