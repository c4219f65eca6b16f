"""Reactions: a member adds or removes their emoji on a live message."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chat.changes import mark_message_changed
from chat.emoji import emoji_for
from chat.models import Message, Reaction
from chat.payloads import message_payloads, reaction_change_payload
from core.errors import invalid, not_found
from core.publishing import publish, room_group
from core.ratelimit import take_slots

from .access import get_visible_message
from .timeline import refuse_system_message

MAX_EMOJI_LENGTH = 32


def check_set_reaction(user, message_id: Any, emoji: Any) -> tuple[Message, str]:
    """Members of the message's room react (not moderators from outside), on a live message, with one emoji;
    within the reaction limit."""
    message, membership = get_visible_message(user, message_id)
    if membership is None or message.deleted_at is not None:
        raise not_found("Message")
    refuse_system_message(message, "reacted to")
    emoji = _clean_emoji(emoji)
    take_slots(user.id, reaction=1)  # adds and removes share one budget
    return message, emoji


def do_set_reaction(user, message: Message, emoji: str, present: bool) -> dict[str, Any]:
    """Idempotent either way; ``reaction_added``/``reaction_removed`` (the emoji's new count, not the
    message) only when it changed something. Returns the whole message to the caller."""
    with transaction.atomic():
        if present:
            _, changed = Reaction.objects.get_or_create(message=message, user=user, emoji=emoji)
        else:
            changed = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()[0] > 0
        if changed:
            mark_message_changed(message)
            count = Reaction.objects.filter(message=message, emoji=emoji).count()
            publish(
                room_group(message.room_id),
                "reaction_added" if present else "reaction_removed",
                reaction_change_payload(message, emoji, user.id, count),
            )
        payload = message_payloads([message])[0]  # the whole message for the caller only
    return payload


def set_reaction(user, message_id: Any, emoji: Any, present: bool) -> dict[str, Any]:
    """Add or remove the caller's emoji on a message; idempotent either way."""
    message, emoji = check_set_reaction(user, message_id, emoji)
    return do_set_reaction(user, message, emoji, present)


def _clean_emoji(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("`emoji` must be a non-empty string.")
    value = value.strip()
    # Control characters (NUL among them, which PostgreSQL cannot store) are no emoji.
    if len(value) > MAX_EMOJI_LENGTH or any(ch.isspace() or ch < " " or ch in "<>&\"'" for ch in value):
        raise invalid("`emoji` must be one emoji or a short name without spaces.")
    # ``:tada:`` and 🎉 are one reaction: a known shortcode is stored as its emoji.
    return emoji_for(value)
