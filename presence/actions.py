"""The rules of presence, for both transports (WebSocket hooks and REST).

- Who may see a user's presence: the user and the users who share a live
  (not archived) room with them. Events go only to those, REST answers only
  about those.
- A presence object: ``user`` (user object), ``online`` (at least one live
  connection), ``status`` (the chosen ``online``/``away``/``busy``, kept while
  offline), ``status_text`` and ``last_seen`` (ISO 8601, written when the user
  goes offline and every ``PRESENCE_LAST_SEEN_WRITE_INTERVAL`` while online).
- Fan-out: a presence event is sent once per room group of the subject (plus
  their own user group for ``status_changed``), never once per member: the
  cost of an event grows with the subject's rooms, and the channel layer
  delivers to each room's members in one call. A member who shares several
  rooms with the subject receives several copies, all with the same event id,
  and ``presence.realtime.deliver`` forwards only the first.
"""

from __future__ import annotations

import sys
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chat.models import RoomMember
from core.compiled import CompiledQuery, Read
from core.errors import ActionError, invalid
from core.payloads import USER_PAYLOAD_FIELDS, iso, user_object, user_payload
from core.publishing import PRESENCE_MESSAGE_TYPE, deliver_message, encode_frame, room_group, user_group
from core.ratelimit import take_slots
from core.validation import clean_text, parse_choice, parse_id, parse_whole_number

from . import store
from .models import Presence

STATUS_TEXT_MAX = Presence._meta.get_field("status_text").max_length
STATUS_FIELDS = frozenset({"status", "status_text", "clear_after", "status_expires_at"})
# How far ahead a status may be set to clear (``clear_after`` seconds, ``status_expires_at``).
CLEAR_AFTER_MIN = 60
CLEAR_AFTER_MAX = 7 * 24 * 3600
# The choices the profile page offers (values as ``clear_after`` takes them; "" keeps the status).
STATUS_CHOICES = Presence.Status.choices
CLEAR_AFTER_CHOICES = [
    ("", "Don't clear"),
    ("1800", "30 minutes"),
    ("3600", "1 hour"),
    ("14400", "4 hours"),
    ("today", "Today"),
    ("604800", "This week"),
]
MAX_USERS_PER_QUERY = 200


# --- Payloads ---------------------------------------------------------------------


def presence_payload(user, online: bool) -> dict[str, Any]:
    """The presence object of ``user`` (its ``presence`` row selected along, or absent)."""
    row = _row(user)
    if row is None:
        return _presence_object(user_payload(user), online, None, "", None, None)
    return _presence_object(
        user_payload(user), online, row.status, row.status_text, row.status_expires_at, row.last_seen
    )


# Read once: a member of Django's choices enum costs a metaclass lookup per access, and a connect's
# ``ready`` builds a presence object for every online co-member.
_ONLINE = Presence.Status.ONLINE.value


