"""Reads of integrations other modules need: who a bot token names, and the listings of the REST API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from .models import BotToken, IncomingWebhook, OutgoingWebhook
from .tokens import is_bot_token, secret_hash

User = get_user_model()

# ``last_used_at`` is written at most this often per token: not one write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def bot_token_session(token: BotToken) -> str:
    """The sign-in session a bot token is (accounts.queries.session_tag): revoking it closes its sockets."""
    return f"bot-token:{token.pk}"


def live_bot_token(secret: Any) -> BotToken | None:
    """The live token ``secret`` is (not revoked, its bot and the bot's owner active: a suspended
    person's bots stop with them), with its bot; None for anything else."""
    if not is_bot_token(secret):
        return None
    token = (
        BotToken.objects.select_related("bot")
        .filter(
            token_hash=secret_hash(secret),
            revoked_at__isnull=True,
            bot__is_active=True,
            bot__is_bot=True,
            bot__bot_owner__is_active=True,
        )
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        BotToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def user_for_bot_token(secret: Any) -> tuple[Any, str] | None:
    """For the socket's ``authenticate``: the bot a token authenticates and its session, or None."""
    token = live_bot_token(secret)
    if token is None:
        return None
    return token.bot, bot_token_session(token)


def bots_of(owner) -> list[Any]:
    return list(User.objects.filter(bot_owner=owner, is_bot=True, is_active=True).order_by("id"))


def tokens_of(bot) -> list[BotToken]:
    return list(BotToken.objects.filter(bot=bot, revoked_at__isnull=True))


def incoming_webhooks_of(room_id: int) -> list[IncomingWebhook]:
    return list(IncomingWebhook.objects.select_related("bot").filter(room_id=room_id, revoked_at__isnull=True))


def outgoing_webhooks_of(room_id: int, *, commands: bool) -> list[OutgoingWebhook]:
    hooks = OutgoingWebhook.objects.select_related("bot").filter(room_id=room_id, revoked_at__isnull=True)
    if commands:
        return list(hooks.filter(trigger=OutgoingWebhook.Trigger.COMMAND))
    return list(hooks.exclude(trigger=OutgoingWebhook.Trigger.COMMAND))
