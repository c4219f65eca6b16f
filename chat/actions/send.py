"""Sending a message: the room's next seq, attachments, notifications, ``new_message``.

On PostgreSQL the hot path is hand-written SQL (``_membership_for_send_postgresql``
and ``_insert_message_postgresql``); the ORM branch below each is what other
databases run, and tests/chat/test_send_parity.py holds the two to the same rows.
"""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, CharField, Field, ForeignKey, IntegerField, JSONField, Subquery, TextField
from django.utils import timezone

from chat.models import Message, Room, RoomMember
from chat.payloads import message_payloads
from chat.queries import LIVE_MEMBERSHIP_ROWS, live_membership, membership_columns, membership_from_row
from chat.rendering import extract_mentions, render_body
from core.compiled import CompiledQuery, fetch_one_prepared
from core.errors import ActionError, forbidden, invalid, not_found
from core.publishing import publish, room_group
from core.ratelimit import take_slots
from core.validation import clean_text, parse_choice, parse_id
from notifications.actions import notify_for_message
from notifications.triggers import message_may_notify
from uploads.actions import attach_uploads
from uploads.models import Upload

from .commands import CommandRun, check_command, is_command
from .threads import check_thread, lock_thread_root, record_thread_reply

User = get_user_model()

MAX_ATTACHMENTS = 10


@dataclass
class OutgoingMessage:
    """A checked send: the unsaved ``message``, or the message a retry of its ``client_id`` already stored."""

    membership: RoomMember  # the sender's, with its room
    message: Message | None = None
    upload_ids: list[int] = field(default_factory=list)
    notified_ids: set[int] = field(default_factory=set)
    mentions_room: bool = False
    retried: Message | None = None
    command: CommandRun | None = None  # a slash command that sends no message (chat.actions.commands)


def resolve_mentions(room: Room, body: str) -> tuple[dict[str, int], set[int], bool]:
    """Usernames linked in the render, mentioned member ids, and whether @room/@here was used."""
    names = extract_mentions(body)
    mentions_room = bool(names & {"room", "here"})
    names -= {"room", "here"}
    if not names:
        return {}, set(), mentions_room
    rows = User.objects.filter(username__in=names, memberships__room=room).values_list("username", "id")
    usernames = dict(rows)
    return usernames, set(usernames.values()), mentions_room


def may_mention_room(membership: RoomMember) -> bool:
    """Whether an @room/@here of this member notifies anyone (otherwise it is written as text)."""
    return membership.is_admin or not settings.ROOM_MENTION_ADMINS_ONLY


def check_send_message(
    user,
    room_id: Any,
    *,
    body: Any = "",
    client_id: Any = None,
    reply_to: Any = None,
    attachments: Any = None,
    kind: Any = None,
    thread: Any = None,
    also_to_room: Any = None,
    sender_name: str = "",
) -> OutgoingMessage:
    """The sender is a member not muted by a moderator; the message is well formed, its attachments the
    sender's own unattached uploads; within the send limit (and the @room limit when it notifies a room).
    ``sender_name`` is never a client's: integrations pass an incoming webhook's ``username``.
    A retry of a stored ``client_id`` is answered before any other check (it changes nothing)."""
    parsed_client_id = _parse_client_id(client_id)
    membership = _membership_for_send(user, room_id, parsed_client_id)
    room = membership.room
    if membership.retried_message_id is not None:
        existing = Message.objects.select_related("sender").get(pk=membership.retried_message_id)
        _check_retry(existing, room.id)
        return OutgoingMessage(membership, retried=existing)

    if membership.is_send_muted:
        raise forbidden(muted_message(membership))
    body = clean_text(body, "body", settings.MESSAGE_MAX_LENGTH)
    upload_ids = _parse_attachment_ids(attachments)
    if is_command(body) and kind in (None, Message.Kind.TEXT):
        command = check_command(user, membership, body)
        if isinstance(command, CommandRun):
            if upload_ids or reply_to is not None or thread is not None:
                raise invalid("A command takes no `attachments`, `reply_to` or `thread`.")
            return OutgoingMessage(membership, command=command)
        body = command
    if not body and not upload_ids:
        raise invalid("A message needs a `body` or `attachments`.")
    if kind is not None:
        kind = parse_choice(kind, "kind", Message.CLIENT_KINDS)  # a string first: a list is unhashable
    reply_id = parse_id(reply_to, "reply_to") if reply_to is not None else None
    if reply_id is not None and not Message.objects.filter(pk=reply_id, room=room).exists():
        raise invalid("`reply_to` is not a message of this room.")
    if upload_ids and _attachable_count(user, upload_ids) != len(upload_ids):
        raise invalid(ATTACHMENTS_REFUSED)
    thread_root_id, also_to_room = check_thread(room, thread, also_to_room)
    usernames, mentioned_ids, mentions_room = resolve_mentions(room, body)
    mentions_room = mentions_room and may_mention_room(membership)
    # Last, once the send is known to be good: a refused send uses no slot.
    take_slots(user.id, send=1, room_mention=int(mentions_room))
    kind = kind or Message.Kind.TEXT
    now = timezone.now()
    message = Message(
        room=room,
        sender=user,
        kind=kind,
        body=body,
        body_html=render_body(body, kind, usernames),
        reply_to_id=reply_id,
        client_id=parsed_client_id,
        thread_root_id=thread_root_id,
        also_to_room=also_to_room,
        sender_name=clean_text(sender_name, "username", 80, truncate=True),
        created_at=now,
        updated_at=now,
    )
    return OutgoingMessage(membership, message, upload_ids, mentioned_ids - {user.id}, mentions_room)


