"""The delivery worker of outgoing webhooks: find matching messages, POST signed payloads, post answers back.

Never on the request path. Two steps, each its own short transaction:

- ``queue_new_messages``: each live webhook has a cursor (``last_seq``) in its
  room. The messages past it are read, the matching ones become deliveries
  (the outbox), and the cursor moves, in ONE transaction: a crash before
  commit loses nothing (the messages are read again), after it nothing is
  queued twice. A room's seqs commit in order (the room row is locked from
  the seq's assignment to the commit: chat.actions.send), so a message never
  commits behind a cursor that passed it. The send path itself is untouched.
- ``deliver_due``: claims one due delivery with ``SELECT ... FOR UPDATE SKIP
  LOCKED`` (several workers never take the same row), leases it (its next try
  moves past this one's timeout, so a worker that dies mid-POST leaves it to
  be retried), and POSTs it outside any transaction.

Signature: ``X-Confab-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with the webhook's
secret, ``X-Confab-Timestamp: <unix seconds>``; a receiver recomputes it and refuses old timestamps.

Bounds: OUTGOING_WEBHOOK_TIMEOUT per POST, OUTGOING_WEBHOOK_MAX_ATTEMPTS tries with doubling backoff,
OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES of answer read, OUTGOING_WEBHOOK_PENDING_MAX waiting per webhook
(integrations.actions.do_queue_deliveries), SCAN_BATCH messages per scan; ``run`` stops when its event is set,
after the delivery in flight.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from chat.actions import do_send_message
from chat.models import Message
from core.errors import ActionError
from core.payloads import iso, user_payload

from .actions import check_answer, do_queue_deliveries
from .models import Delivery, OutgoingWebhook

logger = logging.getLogger(__name__)

SCAN_BATCH = 500  # messages read per scan
HOOKS_PER_SCAN = 100  # webhooks whose rooms are read per scan
SIGNATURE_HEADER = "X-Confab-Signature"
TIMESTAMP_HEADER = "X-Confab-Timestamp"
USER_AGENT = "Confab-Webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of ``<timestamp>.<body>`` under ``secret``: what a receiver recomputes."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# --- Queueing: messages to deliveries -------------------------------------------------------------


def queue_new_messages() -> int:
    """Queue deliveries for the messages past each live webhook's cursor; move the cursors. How many queued."""
    with transaction.atomic():
        hooks = list(
            OutgoingWebhook.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("bot")
            .filter(revoked_at__isnull=True, room__last_seq__gt=F("last_seq"))
            .exclude(trigger=OutgoingWebhook.Trigger.COMMAND)
            .order_by("id")[:HOOKS_PER_SCAN]
        )
        if not hooks:
            return 0
        wanted = reduce(or_, (Q(room_id=hook.room_id, seq__gt=hook.last_seq) for hook in hooks))
        messages = list(
            Message.objects.filter(wanted).select_related("sender", "room").order_by("room_id", "seq")[:SCAN_BATCH]
        )
        by_room: dict[int, list[Message]] = {}
        for message in messages:
            by_room.setdefault(message.room_id, []).append(message)
        items = []
        for hook in hooks:
            seen = [m for m in by_room.get(hook.room_id, []) if m.seq > hook.last_seq]
            if not seen:
                continue
            items += [(hook, message_payload(hook, m)) for m in seen if matches(hook, m)]
            hook.last_seq = seen[-1].seq
        OutgoingWebhook.objects.bulk_update(hooks, ["last_seq"])
        return do_queue_deliveries(items)["queued"]


def matches(hook: OutgoingWebhook, message: Message) -> bool:
    """Whether ``hook`` gets ``message``: people's live text, never a bot's (no loops between webhooks)."""
    sender = message.sender
    if sender is None or sender.is_bot or message.deleted_at is not None or message.kind == Message.Kind.SYSTEM:
        return False
    if hook.trigger == OutgoingWebhook.Trigger.PREFIX:
        word = message.body.split(maxsplit=1)[0] if message.body.strip() else ""
        return word == hook.trigger_word
    if hook.trigger == OutgoingWebhook.Trigger.MENTION:
        return f"@{hook.bot.username}".lower() in message.body.lower()
    return True


def message_payload(hook: OutgoingWebhook, message: Message) -> dict[str, Any]:
    return {
        "event": "message",
        "webhook": {"id": hook.id, "name": hook.name},
        "room": message.room_id,
        "trigger": hook.trigger,
        "trigger_word": hook.trigger_word,
        "message": {
            "id": message.id,
            "seq": message.seq,
            "body": message.body,
            "sender": user_payload(message.sender),
            "thread_root": message.thread_root_id,
            "created_at": iso(message.created_at),
        },
    }


# --- Delivering -------------------------------------------------------------------------------


