"""Reads: rooms lists, history pages, sync and search.

Each function does a fixed number of queries whatever the number of rooms,
messages or members (the tests assert the counts).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.payloads import edit_payload, member_payload, message_payloads, room_payload
from core.compiled import CompiledQuery, Read, attnames, instances_from_row
from core.errors import invalid
from core.payloads import iso
from core.replica import fingerprint_matches, read_on_replica, replica_usable
from core.validation import MAX_ID, clean_text, parse_id, parse_timestamp, parse_whole_number

from . import history_cache
from .models import MAIN_HISTORY, Message, MessageEdit, Room, RoomMember
from .paging import main_history, page_of, seq_page, seq_window


def _unread_subquery():
    return Coalesce(
        Subquery(
            Message.objects.filter(
                MAIN_HISTORY,
                room_id=OuterRef("room_id"),
                seq__gt=OuterRef("last_read_seq"),
                deleted_at__isnull=True,
            )
            .exclude(sender_id=OuterRef("user_id"))
            .order_by()
            .values("room_id")
            .annotate(count=Count("id"))
            .values("count"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def unread_count(room_id: int, user_id: int, last_read_seq: int) -> int:
    return (
        Message.objects.filter(MAIN_HISTORY, room_id=room_id, seq__gt=last_read_seq, deleted_at__isnull=True)
        .exclude(sender_id=user_id)
        .count()
    )


def user_memberships(user_id: int) -> QuerySet[RoomMember]:
    """The user's memberships of live rooms, most recently active first, with unread counts."""
    return (
        RoomMember.objects.filter(user_id=user_id, room__archived=False)
        .select_related("room")
        .annotate(unread=_unread_subquery())
        .order_by("-room__last_message_at", "-room__created_at", "-room_id")
    )


def live_membership(room_id: int, user_id: int) -> QuerySet[RoomMember]:
    """The user's membership of the room, if the room is live (not archived): what every room-scoped
    request is checked by (``get_membership``, and the send path's own statements)."""
    return RoomMember.objects.filter(room_id=room_id, user_id=user_id, room__archived=False)


def membership_columns() -> list[str]:
    """A membership's columns, then its room's: what ``membership_from_row`` takes back."""
    return [*attnames(RoomMember), *[f"room__{name}" for name in attnames(Room)]]


def membership_from_row(row: tuple[Any, ...], using: str) -> RoomMember:
    """The membership, its ``room`` loaded, from a row of ``membership_columns`` (and the caller's after)."""
    membership, membership.room = instances_from_row(row, (RoomMember, Room), using)
    return membership


# Nearly every room-scoped REST and socket request starts here, and every send on a database without
# the send path's hand-written statement: compiled once per process (``core.compiled``), not built and
# compiled by the ORM per call (a tenth of the history scenario's samples; a third of the embedded
# server's on the send path).
LIVE_MEMBERSHIP_ROWS = CompiledQuery(
    lambda room_id, user_id: live_membership(room_id, user_id).values_list(*membership_columns()),
    kinds=("int", "int"),
)


def message_with_sender(row: tuple[Any, ...], using: str) -> Message:
    """A message and its sender from a row of the message's columns, then the sender's (``_sender_columns``)."""
    message, sender = instances_from_row(row, (Message, get_user_model()), using)
    # A timeline line has no sender: its sender columns are the outer join's NULLs.
    message.sender = sender if message.sender_id is not None else None
    return message


def _sender_columns() -> list[str]:
    return [f"sender__{name}" for name in attnames(get_user_model())]


def _newest_main_seq():
    """The seq of the last message of a room's main history (a thread-only reply is not the room's last)."""
    newest_first = Message.objects.filter(MAIN_HISTORY, room_id=OuterRef("room_id")).order_by("-seq")
    return Subquery(newest_first.values("seq")[:1])


def _membership_rows(user_id: int) -> QuerySet:
    """``user_memberships`` as rows: ``membership_columns``, then the unread count."""
    return user_memberships(user_id).values_list(*membership_columns(), "unread")


def _last_message_rows(user_id: int) -> QuerySet:
    """The last main-history message of each of the user's live rooms, with its sender's columns."""
    return Message.objects.filter(
        room__memberships__user_id=user_id, room__archived=False, seq=_newest_main_seq()
    ).values_list(*attnames(Message), *_sender_columns())


