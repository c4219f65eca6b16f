"""Marking a message changed without saving it.

Kept out of ``chat.actions`` so that uploads (removing an attachment) can use
it without importing chat's actions, which import uploads.
"""

from __future__ import annotations

from django.utils import timezone

from .history_cache import note_history_changed
from .models import Message


def mark_message_changed(message: Message) -> None:
    """A change to what ``message`` shows, made without saving it (its reactions, its attachments):
    a reconnecting client's ``sync`` lists it as changed, and its room's cached history page retires.
    Call inside the change's transaction."""
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now())
    note_history_changed([message.room_id])
