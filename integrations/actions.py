"""Every state change of integrations: bots, their tokens, incoming and outgoing webhooks, custom commands.

Each is a ``check_*`` (access, parsing, the rate-limit slot last; raises
``ActionError`` and changes nothing) and a ``do_*`` (one transaction), as in
chat.actions. Messages are never written here: a webhook's post and an
outgoing webhook's answer go through chat's ``check_send_message`` /
``do_send_message`` as their bot, so rate limits, rendering, notifications
and ``new_message`` are the ones every message gets.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.actions import USERNAME_HELP, USERNAME_PATTERN, USERNAME_TAKEN, close_session_sockets, do_end_sessions
from chat.actions import (
    BUILT_INS,
    COMMAND_NAME,
    CommandRun,
    MemberAddition,
    OutgoingMessage,
    check_send_message,
    do_add_member,
    do_send_message,
    get_membership,
    literal_body,
)
from chat.models import Room, RoomMember
from core.errors import ActionError, forbidden, invalid, not_found
from core.payloads import iso, user_payload
from core.ratelimit import take_slots
from core.validation import check_json_depth, clean_text, parse_choice, parse_id

from .models import BotToken, Delivery, IncomingWebhook, OutgoingWebhook
from .payloads import bot_payload, incoming_webhook_payload, outgoing_webhook_payload, token_payload
from .queries import bot_token_session
from .tokens import BOT_TOKEN_PREFIX, HOOK_TOKEN_PREFIX, hint, new_secret, secret_hash

User = get_user_model()

BOT_DELETED = "This bot was deleted by its owner."
TOKEN_REVOKED = "This API token was revoked."
NAME_MAX = 80
URL_MAX = 2000
TRIGGER_WORD = re.compile(r"\S{1,32}")


# --- Bots -------------------------------------------------------------------------------


@dataclass
class NewBot:
    owner: Any
    username: str
    display_name: str


def check_create_bot(user, username: Any, display_name: Any = "") -> NewBot:
    """A person (not a bot) names a new bot of theirs: a free username, within BOTS_PER_USER_MAX."""
    _check_person(user)
    username = clean_text(username, "username", 150, required=True)
    if not re.match(USERNAME_PATTERN, username):
        raise invalid(USERNAME_HELP)
    display_name = clean_text(display_name, "display_name", NAME_MAX)
    if User.objects.filter(username__iexact=username).exists():
        raise ActionError("conflict", USERNAME_TAKEN)
    limit = settings.BOTS_PER_USER_MAX
    if User.objects.filter(bot_owner=user, is_bot=True, is_active=True).count() >= limit:
        raise forbidden(f"You own {limit} bots, the most one person may (BOTS_PER_USER_MAX). Delete one first.")
    take_slots(user.id, integration=1)
    return NewBot(user, username, display_name)


def do_create_bot(new: NewBot) -> dict[str, Any]:
    try:
        with transaction.atomic():
            bot = _new_bot_user(new.owner, new.username, new.display_name)
    except IntegrityError:  # the same username registered since the check
        raise ActionError("conflict", USERNAME_TAKEN) from None
    return bot_payload(bot)


def create_bot(user, username: Any, display_name: Any = "") -> dict[str, Any]:
    """A new bot owned by ``user``; it signs in only with the API tokens its owner creates."""
    return do_create_bot(check_create_bot(user, username, display_name))


def check_owned_bot(user, bot_id: Any) -> AbstractBaseUser:
    """One of the caller's live bots, or ``not_found`` (never say whose a bot is)."""
    bot = User.objects.filter(pk=parse_id(bot_id, "bot"), bot_owner=user, is_bot=True, is_active=True).first()
    if bot is None:
        raise not_found("Bot")
    return bot


def do_delete_bot(bot) -> None:
    """Deactivate the bot (its messages keep their sender), revoke its tokens and close its sockets."""
    with transaction.atomic():
        BotToken.objects.filter(bot=bot, revoked_at__isnull=True).update(revoked_at=timezone.now())
        User.objects.filter(pk=bot.pk).update(is_active=False)
        bot.is_active = False
        do_end_sessions(bot, BOT_DELETED)


def delete_bot(user, bot_id: Any) -> None:
    do_delete_bot(check_owned_bot(user, bot_id))