_MEMBERSHIP_ROWS = CompiledQuery(_membership_rows)
_LAST_MESSAGE_ROWS = CompiledQuery(_last_message_rows)


def room_summaries(memberships: list[RoomMember]) -> list[dict[str, Any]]:
    """Room payloads for their members: unread and last message in two queries at most."""
    if not memberships:
        return []
    missing_unread = [m for m in memberships if not hasattr(m, "unread")]
    if missing_unread:
        counts = dict(
            RoomMember.objects.filter(pk__in=[m.pk for m in missing_unread])
            .annotate(unread=_unread_subquery())
            .values_list("pk", "unread")
        )
        for membership in missing_unread:
            membership.unread = counts.get(membership.pk, 0)
    last_by_room = {
        message.room_id: message
        for message in Message.objects.select_related("sender").filter(
            room_id__in=[m.room_id for m in memberships], seq=_newest_main_seq()
        )
    }
    return _summaries(memberships, last_by_room)


def _summaries(memberships: list[RoomMember], last_by_room: dict[int, Message]) -> list[dict[str, Any]]:
    peers = _direct_peers(memberships)
    return [
        room_payload(
            m.room, m, unread=m.unread, last_message=last_by_room.get(m.room_id), peer=peers.get((m.room_id, m.user_id))
        )
        for m in memberships
    ]


def _direct_peers(memberships: list[RoomMember]) -> dict[tuple[int, int], Any]:
    """(room id, member id) -> the other member of each direct room, in one query (none without direct rooms)."""
    direct_ids = [m.room_id for m in memberships if m.room.kind == Room.Kind.DIRECT]
    if not direct_ids:
        return {}
    by_room: dict[int, list] = {}
    for member in RoomMember.objects.filter(room_id__in=direct_ids).select_related("user"):
        by_room.setdefault(member.room_id, []).append(member.user)
    return {
        (m.room_id, m.user_id): next((u for u in by_room.get(m.room_id, []) if u.id != m.user_id), None)
        for m in memberships
        if m.room.kind == Room.Kind.DIRECT
    }


def rooms_for_user(user) -> list[dict[str, Any]]:
    """The user's room list (what ``ready`` and ``GET rooms/`` carry), from a replica that has replayed
    the user's rooms (``core.replica``) or the primary."""
    return read_on_replica(replica_has_user_rooms(user.pk), lambda: _rooms_for_user(user))


def room_list_reads(user_id: int) -> list[Read]:
    """The reads ``rooms_for_user`` makes on the primary, for ``core.compiled.read_together``.

    No reads when the replica may answer instead: the list is then read there, after its probe.
    """
    return [] if replica_usable() else [(_MEMBERSHIP_ROWS, (user_id,)), (_LAST_MESSAGE_ROWS, (user_id,))]


def _rooms_for_user(user) -> list[dict[str, Any]]:
    """The room list in two queries compiled once.

    Every connect runs this; compiling its subqueries per call was most of a
    connect's CPU (``core.compiled``). The rows are turned back into the
    models ``room_summaries`` takes, so both build the same payloads.
    """
    memberships = []
    using = _MEMBERSHIP_ROWS.database()
    for row in _MEMBERSHIP_ROWS.rows(user.id):
        membership = membership_from_row(row, using)
        membership.unread = row[-1]
        memberships.append(membership)
    if not memberships:
        return []
    last_by_room = {}
    for row in _LAST_MESSAGE_ROWS.rows(user.id):
        message = message_with_sender(row, using)
        last_by_room[message.room_id] = message
    return _summaries(memberships, last_by_room)


def replica_has_room(room: Room) -> Callable[[Any], bool]:
    """A replica probe (``core.replica``): has it replayed ``room`` up to the state just read on the primary?

    Every new message raises ``last_seq`` and every change to a stored one
    ``history_revision``, both in the transaction of the write: a replica
    whose room row has both at least as high holds every message a page of
    that room could show as the primary had them when ``room`` was read.
    One primary-key lookup on the replica; nothing more on the primary, whose
    room row the membership check read anyway.
    """

    def probe(cursor: Any) -> bool:
        cursor.execute(
            f"SELECT last_seq >= %s AND history_revision >= %s FROM {Room._meta.db_table} WHERE id = %s",
            [room.last_seq, room.history_revision, room.pk],
        )
        row = cursor.fetchone()
        return bool(row and row[0])

    return probe