def claim_due() -> Delivery | None:
    """One due delivery, leased to this worker: its next try moves past this one's timeout."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("webhook", "webhook__bot")
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=settings.OUTGOING_WEBHOOK_TIMEOUT + _backoff(delivery))
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def deliver(delivery: Delivery) -> str:
    """POST one claimed delivery and record the outcome; its new status."""
    hook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(hook.secret, timestamp, body),
            "X-Confab-Delivery": str(delivery.pk),
        },
    )
    refusal = _address_refusal(hook.url)
    if refusal:  # not a failure of the receiver's: no retry would change it
        return _finish(delivery, Delivery.Status.FAILED, None, refusal)
    status, error, answer = None, "", None
    deadline = time.monotonic() + settings.OUTGOING_WEBHOOK_TIMEOUT
    try:
        with _opener.open(request, timeout=settings.OUTGOING_WEBHOOK_TIMEOUT) as response:
            status = response.status
            raw = _read_until(response, settings.OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES + 1, deadline)
        if len(raw) > settings.OUTGOING_WEBHOOK_RESPONSE_MAX_BYTES:
            raw = b""  # an answer too long to be a message is no answer
        answer = _json_or_none(raw)
    except urllib.error.HTTPError as failure:
        status, error = failure.code, f"HTTP {failure.code}"
    except (OSError, ValueError, http.client.HTTPException) as failure:  # refused, reset, timed out, garbled
        error = f"{type(failure).__name__}: {failure}"[:300]
    if not error:
        error = _post_answer(hook, answer)
        return _finish(delivery, Delivery.Status.DELIVERED, status, error)
    if delivery.attempts >= settings.OUTGOING_WEBHOOK_MAX_ATTEMPTS:
        return _finish(delivery, Delivery.Status.FAILED, status, error)
    retry_at = timezone.now() + timedelta(seconds=_backoff(delivery))
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=retry_at, last_error=error, response_status=status)
    return Delivery.Status.PENDING


def _post_answer(hook: OutgoingWebhook, answer: Any) -> str:
    """Post the receiver's ``{"text"}`` as the webhook's bot, through chat's send; the refusal if any."""
    try:
        outgoing = check_answer(hook, answer)
        if outgoing is not None:
            do_send_message(outgoing)
    except ActionError as refusal:
        return f"The answer was not posted: {refusal.message}"[:300]
    return ""


def _finish(delivery: Delivery, status: str, response_status: int | None, error: str) -> str:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, finished_at=timezone.now(), response_status=response_status, last_error=error
    )
    if status == Delivery.Status.FAILED:
        logger.warning("Gave up delivery %s to webhook %s: %s", delivery.pk, delivery.webhook_id, error)
    return status


def _backoff(delivery: Delivery) -> float:
    """BACKOFF, 2 x BACKOFF, 4 x BACKOFF... after the 1st, 2nd, 3rd try."""
    return settings.OUTGOING_WEBHOOK_BACKOFF * 2 ** max(0, delivery.attempts - 1)


def _address_refusal(url: str) -> str:
    """Why ``url``'s host may not be POSTed to (an internal address), or "" when it may.

    Checked at each delivery, on every address the name resolves to. (A name that resolves
    differently between this check and the connection is not caught: the DNS answer is not pinned.)
    """
    if settings.OUTGOING_WEBHOOK_ALLOW_PRIVATE:
        return ""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as failure:
        return f"The host does not resolve: {failure}"[:300]
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            return f"Refused: {parts.hostname} is an internal address ({address}); see OUTGOING_WEBHOOK_ALLOW_PRIVATE."
    return ""


def _read_until(response: Any, limit: int, deadline: float) -> bytes:
    """At most ``limit`` bytes of the answer, read by the deadline: the socket timeout bounds each read,
    this bounds them all (a receiver trickling a byte at a time times out like a silent one)."""
    chunks, size = [], 0
    while size < limit:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than OUTGOING_WEBHOOK_TIMEOUT")
        chunk = response.read1(min(8192, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver answers itself: a redirect (maybe to another host or scheme) is a failed try."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


_opener = urllib.request.build_opener(_NoRedirects)


# --- Running --------------------------------------------------------------------------------------


def run_once(max_deliveries: int = 100) -> int:
    """One round: queue new messages, then deliver up to ``max_deliveries`` due ones. How many were sent."""
    queue_new_messages()
    sent = 0
    while sent < max_deliveries:
        delivery = claim_due()
        if delivery is None:
            break
        deliver(delivery)
        sent += 1
    return sent


def run(stop: threading.Event) -> None:
    """Rounds until ``stop`` is set (checked between deliveries: the one in flight finishes first)."""
    while not stop.is_set():
        close_old_connections()
        try:
            queue_new_messages()
            while not stop.is_set() and (delivery := claim_due()) is not None:
                deliver(delivery)
        except Exception:  # a database hiccup must not end the worker; the next round retries
            logger.exception("Webhook worker round failed")
        stop.wait(settings.WEBHOOK_WORKER_POLL_SECONDS)
    close_old_connections()


_in_process: tuple[threading.Thread, threading.Event] | None = None


def start_in_process_if_configured() -> threading.Event | None:
    """Start ``run`` in a daemon thread when WEBHOOK_WORKER_IN_PROCESS is on (the ASGI app calls this once).

    Returns the event that stops it; the thread is a daemon, so it never holds the process up either.
    """
    global _in_process
    if not settings.WEBHOOK_WORKER_IN_PROCESS:
        return None
    if _in_process is None:
        stop = threading.Event()
        thread = threading.Thread(target=run, args=(stop,), name="webhook-worker", daemon=True)
        thread.start()
        _in_process = (thread, stop)
    return _in_process[1]