# --- API tokens ---------------------------------------------------------------------------


@dataclass
class NewToken:
    bot: Any
    name: str


def check_create_token(user, bot_id: Any, name: Any) -> NewToken:
    """The owner names a new token of one of their bots, within BOT_TOKENS_PER_BOT_MAX live tokens."""
    bot = check_owned_bot(user, bot_id)
    name = clean_text(name, "name", NAME_MAX, required=True)
    limit = settings.BOT_TOKENS_PER_BOT_MAX
    if BotToken.objects.filter(bot=bot, revoked_at__isnull=True).count() >= limit:
        raise forbidden(f"This bot has {limit} live tokens, the most it may (BOT_TOKENS_PER_BOT_MAX). Revoke one.")
    take_slots(user.id, integration=1)
    return NewToken(bot, name)


def do_create_token(new: NewToken) -> dict[str, Any]:
    """Store the token's hash; the answer is the only place the token itself ever appears."""
    secret = new_secret(BOT_TOKEN_PREFIX)
    token = BotToken.objects.create(
        bot=new.bot, name=new.name, token_hash=secret_hash(secret), hint=hint(secret, BOT_TOKEN_PREFIX)
    )
    return token_payload(token, secret)


def create_token(user, bot_id: Any, name: Any) -> dict[str, Any]:
    return do_create_token(check_create_token(user, bot_id, name))


def check_revoke_token(user, token_id: Any) -> BotToken:
    """A live token of one of the caller's bots."""
    token = BotToken.objects.filter(
        pk=parse_id(token_id, "token"), bot__bot_owner=user, revoked_at__isnull=True
    ).first()
    if token is None:
        raise not_found("Token")
    return token


def do_revoke_token(token: BotToken) -> None:
    """Refused from the next request on; the sockets it opened close (4403) after commit."""
    with transaction.atomic():
        BotToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        close_session_sockets(token.bot_id, bot_token_session(token), TOKEN_REVOKED)


def revoke_token(user, token_id: Any) -> None:
    do_revoke_token(check_revoke_token(user, token_id))


# --- Incoming webhooks ----------------------------------------------------------------------


@dataclass
class NewIncomingWebhook:
    membership: RoomMember  # the creating admin's, with its room
    name: str


def check_room_admin(user, room_id: Any) -> RoomMember:
    """The caller's membership of a group room they administer: integrations are admins' to manage."""
    membership = get_membership(user, room_id)
    if membership.room.kind != Room.Kind.GROUP or not membership.is_admin:
        raise forbidden("Only admins of a group room manage its integrations.")
    return membership


def check_create_incoming_webhook(user, room_id: Any, name: Any) -> NewIncomingWebhook:
    _check_person(user)
    membership = check_room_admin(user, room_id)
    name = clean_text(name, "name", NAME_MAX, required=True)
    _check_room_webhook_count(membership.room, IncomingWebhook.objects)
    take_slots(user.id, integration=1)
    return NewIncomingWebhook(membership, name)


def do_create_incoming_webhook(new: NewIncomingWebhook, base_url: str) -> dict[str, Any]:
    """The webhook, its bot (a member of the room, announced as added) and its token, shown once."""
    room, creator = new.membership.room, new.membership.user
    secret = new_secret(HOOK_TOKEN_PREFIX)
    with transaction.atomic():
        bot = _room_bot(creator, room, new.name)
        hook = IncomingWebhook.objects.create(
            room=room, name=new.name, token_hash=secret_hash(secret), bot=bot, created_by=creator
        )
    return incoming_webhook_payload(hook, url=f"{base_url.rstrip('/')}/hooks/{secret}/", secret=secret)


def check_incoming_webhook(user, hook_id: Any) -> IncomingWebhook:
    """A live incoming webhook of a room the caller administers."""
    return _live_hook_of_room_admin(IncomingWebhook, user, hook_id)


def _live_hook_of_room_admin(model, user, hook_id: Any):
    """A live (not revoked) webhook of ``model``, with its bot, of a room the caller administers."""
    hook = model.objects.select_related("bot").filter(pk=parse_id(hook_id, "webhook"), revoked_at__isnull=True).first()
    if hook is None:
        raise not_found("Webhook")
    _check_admin_of_hook_room(user, hook.room_id)
    return hook