def replica_has_user_rooms(user_id: int) -> Callable[[Any], bool]:
    """A replica probe: are the user's membership rows and their room rows the same versions as on the primary?

    A physical replica keeps each row's ``xmin`` (the transaction that wrote
    that version), so equal fingerprints mean no membership joined, left or
    read, and no message sent, edited or deleted in any of the user's rooms,
    that the replica has not replayed. One indexed query on each side, over
    the user's memberships only (not their messages).
    """
    sql = (
        "SELECT count(*), md5(coalesce(string_agg(m.id::text || ':' || m.xmin::text || ':' || r.xmin::text, ','"
        f" ORDER BY m.id), '')) FROM {RoomMember._meta.db_table} m"
        f" JOIN {Room._meta.db_table} r ON r.id = m.room_id WHERE m.user_id = %s"
    )
    return fingerprint_matches(sql, [user_id])


def room_detail(membership: RoomMember) -> dict[str, Any]:
    summary = room_summaries([membership])[0]
    members = list(
        RoomMember.objects.filter(room_id=membership.room_id).select_related("user").order_by("joined_at", "id")
    )
    summary["members"] = [member_payload(m) for m in members]
    return summary


def search_text(value: Any, name: str = "q", *, required: bool = False, max_length: int = 200) -> str:
    """A search string from a query parameter: trimmed, capped, and without NUL.

    PostgreSQL cannot take NUL in a string parameter, so such a search is a
    bad request (400), not a server error.
    """
    return clean_text(value, name, max_length, required=required, truncate=True)


def public_rooms(user, search: Any = "") -> list[dict[str, Any]]:
    """Public group rooms the user could join (not yet a member)."""
    search = search_text(search, max_length=100)
    rooms = Room.objects.filter(is_public=True, archived=False, kind=Room.Kind.GROUP).exclude(memberships__user=user)
    if search:
        rooms = rooms.filter(name__icontains=search)
    rooms = rooms.annotate(member_count=Count("memberships")).order_by("name", "id")[:100]
    results = []
    for room in rooms:
        payload = room_payload(room)
        payload["member_count"] = room.member_count
        results.append(payload)
    return results


def parse_cursor(value: Any, name: str) -> int | None:
    """An optional whole number (a seq or a page size): absent is None; floats, bools and overflow are refused."""
    if value is None or value == "":
        return None
    return parse_whole_number(value, name)


def history_page(room: Room, *, before: Any = None, after: Any = None, limit: Any = 50) -> dict[str, Any]:
    """A page of a room's messages, oldest first.

    Newest page by default; ``before`` pages back, ``after`` pages forward.
    ``has_more`` says whether more lie in the paging direction. The newest
    page comes from the history cache, which needs ``room`` freshly read.
    """
    before, after, limit = parse_page(before, after, limit)
    if before is None and after is None and limit <= settings.HISTORY_CACHE_SIZE:
        return read_on_replica(replica_has_room(room), lambda: history_cache.newest_page(room, limit))
    return read_on_replica(
        replica_has_room(room), lambda: history_page_from_database(room.pk, before=before, after=after, limit=limit)
    )


