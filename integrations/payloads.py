"""The REST shapes of bots, tokens and webhooks (secrets appear only in the answer that creates them)."""

from __future__ import annotations

from typing import Any

from core.payloads import iso, user_payload

from .models import BotToken, IncomingWebhook, OutgoingWebhook


def bot_payload(bot) -> dict[str, Any]:
    return {**user_payload(bot), "owner": bot.bot_owner_id, "created_at": iso(bot.date_joined)}


def token_payload(token: BotToken, secret: str | None = None) -> dict[str, Any]:
    payload = {
        "id": token.id,
        "bot": token.bot_id,
        "name": token.name,
        "hint": token.hint,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }
    if secret is not None:
        payload["token"] = secret
    return payload


def incoming_webhook_payload(hook: IncomingWebhook, url: str | None = None, secret: str | None = None) -> dict:
    payload = {
        "id": hook.id,
        "name": hook.name,
        "room": hook.room_id,
        "bot": user_payload(hook.bot),
        "created_by": hook.created_by_id,
        "created_at": iso(hook.created_at),
    }
    if secret is not None:
        payload["url"] = url
        payload["token"] = secret
    return payload


def outgoing_webhook_payload(hook: OutgoingWebhook, secret: bool = False) -> dict[str, Any]:
    payload = {
        "id": hook.id,
        "name": hook.name,
        "room": hook.room_id,
        "url": hook.url,
        "trigger": hook.trigger,
        "trigger_word": hook.trigger_word,
        "bot": user_payload(hook.bot),
        "created_by": hook.created_by_id,
        "created_at": iso(hook.created_at),
        "dropped": hook.dropped,
    }
    if hook.trigger == OutgoingWebhook.Trigger.COMMAND:
        payload["command"] = hook.trigger_word
    if secret:
        payload["secret"] = hook.secret
    return payload