def do_send_message(outgoing: OutgoingMessage) -> tuple[dict[str, Any], bool]:
    """Store the message with the room's next seq, attach its uploads, notify, and broadcast
    ``new_message`` after commit. Returns the payload and whether it was created; for a slash
    command that sends no message, ``{"command", "result"}`` and False."""
    if outgoing.retried is not None:
        return message_payloads([outgoing.retried])[0], False
    if outgoing.command is not None:
        return {"command": outgoing.command.name, "result": outgoing.command.run()}, False
    message = outgoing.message
    room = message.room
    # On PostgreSQL an ordinary message is one statement (_insert_message), its
    # own transaction: no BEGIN and COMMIT round trips. Anything else written
    # with it (attachments, notifications) shares one transaction; whether
    # there is any is the notifications app's one predicate.
    alone = (
        connection.vendor == "postgresql"
        and connection.get_autocommit()
        and not connection.in_atomic_block
        and not outgoing.upload_ids
        and not message_may_notify(
            message, mentioned_user_ids=outgoing.notified_ids, mentions_room=outgoing.mentions_room
        )
    )
    try:
        with nullcontext() if alone else transaction.atomic():
            # A reply locks its root before the room row (the order edits take): see chat.actions.threads.
            thread_root = lock_thread_root(message)
            _insert_message(message, outgoing.membership.pk)
            attached = []
            if outgoing.upload_ids:
                attached = attach_uploads(message.sender, message, outgoing.upload_ids)
                if message.kind == Message.Kind.TEXT:
                    new_kind = Message.Kind.IMAGE if all(u.is_image for u in attached) else Message.Kind.FILE
                    message.kind = new_kind
                    Message.objects.filter(pk=message.pk).update(kind=new_kind)
            message._prefetched_attachments = attached
            payload = message_payloads([message], fresh=True)[0]
            publish(room_group(room.id), "new_message", {"message": payload}, seq=message.seq)
            if thread_root is not None:  # before notifying: it writes who follows the thread
                record_thread_reply(thread_root, message, outgoing.notified_ids)
            notify_for_message(message, mentioned_user_ids=outgoing.notified_ids, mentions_room=outgoing.mentions_room)
    except IntegrityError:
        # A concurrent retry with the same client_id committed first.
        if message.client_id is None:
            raise
        existing = (
            Message.objects.select_related("sender").filter(sender=message.sender, client_id=message.client_id).first()
        )
        if existing is None:
            raise
        _check_retry(existing, room.id)
        return message_payloads([existing])[0], False
    return payload, True


def send_message(user, room_id: Any, **fields: Any) -> tuple[dict[str, Any], bool]:
    """Store a message with the room's next seq and broadcast ``new_message``.

    Returns the payload and whether it was created: a retry with the same
    ``client_id`` returns the stored message and creates nothing.
    """
    return do_send_message(check_send_message(user, room_id, **fields))


def _check_retry(existing: Message, room_id: int) -> None:
    if existing.room_id != room_id:
        raise ActionError("conflict", "This `client_id` was already used for a message in another room.")


# --- The sender's membership, and a retry, in one query ------------------------------------


def muted_message(membership: RoomMember) -> str:
    """What a member muted by a moderator is told on each send: until when, and the moderator's reason."""
    until = f"A moderator muted you in this room until {membership.send_muted_until:%Y-%m-%d %H:%M} UTC."
    return f"{until} Reason: {membership.send_muted_reason}" if membership.send_muted_reason else until