def history_page_from_database(
    room_id: int, *, before: int | None = None, after: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """``history_page`` without the cache, its arguments already parsed.

    The page's messages and senders come from a statement compiled once per
    process for each shape of page (``_compiled_history_window``): older pages
    are read on every scroll back, and the ORM building and compiling their
    query and its model rows were a fifth of the history scenario's samples.
    A page size is part of the statement (its ``LIMIT``), so only the sizes
    clients use are compiled (the default, and the largest the browser asks
    for when it catches up); any other is built by the ORM, as before.
    """
    if limit not in (DEFAULT_PAGE_SIZE, settings.HISTORY_PAGE_MAX):  # a size no client of ours asks for
        rows, has_more = seq_page(main_history(room_id), before=before, after=after, limit=limit)
        return {"messages": message_payloads(rows), "has_more": has_more}
    bounds = [bound for bound in (before, after) if bound is not None]
    window = _compiled_history_window(before is not None, after is not None, limit)
    using = window.database()
    messages = [message_with_sender(row, using) for row in window.rows(room_id, *bounds)]
    messages, has_more = page_of(messages, limit=limit, forward=after is not None)
    return {"messages": message_payloads(messages), "has_more": has_more}


@functools.lru_cache(maxsize=8)  # every shape: newest, before, after, both; at each of the two page sizes
def _compiled_history_window(before: bool, after: bool, limit: int) -> CompiledQuery:
    """The main-history window of a room (``seq_window``) with each message's sender columns, compiled."""
    def window(room_id: int, *bounds: int) -> QuerySet:
        given = iter(bounds)
        return seq_window(
            main_history(room_id),
            before=next(given) if before else None,
            after=next(given) if after else None,
            limit=limit,
        ).values_list(*attnames(Message), *_sender_columns())

    return CompiledQuery(window, kinds=("int",) + ("natural",) * (before + after))


DEFAULT_PAGE_SIZE = 50


def parse_page(before: Any, after: Any, limit: Any) -> tuple[int | None, int | None, int]:
    """The ``before``/``after`` seqs and the page size of a paged read (``DEFAULT_PAGE_SIZE`` by default)."""
    before = parse_cursor(before, "before")
    after = parse_cursor(after, "after")
    limit = parse_cursor(limit, "limit") if limit not in (None, "") else DEFAULT_PAGE_SIZE
    if not limit or limit > settings.HISTORY_PAGE_MAX:
        raise invalid(f"`limit` must be between 1 and {settings.HISTORY_PAGE_MAX}.")
    return before, after, limit


def room_positions(room_ids: set[int]) -> dict[int, int]:
    """The ``last_seq`` of each live room of ``room_ids`` (one query)."""
    return dict(Room.objects.filter(pk__in=room_ids, archived=False).values_list("id", "last_seq"))


def sync_rooms(user, positions: Any, since: Any = None) -> dict[str, Any]:
    """What a reconnecting client missed, per room.

    ``positions`` maps room id to the last seq the client has: newer messages
    come back in ``messages`` (oldest first, capped, ``has_more`` per room).
    ``since`` is the ``server_time`` of the client's previous ``ready`` or
    ``sync``: messages it already has that changed after it (edited, deleted,
    pinned, reacted to) come back in ``changed``. Rooms the user is not in are
    listed under ``unknown_rooms`` (left or never joined) rather than failing
    the whole sync.
    """
    if not isinstance(positions, dict) or len(positions) > 1000:
        raise invalid("`rooms` must be an object mapping room ids to seqs.")
    wanted: dict[int, int] = {}
    for key, value in positions.items():
        room_id = parse_id(key, "rooms")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise invalid("`rooms` must map room ids to whole-number seqs.")
        wanted[room_id] = value
    changed_after = parse_server_time(since)
    server_time = timezone.now()
    member_rooms = dict(
        RoomMember.objects.filter(user=user, room_id__in=wanted, room__archived=False).values_list(
            "room_id", "room__last_seq"
        )
    )
    cap = settings.SYNC_MAX_MESSAGES
    newer = Q()
    changed = Q()
    for room_id, last_seq in member_rooms.items():
        seen = wanted[room_id]
        if last_seq > seen:
            newer |= Q(room_id=room_id, seq__gt=seen, seq__lte=seen + cap)
        if changed_after is not None and seen > 0:
            changed |= Q(room_id=room_id, seq__lte=seen)
    messages_by_room: dict[str, list] = {str(room_id): [] for room_id in member_rooms}
    changed_by_room: dict[str, list] = {str(room_id): [] for room_id in member_rooms}
    # Cut by the per-room cap: the room has more than ``cap`` new messages.
    has_more = {str(room_id): last_seq > wanted[room_id] + cap for room_id, last_seq in member_rooms.items()}
    if newer or changed:
        condition = newer
        if changed:
            condition |= changed & Q(updated_at__gt=changed_after - SYNC_CLOCK_MARGIN)
        total_cap = cap * SYNC_ROOMS_PER_ANSWER
        rows = list(
            Message.objects.filter(condition).select_related("sender").order_by("room_id", "seq")[: total_cap + 1]
        )
        if len(rows) > total_cap:
            # Cut by the answer's own cap: rows come in room order, so the room of the first row left out
            # and every room after it may be incomplete. Each says so; the client syncs again from where
            # this answer leaves it (same ``since``), and nothing is lost.
            first_cut_room = rows[total_cap].room_id
            rows = rows[:total_cap]
            for room_id in member_rooms:
                if room_id >= first_cut_room:
                    has_more[str(room_id)] = True
        for payload in message_payloads(rows):
            room_key = str(payload["room"])
            target = messages_by_room if payload["seq"] > wanted[payload["room"]] else changed_by_room
            target[room_key].append(payload)
    return {
        "messages": messages_by_room,
        "has_more": has_more,
        "changed": changed_by_room,
        "unknown_rooms": sorted(set(wanted) - set(member_rooms)),
        "server_time": iso(server_time),
    }


# One ``sync`` answer holds at most this many rooms' worth of messages (SYNC_MAX_MESSAGES each).
SYNC_ROOMS_PER_ANSWER = 10

# Servers' clocks may differ a little; re-sending a change twice is harmless.
SYNC_CLOCK_MARGIN = timedelta(seconds=5)


# A ``since`` before this cannot come from a ``ready`` (and the clock margin must not step below year 1).
EARLIEST_SERVER_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def parse_server_time(value: Any) -> datetime | None:
    """``since``: an ISO 8601 time with its offset, as ``server_time`` gave it (None when absent)."""
    if value is None or value == "":
        return None
    message = "`since` must be the `server_time` of an earlier `ready` or `sync`."
    if not isinstance(value, str):
        raise invalid(message)
    parsed = parse_timestamp(value, "since", message=message)
    if parsed < EARLIEST_SERVER_TIME:
        raise invalid(message)
    return parsed


def pinned_messages(room_id: int) -> list[dict[str, Any]]:
    messages = Message.objects.filter(room_id=room_id, pinned=True, deleted_at__isnull=True).select_related("sender")
    return message_payloads(messages.order_by("-pinned_at", "-seq")[:100])


def search_messages(user, query: Any, room_id: Any = None, limit: int = 50) -> list[dict[str, Any]]:
    """Full-text search on PostgreSQL; a case-insensitive substring match elsewhere.

    Only rooms the caller is in, only live messages.
    """
    query = search_text(query, required=True)
    return read_on_replica(replica_has_user_rooms(user.pk), lambda: _search(user, query, room_id, limit))


def _search(user, query: str, room_id: Any, limit: int) -> list[dict[str, Any]]:
    messages = Message.objects.filter(
        room__memberships__user=user, room__archived=False, deleted_at__isnull=True
    ).select_related("sender")
    if room_id not in (None, ""):
        messages = messages.filter(room_id=parse_cursor(room_id, "room"))
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("body", config="english")
        search = SearchQuery(query, config="english", search_type="websearch")
        # `document @@ query OR UPPER(body) LIKE ...`: both sides have a GIN
        # index (migration 0003), so no scan of the table.
        messages = (
            messages.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(Q(document=search) | Q(body__icontains=query))
            .order_by("-rank", "-created_at", "-id")
        )
    else:
        messages = messages.filter(body__icontains=query).order_by("-created_at", "-id")
    return message_payloads(messages[:limit])


def message_edits(message: Message) -> dict[str, Any]:
    """The bodies ``message`` had before its edits, newest first; nothing for a deleted message
    (nothing of a deleted message is shown). The caller checked that the reader may see it."""
    if message.deleted_at is not None:
        return {"edits": []}
    edits = MessageEdit.objects.filter(message_id=message.id).order_by("-edited_at", "-id")
    return {"edits": [edit_payload(edit) for edit in edits[: settings.MESSAGE_EDITS_KEPT]]}


def member_count(room_id: int) -> int:
    """How many people are in a room (an invitation's page shows it)."""
    return RoomMember.objects.filter(room_id=room_id).count()
