"""The newest messages of each room, cached so history requests skip the database.

A room's cached page is keyed by the room's ``history_revision``, which every
change to a stored message (edit, delete, restore, pin, reaction, an attachment
removed, a purge, a thread reply changing its root's summary) increments in the change's own transaction
(:func:`note_history_changed`). A reader takes the revision from the room row
it reads anyway for the membership check, so once a change has committed no
reader can find the page from before it: the cache is never stale, and nothing
has to be deleted. New messages do not change the revision: the page records
the highest seq it holds and a reader appends the few newer messages from the
database (a busy room's page is extended, not rebuilt, after each send).
The page holds the room's main history only (``chat.models.MAIN_HISTORY``:
thread replies only when sent ``also_to_room``).

Sender names are not cached (a user may rename themself at any time): the
senders are read fresh, in one query, for every page served.

Redis holds the pages when ``REDIS_URL`` is set (shared by every process);
otherwise a small in-process LRU does.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F
from redis.exceptions import RedisError

from chat.paging import main_history, seq_page
from chat.payloads import message_payloads
from core.payloads import USER_PAYLOAD_FIELDS, user_payload
from core.redis import sync_client
from core.throttled_log import warn_once_per
from uploads.models import Upload

from .models import Message, Room

logger = logging.getLogger(__name__)

KEY_PREFIX = "confab:history:"
LOCAL_CAPACITY = 512


def note_history_changed(room_ids: Iterable[int]) -> None:
    """Retire the cached pages of these rooms: call inside the transaction of the change."""
    room_ids = set(room_ids)
    if room_ids:
        Room.objects.filter(pk__in=room_ids).update(history_revision=F("history_revision") + 1)


def retire_pages_of_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``pre_delete`` of a user: their reactions and attachments go with them (cascade)."""
    reacted = Message.objects.filter(reactions__user=instance).values_list("room_id", flat=True)
    attached = Upload.objects.filter(owner=instance, message__isnull=False).values_list("message__room_id", flat=True)
    note_history_changed([*reacted.distinct(), *attached.distinct()])


def newest_page(room: Room, limit: int) -> dict[str, Any]:
    """The ``limit`` newest messages of ``room`` (at most ``HISTORY_CACHE_SIZE``), oldest first.

    ``room`` must be freshly read (its ``last_seq`` and ``history_revision``
    say which cached page is current).
    """
    size = settings.HISTORY_CACHE_SIZE
    key = _key(room)
    entry = _load(key)
    if entry is None:
        entry = _build(room, size)
        _store(key, entry)
    elif entry["upto"] < room.last_seq:
        entry = _extend(entry, room, size)
        _store(key, entry)
    cached = entry["messages"]
    page = cached[-limit:]
    has_more = len(cached) > limit or not entry["complete"]
    return {"messages": _with_senders(page), "has_more": has_more}


def _key(room: Room) -> str:
    # The creation time guards against a reused id (a restored or re-created database).
    created = int(room.created_at.timestamp() * 1_000_000) if room.created_at else 0
    return f"{KEY_PREFIX}{room.pk}:{created}:{room.history_revision}"


def _build(room: Room, size: int) -> dict[str, Any]:
    rows, has_more = seq_page(main_history(room.pk), before=None, after=None, limit=size)
    messages = [_without_sender(p) for p in message_payloads(rows)]
    return {"upto": _upto(room, messages), "complete": not has_more, "messages": messages}


def _extend(entry: dict[str, Any], room: Room, size: int) -> dict[str, Any]:
    """The cached page with the messages sent since it was stored."""
    rows = list(main_history(room.pk).filter(seq__gt=entry["upto"]).order_by("seq")[:size])
    if len(rows) == size:
        return _build(room, size)
    messages = entry["messages"] + [_without_sender(p) for p in message_payloads(rows)]
    return {
        "upto": _upto(room, messages),
        "complete": entry["complete"] and len(messages) <= size,
        "messages": messages[-size:],
    }


def _upto(room: Room, messages: list[dict[str, Any]]) -> int:
    """The seq the page is complete up to: every seq up to the ``last_seq`` read with the
    room had committed (a seq is taken and its message stored in one transaction)."""
    return max(room.last_seq, messages[-1]["seq"] if messages else 0)


def _without_sender(payload: dict[str, Any]) -> dict[str, Any]:
    sender = payload.pop("sender")
    payload["sender_id"] = sender["id"] if sender else None
    return payload


def _with_senders(cached: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Payloads as the wire contract has them, with each sender as the database has them now."""
    sender_ids = {m["sender_id"] for m in cached if m["sender_id"] is not None}
    users = {}
    if sender_ids:
        users = {
            user.pk: user_payload(user)
            for user in get_user_model()
            .objects.filter(pk__in=sender_ids)
            .only(*USER_PAYLOAD_FIELDS)
        }
    payloads = []
    for message in cached:
        payload = dict(message)
        payload["sender"] = users.get(payload.pop("sender_id"))
        payloads.append(payload)
    return payloads


# --- Storage --------------------------------------------------------------------

_local: OrderedDict[str, bytes] = OrderedDict()
_local_lock = threading.Lock()


def _load(key: str) -> dict[str, Any] | None:
    client = sync_client()
    if client is not None:
        try:
            raw = client.get(key)
        except RedisError as error:
            warn_once_per(logger, "history-cache", 30, "History cache unavailable; reading the database (%s)", error)
            return None
    else:
        with _local_lock:
            raw = _local.get(key)
            if raw is not None:
                _local.move_to_end(key)
    return orjson.loads(raw) if raw is not None else None


def _store(key: str, entry: dict[str, Any]) -> None:
    raw = orjson.dumps(entry)
    client = sync_client()
    if client is not None:
        try:
            client.set(key, raw, ex=settings.HISTORY_CACHE_SECONDS)
        except RedisError as error:
            warn_once_per(logger, "history-cache", 30, "History cache unavailable; page not stored (%s)", error)
        return
    with _local_lock:
        _local[key] = raw
        _local.move_to_end(key)
        while len(_local) > LOCAL_CAPACITY:
            _local.popitem(last=False)


def clear_local() -> None:
    """Forget the in-process pages (tests that reuse room ids)."""
    with _local_lock:
        _local.clear()