def check_rename_incoming_webhook(user, hook_id: Any, name: Any) -> tuple[IncomingWebhook, str]:
    hook = check_incoming_webhook(user, hook_id)
    name = clean_text(name, "name", NAME_MAX, required=True)
    take_slots(user.id, integration=1)
    return hook, name


def do_rename_incoming_webhook(hook: IncomingWebhook, name: str) -> dict[str, Any]:
    """The webhook and the display name of its bot (what its messages show) both take the new name."""
    with transaction.atomic():
        IncomingWebhook.objects.filter(pk=hook.pk).update(name=name)
        User.objects.filter(pk=hook.bot_id).update(display_name=name)
    hook.name = hook.bot.display_name = name
    return incoming_webhook_payload(hook)


def do_revoke_incoming_webhook(hook: IncomingWebhook) -> None:
    """Posts to its URL get 404 from now on; its bot is deactivated (its messages stay)."""
    with transaction.atomic():
        IncomingWebhook.objects.filter(pk=hook.pk).update(revoked_at=timezone.now())
        User.objects.filter(pk=hook.bot_id).update(is_active=False)


def check_hook_post(token: Any, data: Any) -> OutgoingMessage:
    """A post to ``/hooks/<token>/``: a live webhook's token, a body with ``text``; then chat's own send
    check as the webhook's bot (its membership, the send limit). The text is always text: a leading
    ``/`` is not a command."""
    hook = _live_hook_by_token(token)
    text, username = _hook_text(data)
    return check_send_message(hook.bot, hook.room_id, body=literal_body(text), sender_name=username)


def post_to_hook(token: Any, data: Any) -> dict[str, Any]:
    message, _ = do_send_message(check_hook_post(token, data))
    return message