def _membership_for_send(user, room_id: Any, client_id: uuid.UUID | None) -> RoomMember:
    """The sender's membership (with its room) and, in the same query, the id of a
    message already stored under ``client_id`` (a retry): one round trip."""
    room_id = parse_id(room_id, "room")
    if connection.vendor == "postgresql":
        membership = _membership_for_send_postgresql(user.id, room_id, client_id)
    else:
        membership = _membership_for_send_orm(user.id, room_id, client_id)
    if membership is None:
        raise not_found("Room")
    return membership


def _membership_for_send_orm(user_id: int, room_id: int, client_id: uuid.UUID | None) -> RoomMember | None:
    if client_id is None:
        query, arguments = LIVE_MEMBERSHIP_ROWS, (room_id, user_id)
    else:
        query, arguments = _MEMBERSHIP_RETRY_ROWS, (room_id, user_id, client_id)
    rows = query.rows(*arguments)
    if not rows:
        return None
    membership = membership_from_row(rows[0], query.database())
    membership.retried_message_id = rows[0][-1] if client_id is not None else None
    return membership


def _membership_retry_rows(room_id: int, user_id: int, client_id: uuid.UUID):
    stored = Message.objects.filter(sender_id=user_id, client_id=client_id).values("id")[:1]
    return (
        live_membership(room_id, user_id)
        .annotate(retried_message_id=Subquery(stored))
        .values_list(*membership_columns(), "retried_message_id")
    )


# A send with a client_id on a database without the hand-written statement (SQLite, the embedded
# default) runs this: building the queryset per send was a third of the embedded server's samples.
_MEMBERSHIP_RETRY_ROWS = CompiledQuery(_membership_retry_rows, kinds=("int", "int", "uuid"))


def _membership_for_send_postgresql(user_id: int, room_id: int, client_id: uuid.UUID | None) -> RoomMember | None:
    """``_membership_for_send_orm`` written out: the ORM took longer to build
    it than PostgreSQL to run it (measured: 0.8 of 1.2 ms), on every send."""
    row = fetch_one_prepared(_membership_for_send_sql(), [user_id, client_id, room_id, user_id])
    if row is None:
        return None
    # psycopg returns these columns as the ORM would store them (no converters).
    membership = membership_from_row(row, connection.alias)
    membership.retried_message_id = row[-1]
    return membership


@cache
def _membership_for_send_sql() -> str:
    """``membership_columns`` (``membership_from_row`` reads them back), then the retried message's id."""
    quote = connection.ops.quote_name
    member_fields = RoomMember._meta.concrete_fields
    room_fields = Room._meta.concrete_fields
    columns = ", ".join([f"m.{quote(f.column)}" for f in member_fields] + [f"r.{quote(f.column)}" for f in room_fields])
    sql = (
        f"SELECT {columns}, "
        f"(SELECT id FROM {Message._meta.db_table} WHERE sender_id = %s AND client_id = %s LIMIT 1) "
        f"FROM {RoomMember._meta.db_table} m JOIN {Room._meta.db_table} r ON r.id = m.room_id "
        "WHERE m.room_id = %s AND m.user_id = %s AND NOT r.archived"
    )
    return sql


# --- The insert: seq, row and the sender's read mark ------------------------------------------


def _insert_message(message: Message, membership_id: int) -> None:
    """Save a new ``message`` with its room's next seq and move its sender's read
    mark to it. The room row stays locked until the transaction ends, so seqs are
    gap-free and strictly increasing however many processes send."""
    if connection.vendor == "postgresql":
        _insert_message_postgresql(message, membership_id)
    else:
        _insert_message_orm(message, membership_id)


def _insert_message_orm(message: Message, membership_id: int) -> None:
    table = Room._meta.db_table
    room_at = [connection.ops.adapt_datetimefield_value(message.created_at), message.room_id]
    row = fetch_one_prepared(
        f"UPDATE {table} SET last_seq = last_seq + 1, last_message_at = %s WHERE id = %s RETURNING last_seq", room_at
    )
    if row is None:  # the room row is gone (deleted since the membership check)
        raise not_found("Room")
    message.seq = row[0]
    # Stored exactly as presented, like the PostgreSQL statement does (auto_now(_add) would replace the
    # send's timestamps, which last_message_at above already took); the statement is built once, since
    # building an ORM insert per send was a tenth of the embedded server's samples. Values the driver
    # takes as they are skip the field's preparation, as on PostgreSQL.
    fields, insert = _plain_insert_sql()
    values = [
        value if value is None or native else field.get_db_prep_save(value, connection)
        for field, native, value in ((field, native, getattr(message, field.attname)) for field, native in fields)
    ]
    message.pk = fetch_one_prepared(insert, values)[0]
    # The sender has read their own message.
    fetch_one_prepared(
        f"UPDATE {RoomMember._meta.db_table} SET last_read_seq = %s WHERE id = %s AND last_read_seq < %s RETURNING id",
        [message.seq, membership_id, message.seq],
    )
    message._state.adding = False
    message._state.db = connection.alias