def _presence_object(
    user: dict[str, Any] | None,
    online: bool,
    status: str | None,
    text: str,
    expires_at: datetime | None,
    last_seen: datetime | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The one definition of the presence object (``status`` None: the user has no presence row yet).

    A status past its ``status_expires_at`` reads as cleared at once (online, no
    text), before the heartbeat writes it and announces it (``clear_expired_statuses``).
    """
    if status is None or _has_passed(expires_at, now or timezone.now()):
        status, text, expires_at = _ONLINE, "", None
    return {
        "user": user,
        "online": online,
        "status": status,
        "status_text": text,
        "status_expires_at": iso(expires_at),
        "last_seen": iso(last_seen),
    }


def _expired(row: Presence, now: datetime) -> bool:
    return _has_passed(row.status_expires_at, now)


def _has_passed(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _row(user) -> Presence | None:
    try:
        return user.presence
    except Presence.DoesNotExist:
        return None


def _users_with_presence(user_ids: Iterable[int]) -> list:
    """Users with their presence rows, in one query."""
    return list(get_user_model().objects.filter(pk__in=list(user_ids)).select_related("presence").order_by("pk"))


def presences(user_ids: Iterable[int], online_ids: set[int]) -> list[dict[str, Any]]:
    """Presence objects for these users, one query."""
    return [presence_payload(user, user.pk in online_ids) for user in _users_with_presence(user_ids)]


def presence_messages(
    event_type: str, data: dict[str, Any], room_ids: Iterable[int], *, subject_id: int, to_self: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """The channel-layer messages of one presence event: one per room group of the subject.

    Copies to several groups carry the same ``eid`` so a connection that is in
    several of them forwards it once (``presence.realtime.frame_for``). A
    single copy cannot arrive twice: it carries none, and the connections that
    receive it remember nothing of it (the list of seen ids was 0.75 KiB per
    idle socket when every event had one). The subject's own connections get
    it only with ``to_self`` (through their user group); otherwise they drop it.
    """
    message = {
        "type": PRESENCE_MESSAGE_TYPE,
        "frame": encode_frame(event_type, data),
        "exclude_user": None if to_self else subject_id,
    }
    groups = [room_group(room_id) for room_id in sorted(set(room_ids))]
    if to_self:
        groups.append(user_group(subject_id))
    if len(groups) > 1:
        message["eid"] = uuid.uuid4().hex
    return [(group, message) for group in groups]


# --- Reads ------------------------------------------------------------------------------


def co_member_ids(room_ids: Iterable[int]) -> set[int]:
    """Every member of these rooms, in one query (the caller's own rooms)."""
    room_ids = list(room_ids)
    if not room_ids:
        return set()
    return set(RoomMember.objects.filter(room_id__in=room_ids).values_list("user_id", flat=True).distinct())


def _co_member_rows(user_id: int) -> QuerySet:
    return (
        RoomMember.objects.filter(room__memberships__user_id=user_id, room__archived=False)
        .order_by()
        .values_list("user_id")
        .distinct()
    )


def rooms_of_users(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """The live rooms of each user, in one query."""
    rooms: dict[int, set[int]] = defaultdict(set)
    for user_id, room_id in RoomMember.objects.filter(user_id__in=list(user_ids), room__archived=False).values_list(
        "user_id", "room_id"
    ):
        rooms[user_id].add(room_id)
    return rooms


def visible_user_ids(viewer, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` whose presence ``viewer`` may see: itself and who shares a live room with it."""
    wanted = set(user_ids)
    visible = {viewer.pk} & wanted
    others = wanted - visible
    if others:
        visible |= set(
            RoomMember.objects.filter(
                user_id__in=others,
                room__archived=False,
                room__memberships__user=viewer,
            )
            .values_list("user_id", flat=True)
            .distinct()
        )
    return visible


def parse_user_ids(value: Any) -> list[int]:
    """``users=1,2,3`` from a query string: ids, at most ``MAX_USERS_PER_QUERY``."""
    if not isinstance(value, str) or not value.strip():
        raise invalid("`users` is required: a comma-separated list of user ids.")
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) > MAX_USERS_PER_QUERY:
        raise invalid(f"At most {MAX_USERS_PER_QUERY} users per request.")
    ids: list[int] = []
    for part in parts:
        try:
            user_id = parse_id(part, "users")
        except ActionError:
            raise invalid("`users` must be a comma-separated list of user ids.") from None
        if user_id not in ids:
            ids.append(user_id)
    return ids


def presences_for_viewer(viewer, user_ids: Any) -> list[dict[str, Any]]:
    """``GET presence/?users=``: the visible ones of these users, in id order; others are left out."""
    ids = parse_user_ids(user_ids)
    visible = visible_user_ids(viewer, ids)
    return presences(visible, store.online_user_ids_sync(visible))


def my_presence(user) -> dict[str, Any]:
    return presences([user.pk], store.online_user_ids_sync([user.pk]))[0]


def connection_snapshot(user, online_ids: set[int], typing_pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """What a new connection's ``ready`` adds: online co-members (self included) and who types where.

    One query whatever the number of co-members and rooms.
    """
    others_typing = {user_id for _, user_id in typing_pairs if user_id != user.pk}
    wanted = set(online_ids) | {user.pk} | others_typing
    rows = {row[0]: row for row in _presence_rows(get_user_model().objects.filter(pk__in=list(wanted)))}
    return snapshot_from_rows(user.pk, rows, online_ids, typing_pairs)


# A presence object's columns: the user object's, then the presence row's (all null without one).
PRESENCE_COLUMNS = (
    *USER_PAYLOAD_FIELDS,
    "presence__status",
    "presence__status_text",
    "presence__status_expires_at",
    "presence__last_seen",
)
_USER_WIDTH = len(USER_PAYLOAD_FIELDS)  # a row's first columns: ``user_object``'s arguments


def _presence_rows(users: QuerySet) -> QuerySet:
    return users.order_by("pk").values_list(*PRESENCE_COLUMNS)


def _co_member_presence_rows(user_id: int) -> QuerySet:
    User = get_user_model()
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        return _presence_rows(User.objects.filter(Q(pk__in=_co_member_rows(user_id)) | Q(pk=user_id)))
    # On PostgreSQL ``pk IN (co-members) OR pk = user`` read the whole user table: an OR with a subquery
    # cannot use the primary key's index, so every connect filtered every user (0.96 ms of PostgreSQL's
    # execution at 5,300 users, and growing with them). The ids as an array, the user's own among them, are
    # looked up in the index: the rows of the rooms' members only, whatever the number of users.
    from django.contrib.postgres.expressions import ArraySubquery

    ids = ArraySubquery(_co_member_rows(user_id).union(User.objects.filter(pk=user_id).values_list("pk")))
    return _presence_rows(User.objects.filter(_EqualsAny(F("pk"), ids)))


class _EqualsAny(Func):
    """``value = ANY(array)`` (PostgreSQL), a condition for ``filter``."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


# Every connect reads it (``ready``): compiled once per process.
_CO_MEMBER_PRESENCE = CompiledQuery(_co_member_presence_rows)

PresenceRows = dict[int, tuple[Any, ...]]


def co_member_presence_read(user_id: int) -> Read:
    """The read ``co_member_presence_rows`` makes, for ``core.compiled.read_together``."""
    return _CO_MEMBER_PRESENCE, (user_id,)


def co_member_presence_rows(user_id: int) -> PresenceRows:
    """Every member of the user's live rooms and the user, by id: the columns of their presence objects.

    One query, and no model instances: a connect used to load a hundred users
    and their presence rows as models to build ``ready`` (3 ms of CPU at 100
    co-members, nearly all of it in the ORM's row handling).
    """
    return {row[0]: row for row in _CO_MEMBER_PRESENCE.rows(user_id)}


def online_presence_from_row(row: tuple[Any, ...], now: datetime | None = None) -> dict[str, Any]:
    """The presence object of an online user from its presence row (``co_member_presence_rows``)."""
    return _presence_object(user_object(*row[:_USER_WIDTH]), True, *row[_USER_WIDTH:], now)


def snapshot_from_rows(
    user_id: int, rows: PresenceRows, online_ids: set[int], typing_pairs: list[tuple[int, int]]
) -> dict[str, Any]:
    """``connection_snapshot`` from presence rows already read (no query).

    Every connect builds this for each online co-member (about fifty in a
    room of a hundred), so the objects come straight from the row's columns,
    with no model or named tuple between.
    """
    now = timezone.now()
    return {
        "presence": [
            online_presence_from_row(row, now)
            for uid in sorted(online_ids | {user_id})
            if (row := rows.get(uid)) is not None
        ],
        "typing": [
            {"room": room_id, "user": user_object(*rows[typer][:_USER_WIDTH])}
            for room_id, typer in sorted(typing_pairs)
            if typer != user_id and typer in rows
        ],
    }


# --- Writes ---------------------------------------------------------------------------------


def record_last_seen(times: dict[int, datetime], *, existing_ids: set[int] | None = None) -> None:
    """Write ``last_seen`` for many users in one query (rows are created as needed).

    Only users that still exist are written (``existing_ids`` when the caller
    has just read them, else one query more): a user deleted while a socket
    of theirs was open would fail the whole batch with a foreign key
    violation, on every interval, for every user of the process.
    """
    if existing_ids is None:
        existing_ids = set(get_user_model().objects.filter(pk__in=list(times)).values_list("pk", flat=True))
    rows = [Presence(user_id=user_id, last_seen=at) for user_id, at in times.items() if user_id in existing_ids]
    if not rows:
        return
    Presence.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["last_seen"],
        batch_size=500,
    )


def went_offline(times: dict[int, datetime], rooms: dict[int, set[int]] | None = None) -> list[tuple[str, dict]]:
    """Users left with no connection: persist ``last_seen``, build their ``user_offline`` messages.

    Three queries at most whatever the number of users (rooms are looked up
    when the caller does not know them, as after a sweep). The users are read
    first, so only existing ones are written and their payloads carry the new
    ``last_seen``.
    """
    if not times:
        return []
    users = _users_with_presence(times)
    record_last_seen(times, existing_ids={user.pk for user in users})
    for user in users:
        row = _row(user)
        if row is None:
            user.presence = Presence(user=user, last_seen=times[user.pk])
        else:
            row.last_seen = times[user.pk]
    if rooms is None:
        rooms = rooms_of_users(times)
    messages: list[tuple[str, dict]] = []
    for user in users:
        payload = presence_payload(user, False)
        messages += presence_messages("user_offline", payload, rooms.get(user.pk, ()), subject_id=user.pk)
    return messages


def came_online(user_ids: Iterable[int], rooms: dict[int, set[int]] | None = None) -> list[tuple[str, dict]]:
    """``user_online`` messages for users who now have a connection (two queries at most)."""
    user_ids = list(user_ids)
    if not user_ids:
        return []
    if rooms is None:
        rooms = rooms_of_users(user_ids)
    messages: list[tuple[str, dict]] = []
    for user in _users_with_presence(user_ids):
        payload = presence_payload(user, True)
        messages += presence_messages("user_online", payload, rooms.get(user.pk, ()), subject_id=user.pk)
    return messages


def _clean_status(data: Any, now: datetime) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise invalid("The body must be an object with `status` and/or `status_text`.")
    unknown = set(data) - STATUS_FIELDS
    if unknown:
        raise invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    changes: dict[str, Any] = {}
    if "status" in data:
        changes["status"] = parse_choice(data["status"], "status", Presence.Status.values)
    if "status_text" in data:
        raw = data["status_text"]
        # Runs of whitespace are one space; the limit counts what is kept.
        text = " ".join(raw.split()) if isinstance(raw, str) else raw
        text = clean_text(text, "status_text", sys.maxsize)  # a string without NUL
        if len(text) > STATUS_TEXT_MAX:
            raise invalid(f"`status_text` is limited to {STATUS_TEXT_MAX} characters.")
        changes["status_text"] = text
    if not changes and not {"clear_after", "status_expires_at"} & set(data):
        raise invalid("Give `status` (online, away or busy) and/or `status_text`.")
    # Every change sets the expiry anew: what was set with it is what expires.
    changes["status_expires_at"] = _parse_expiry(data, now)
    return changes


def _parse_expiry(data: dict[str, Any], now: datetime) -> datetime | None:
    """``clear_after`` (seconds, or "today": the end of the day in ``TIME_ZONE``) or ``status_expires_at``
    (an ISO 8601 time), at most ``CLEAR_AFTER_MAX`` ahead; neither (or null): no expiry."""
    clear_after, expires_at = data.get("clear_after"), data.get("status_expires_at")
    if clear_after is not None and expires_at is not None:
        raise invalid("Give `clear_after` or `status_expires_at`, not both.")
    if clear_after == "today":
        local = timezone.localtime(now)
        return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)
    if clear_after is not None:
        try:
            seconds = parse_whole_number(clear_after, "clear_after", minimum=CLEAR_AFTER_MIN, maximum=CLEAR_AFTER_MAX)
        except ActionError:
            raise invalid(
                f'`clear_after` must be "today" or a whole number of seconds from {CLEAR_AFTER_MIN} '
                f"to {CLEAR_AFTER_MAX}."
            ) from None
        return now + timedelta(seconds=seconds)
    if expires_at is not None:
        parsed = parse_datetime(expires_at) if isinstance(expires_at, str) else None
        if parsed is None or parsed.tzinfo is None:
            raise invalid("`status_expires_at` must be an ISO 8601 time with its offset (or Z).")
        if not now < parsed <= now + timedelta(seconds=CLEAR_AFTER_MAX):
            raise invalid(f"`status_expires_at` must be in the future, at most {CLEAR_AFTER_MAX} seconds ahead.")
        return parsed.astimezone(UTC)
    return None


def update_status(user, data: Any) -> dict[str, Any]:
    """``update_status`` / ``PATCH presence/me/``: set the chosen status and text.

    Returns the caller's presence object. A real change is announced as
    ``status_changed`` to who shares a room with the user and to the user's
    other connections, after commit; setting the same values again is silent.
    Within the status limit (``RATE_LIMIT_STATUS``), else ``rate_limited``.
    """
    changes = _clean_status(data, timezone.now())
    take_slots(user.pk, status=1)  # after the checks: a refused change uses no slot
    with transaction.atomic():
        row, _ = Presence.objects.select_for_update().get_or_create(user=user)
        if _expired(row, timezone.now()):  # what the others see already: not a change to announce
            row.status, row.status_text, row.status_expires_at = Presence.Status.ONLINE, "", None
            row.save(update_fields=["status", "status_text", "status_expires_at"])
        changed = [name for name, value in changes.items() if getattr(row, name) != value]
        if changed:
            for name in changed:
                setattr(row, name, changes[name])
            row.save(update_fields=changed)
        user.presence = row
        payload = presence_payload(user, bool(store.online_user_ids_sync([user.pk])))
        if changed:
            rooms = rooms_of_users([user.pk]).get(user.pk, set())
            for group, message in presence_messages("status_changed", payload, rooms, subject_id=user.pk, to_self=True):
                transaction.on_commit(lambda g=group, m=message: deliver_message(g, m))
    return payload


def clear_expired_statuses(*, batch_size: int = 500) -> list[tuple[str, dict[str, Any]]]:
    """Statuses past their ``status_expires_at`` back to online without text; their ``status_changed`` messages.

    Run by every process's presence tick (``presence.realtime.tick``), so a
    status clears within ``PRESENCE_HEARTBEAT`` seconds of its time whoever is
    connected. Rows are claimed with ``SKIP LOCKED``, so two processes never
    announce one clearing twice. Four queries whatever the number of users
    (at most ``batch_size`` a tick; the rest at the next one).
    """
    now = timezone.now()
    with transaction.atomic():
        user_ids = list(
            Presence.objects.select_for_update(skip_locked=True)
            .filter(status_expires_at__lte=now)
            .order_by("status_expires_at")
            .values_list("user_id", flat=True)[:batch_size]
        )
        if not user_ids:
            return []
        Presence.objects.filter(user_id__in=user_ids).update(
            status=Presence.Status.ONLINE, status_text="", status_expires_at=None
        )
    online = store.online_user_ids_sync(user_ids)
    rooms = rooms_of_users(user_ids)
    messages: list[tuple[str, dict[str, Any]]] = []
    for user in _users_with_presence(user_ids):
        payload = presence_payload(user, user.pk in online)
        messages += presence_messages(
            "status_changed", payload, rooms.get(user.pk, ()), subject_id=user.pk, to_self=True
        )
    return messages