def parse_hook_body(content_type: str, raw: bytes) -> Any:
    """The body of a hook post: JSON, or Slack's form encoding (``payload=<json>``), nested at most
    ``JSON_MAX_DEPTH`` deep (as every JSON body: core.rest.BoundedJSONParser)."""
    content_type = content_type.split(";", 1)[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            fields = parse_qs(raw.decode("utf-8"), max_num_fields=20)
            if "payload" not in fields:
                raise invalid("A form-encoded post needs a `payload` field holding the JSON message.")
            return _bounded_json(fields["payload"][0])
        if content_type in ("application/json", ""):
            return _bounded_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise invalid("The body is not valid JSON (UTF-8).") from None
    raise ActionError("invalid", f"Post JSON or a form with `payload`, not {content_type}.")


def _bounded_json(text: str) -> Any:
    check_json_depth(text, settings.JSON_MAX_DEPTH)
    return json.loads(text)


def _live_hook_by_token(token: Any) -> IncomingWebhook:
    if not isinstance(token, str) or not token.startswith(HOOK_TOKEN_PREFIX):
        raise not_found("Webhook")
    hook = (
        IncomingWebhook.objects.select_related("bot")
        .filter(token_hash=secret_hash(token), revoked_at__isnull=True)
        .first()
    )
    if hook is None:
        raise not_found("Webhook")
    return hook


def _hook_text(data: Any) -> tuple[str, str]:
    """The ``text`` of a hook post and the ``username`` it shows (Slack's ``blocks``, ``attachments``
    and the rest are ignored)."""
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object with `text`.")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise invalid("A webhook message needs `text` (a non-empty string).")
    username = data.get("username") or ""
    if not isinstance(username, str):
        raise invalid("`username` must be a string.")
    return text, username


# --- Outgoing webhooks and custom commands ------------------------------------------------------


@dataclass
class NewOutgoingWebhook:
    membership: RoomMember
    name: str
    url: str
    trigger: str
    trigger_word: str


def check_create_outgoing_webhook(
    user, room_id: Any, *, name: Any, url: Any, trigger: Any, trigger_word: Any = ""
) -> NewOutgoingWebhook:
    """A room admin names a receiver URL (http or https) and what messages it gets."""
    _check_person(user)
    membership = check_room_admin(user, room_id)
    name = clean_text(name, "name", NAME_MAX, required=True)
    url = _parse_url(url)
    trigger = parse_choice(trigger, "trigger", ("all", "prefix", "mention"))
    trigger_word = clean_text(trigger_word, "trigger_word", 32)
    if trigger == "prefix" and not TRIGGER_WORD.fullmatch(trigger_word):
        raise invalid("`trigger_word` is needed with trigger `prefix`: one word of at most 32 characters.")
    if trigger != "prefix":
        trigger_word = ""
    _check_room_webhook_count(membership.room, OutgoingWebhook.objects)
    take_slots(user.id, integration=1)
    return NewOutgoingWebhook(membership, name, url, trigger, trigger_word)


def check_create_command(user, room_id: Any, *, command: Any, url: Any) -> NewOutgoingWebhook:
    """A room admin registers ``/command``, answered by ``url``: not a built-in, not already the room's."""
    _check_person(user)
    membership = check_room_admin(user, room_id)
    command = clean_text(command, "command", 33, required=True).removeprefix("/").lower()
    if not COMMAND_NAME.fullmatch(command):
        raise invalid("`command` is 1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit.")
    if command in BUILT_INS:
        raise ActionError("conflict", f"`/{command}` is a built-in command.")
    url = _parse_url(url)
    live = OutgoingWebhook.objects.filter(room=membership.room, revoked_at__isnull=True)
    if live.filter(trigger=OutgoingWebhook.Trigger.COMMAND, trigger_word=command).exists():
        raise ActionError("conflict", f"This room has a `/{command}` already.")
    _check_room_webhook_count(membership.room, OutgoingWebhook.objects)
    take_slots(user.id, integration=1)
    return NewOutgoingWebhook(membership, f"/{command}", url, OutgoingWebhook.Trigger.COMMAND, command)


def do_create_outgoing_webhook(new: NewOutgoingWebhook) -> dict[str, Any]:
    """The webhook, its bot (a member of the room: it answers, and ``mention`` names it) and its
    secret, shown once. It sees messages from now on (its cursor starts at the room's last seq)."""
    room, creator = new.membership.room, new.membership.user
    try:
        with transaction.atomic():
            bot = _room_bot(creator, room, new.name.removeprefix("/"))  # its "added" line takes a seq
            # The cursor starts after it, at the room's seq under the room's lock: later messages are the webhook's.
            last_seq = Room.objects.select_for_update().values_list("last_seq", flat=True).get(pk=room.pk)
            hook = OutgoingWebhook.objects.create(
                room=room,
                name=new.name,
                url=new.url,
                trigger=new.trigger,
                trigger_word=new.trigger_word,
                secret=secrets.token_hex(32),
                bot=bot,
                created_by=creator,
                last_seq=last_seq,
            )
    except IntegrityError:  # the same command registered since the check
        raise ActionError("conflict", f"This room has a `/{new.trigger_word}` already.") from None
    return outgoing_webhook_payload(hook, secret=True)


def check_outgoing_webhook(user, hook_id: Any) -> OutgoingWebhook:
    """A live outgoing webhook of a room the caller administers."""
    return _live_hook_of_room_admin(OutgoingWebhook, user, hook_id)


def do_revoke_outgoing_webhook(hook: OutgoingWebhook) -> None:
    """Nothing more is queued or sent to it (its pending deliveries are given up); its bot is deactivated."""
    now = timezone.now()
    with transaction.atomic():
        OutgoingWebhook.objects.filter(pk=hook.pk).update(revoked_at=now)
        Delivery.objects.filter(webhook=hook, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED, finished_at=now, last_error="The webhook was revoked."
        )
        User.objects.filter(pk=hook.bot_id).update(is_active=False)


def resolve_custom_command(user, membership: RoomMember, name: str, args: str) -> CommandRun | None:
    """chat's resolver for names it does not know: the room's live ``/name``, queued for its URL."""
    hook = OutgoingWebhook.objects.filter(
        room_id=membership.room_id,
        trigger=OutgoingWebhook.Trigger.COMMAND,
        trigger_word=name,
        revoked_at__isnull=True,
    ).first()
    if hook is None:
        return None
    _check_room_for_more(hook)
    take_slots(user.id, send=1)  # a command is a message to its receiver: the send budget
    payload = command_payload(hook, user, membership.room_id, args)
    return CommandRun(name, lambda: do_queue_deliveries([(hook, payload)]))


def command_payload(hook: OutgoingWebhook, user, room_id: int, text: str) -> dict[str, Any]:
    return {
        "event": "command",
        "webhook": {"id": hook.id, "name": hook.name},
        "room": room_id,
        "command": hook.trigger_word,
        "text": text,
        "user": user_payload(user),
        "created_at": iso(timezone.now()),
    }


def do_queue_deliveries(items: list[tuple[OutgoingWebhook, dict[str, Any]]]) -> dict[str, Any]:
    """Write deliveries to the outbox (the worker sends them). A webhook with
    OUTGOING_WEBHOOK_PENDING_MAX deliveries waiting gets no new one: it is counted in its ``dropped``."""
    if not items:
        return {"queued": 0, "dropped": 0}
    hook_ids = {hook.pk for hook, _ in items}
    now = timezone.now()
    limit = settings.OUTGOING_WEBHOOK_PENDING_MAX
    with transaction.atomic():
        pending = dict(
            Delivery.objects.filter(webhook_id__in=hook_ids, status=Delivery.Status.PENDING)
            .values_list("webhook_id")
            .annotate(n=Count("id"))
        )
        queued, dropped = [], {}
        for hook, payload in items:
            if pending.get(hook.pk, 0) >= limit:
                dropped[hook.pk] = dropped.get(hook.pk, 0) + 1
                continue
            pending[hook.pk] = pending.get(hook.pk, 0) + 1
            queued.append(Delivery(webhook=hook, payload=payload, next_attempt_at=now))
        Delivery.objects.bulk_create(queued)
        for hook_id, count in dropped.items():
            OutgoingWebhook.objects.filter(pk=hook_id).update(dropped=F("dropped") + count)
    return {"queued": len(queued), "dropped": sum(dropped.values())}


def check_answer(hook: OutgoingWebhook, answer: Any) -> OutgoingMessage | None:
    """What a receiver answered, as a message of the webhook's bot: ``{"text": ...}``; None for no text."""
    if not isinstance(answer, dict):
        return None
    text = answer.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    return check_send_message(hook.bot, hook.room_id, body=literal_body(text))


def _check_room_for_more(hook: OutgoingWebhook) -> None:
    limit = settings.OUTGOING_WEBHOOK_PENDING_MAX
    waiting = Delivery.objects.filter(webhook=hook, status=Delivery.Status.PENDING).count()
    if waiting >= limit:
        raise ActionError(
            "unavailable", f"`{hook.name}` has {waiting} deliveries waiting already; try again in a moment."
        )


# --- Shared ------------------------------------------------------------------------------------


def _check_person(user) -> None:
    if getattr(user, "is_bot", False):
        raise forbidden("Bots cannot manage integrations; their owner does.")


def _check_admin_of_hook_room(user, room_id: int) -> None:
    try:
        check_room_admin(user, room_id)
    except ActionError:
        raise not_found("Webhook") from None


def _check_room_webhook_count(room: Room, manager) -> None:
    limit = settings.WEBHOOKS_PER_ROOM_MAX
    if manager.filter(room=room, revoked_at__isnull=True).count() >= limit:
        raise forbidden(f"This room has {limit} webhooks of this kind, the most it may (WEBHOOKS_PER_ROOM_MAX).")


def _parse_url(value: Any) -> str:
    """An absolute http(s) URL: Confab POSTs nowhere else (no file:, no gopher:, no relative URLs)."""
    url = clean_text(value, "url", URL_MAX, required=True)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise invalid("`url` is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise invalid("`url` must be an absolute http:// or https:// URL.")
    return url


def _new_bot_user(owner, username: str, display_name: str):
    bot = User(username=username, display_name=display_name, is_bot=True, bot_owner=owner)
    bot.set_unusable_password()
    bot.save()
    return bot


def _room_bot(creator, room: Room, name: str):
    """A bot for one webhook, owned by its creator and added to the room like any member."""
    slug = re.sub(r"[^\w-]", "", name.lower().replace(" ", "-"))[:24] or "hook"
    bot = _new_bot_user(creator, f"{slug}-bot-{secrets.token_hex(3)}", name)
    do_add_member(MemberAddition(room, bot, RoomMember.Role.MEMBER, creator))
    return bot