# Fields whose Python values every driver stores as the field would prepare them (the rest: timestamps,
# UUIDs and JSON, which SQLite stores as text the field writes).
_NATIVE_FIELDS = (CharField, TextField, IntegerField, BooleanField, ForeignKey)


@cache
def _plain_insert_sql() -> tuple[list[tuple[Field, bool]], str]:
    quote = connection.ops.quote_name
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    native = [(f, isinstance(f, _NATIVE_FIELDS) and not isinstance(f, JSONField)) for f in fields]
    return native, f"INSERT INTO {Message._meta.db_table} ({columns}) VALUES ({placeholders}) RETURNING id"


def _insert_message_postgresql(message: Message, membership_id: int) -> None:
    """``_insert_message_orm`` in ONE statement: the seq UPDATE, the INSERT and the read
    mark UPDATE as data-modifying CTEs (one round trip instead of three, and in
    autocommit no BEGIN and COMMIT either). A failed INSERT (a duplicate
    ``client_id``) undoes the seq UPDATE with it: no gap."""
    fields, sql = _insert_message_sql()
    values = [(field, native, getattr(message, field.attname)) for field, native in fields]
    params = [value if native else field.get_db_prep_save(value, connection) for field, native, value in values]
    row = fetch_one_prepared(sql, [message.created_at, message.room_id, *params, membership_id])
    if row is None:  # the room row is gone (deleted since the membership check)
        raise not_found("Room")
    message.pk, message.seq = row
    message._state.adding = False
    message._state.db = connection.alias


@cache
def _insert_message_sql() -> tuple[list[tuple[Field, bool]], str]:
    """The statement and the message fields it takes as parameters, in order, each with whether
    psycopg takes its Python value as it is (str, int, bool, aware datetime, UUID, None): preparing
    those through the field was a tenth of a send's CPU. JSON needs the field's adapter."""
    quote = connection.ops.quote_name
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key and f.attname != "seq"]
    columns = ", ".join([quote(Message._meta.get_field("seq").column)] + [quote(f.column) for f in fields])
    # Each parameter cast to its column's type: bound by the server, a parameter in a SELECT list has none
    # (the base type, without a length: a cast to varchar(80) would cut a value where the INSERT refuses it).
    values = ", ".join(["room.last_seq"] + [f"%s::{f.cast_db_type(connection).split('(')[0]}" for f in fields])
    room_table, member_table = Room._meta.db_table, RoomMember._meta.db_table
    sql = (
        f"WITH room AS (UPDATE {room_table} SET last_seq = last_seq + 1, last_message_at = %s "
        "WHERE id = %s RETURNING last_seq), "
        f"message AS (INSERT INTO {Message._meta.db_table} ({columns}) SELECT {values} FROM room RETURNING id, seq), "
        f"read_mark AS (UPDATE {member_table} SET last_read_seq = message.seq FROM message "
        f"WHERE {member_table}.id = %s AND {member_table}.last_read_seq < message.seq) "
        "SELECT id, seq FROM message"
    )
    return [(f, not isinstance(f, JSONField)) for f in fields], sql


# --- Parsing -------------------------------------------------------------------------------


def _parse_client_id(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid("`client_id` must be a UUID.") from None


ATTACHMENTS_REFUSED = "Some `attachments` are not your uploads, or are attached to another message already."


def _attachable_count(user, upload_ids: list[int]) -> int:
    """How many of ``upload_ids`` the user could attach now (``attach_uploads`` checks again under lock)."""
    return Upload.objects.filter(pk__in=upload_ids, owner=user, message__isnull=True, removed_at__isnull=True).count()


def _parse_attachment_ids(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise invalid("`attachments` must be a list of upload ids.")
    if len(value) > MAX_ATTACHMENTS:
        raise ActionError("too_large", f"At most {MAX_ATTACHMENTS} attachments per message.")
    ids = [parse_id(item, "attachments") for item in value]
    if len(set(ids)) != len(ids):
        raise invalid("`attachments` lists an upload twice.")
    return ids
