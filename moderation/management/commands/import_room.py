"""Load a file written by ``export_room`` into a new room.

Always a new room: the old one (if it still exists) is untouched. Streams the
file in batches of 500 messages, in one transaction: a bad line anywhere
leaves nothing behind. Timestamps, seqs, edits, pins, reactions, replies and
attachments come back as exported; attachment files are copied when the
storage still has them, otherwise the attachment is kept as removed. Client
ids are not imported (they are a sender's idempotency keys for live sends).

This command reads and checks the file; every write is a ``do_*`` of
``chat.actions.imports``, the bulk path for history (messages, reactions and
attachments go in with bulk inserts, not through the live send). Users named
by the file but missing here are created directly (accounts has no action
for an account without a password).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from chat.actions.imports import (
    do_add_imported_member,
    do_add_imported_messages,
    do_create_imported_room,
    do_open_imported_room,
)
from chat.models import Message, Reaction, Room, RoomMember
from moderation.roomfile import BATCH, FORMAT, VERSION, parse_time
from uploads.models import Upload, thumbnail_path, upload_path

User = get_user_model()


class ImportFailed(Exception):
    pass


@contextlib.contextmanager
def keep_timestamps(*fields) -> Iterator[None]:
    """Let explicit created_at/joined_at values through ``auto_now_add`` while importing."""
    saved = [(field, field.auto_now_add) for field in fields]
    for field, _ in saved:
        field.auto_now_add = False
    try:
        yield
    finally:
        for field, value in saved:
            field.auto_now_add = value


class Command(BaseCommand):
    help = "Import a room exported by export_room (JSON Lines) into a new room."

    def add_arguments(self, parser) -> None:
        parser.add_argument("input", help="The file to read ('-' for standard input).")
        parser.add_argument("--name", help="Name of the new room (default: the exported name).")
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="Create users the file names but this site lacks (with no usable password). "
            "Without it, such a file is refused.",
        )
        parser.add_argument("--no-files", action="store_true", help="Do not copy attachment files; mark them removed.")
        parser.add_argument("--dry-run", action="store_true", help="Read and check everything, then change nothing.")

    def handle(self, *args, input: str, name, create_users: bool, no_files: bool, dry_run: bool, **options) -> None:
        self.options = {"name": name, "create_users": create_users, "no_files": no_files}
        self.copied_files: list[str] = []
        try:
            stream = sys.stdin if input == "-" else open(input, encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"Cannot read {input}: {error}") from error
        try:
            with (
                keep_timestamps(
                    Room._meta.get_field("created_at"),
                    RoomMember._meta.get_field("joined_at"),
                    Message._meta.get_field("created_at"),
                    Reaction._meta.get_field("created_at"),
                    Upload._meta.get_field("created_at"),
                ),
                transaction.atomic(),
            ):
                counts = self.load(stream)
                if dry_run:
                    transaction.set_rollback(True)
        except ImportFailed as error:
            self.delete_copied_files()
            raise CommandError(str(error)) from error
        finally:
            if stream is not sys.stdin:
                stream.close()
        if dry_run:
            self.delete_copied_files()
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} room {counts['room_id'] if not dry_run else '(new)'} ({counts['name']}): "
            f"{counts['members']} member(s), {counts['messages']} message(s), {counts['reactions']} reaction(s), "
            f"{counts['attachments']} attachment(s) ({counts['files']} file(s) copied), "
            f"{counts['users_created']} user(s) created."
        )

    def delete_copied_files(self) -> None:
        for name in self.copied_files:
            with contextlib.suppress(Exception):
                default_storage.delete(name)

    # --- Reading -----------------------------------------------------------------

    def records(self, stream) -> Iterator[tuple[int, dict[str, Any]]]:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise ImportFailed(f"Line {number}: not valid JSON ({error}).") from None
            if not isinstance(record, dict) or "type" not in record:
                raise ImportFailed(f"Line {number}: expected an object with a `type`.")
            yield number, record

    def load(self, stream) -> dict[str, Any]:
        records = self.records(stream)
        counts = {"members": 0, "messages": 0, "reactions": 0, "attachments": 0, "files": 0, "users_created": 0}
        self.counts = counts
        first = next(records, None)
        if first is None:
            raise ImportFailed("The file is empty.")
        number, header = first
        if header.get("type") != "room" or header.get("format") != FORMAT:
            raise ImportFailed(f"Line {number}: not a Confab room export.")
        if header.get("version") != VERSION:
            raise ImportFailed(f"Line {number}: format version {header.get('version')!r} is not supported.")
        self.users: dict[str, int] = {}
        self.pending_users: dict[str, str] = {}
        room_data = header.get("room") or {}
        room: Room | None = None
        batch: list[tuple[int, dict[str, Any]]] = []
        ended = False
        for number, record in records:
            kind = record["type"]
            try:
                if ended:
                    raise ImportFailed("records after `end`.")
                if kind == "user":
                    self.pending_users[str(record["username"])] = str(record.get("display_name") or "")
                elif kind == "member":
                    room = room or self.create_room(room_data, counts)
                    self.add_member(room, record)
                    counts["members"] += 1
                elif kind == "message":
                    room = room or self.create_room(room_data, counts)
                    batch.append((number, record))
                    if len(batch) >= BATCH:
                        self.add_messages(room, batch, counts)
                        batch = []
                elif kind == "end":
                    ended = True
                    expected = record.get("messages")
                else:
                    raise ImportFailed(f"unknown record type {kind!r}.")
            except ImportFailed as error:
                raise ImportFailed(f"Line {number}: {error}") from None
            except (KeyError, TypeError, ValueError) as error:
                raise ImportFailed(f"Line {number}: bad {kind} record ({type(error).__name__}: {error}).") from None
        room = room or self.create_room(room_data, counts)
        if batch:
            self.add_messages(room, batch, counts)
        if not ended:
            raise ImportFailed("The file has no `end` line: it was cut short.")
        if expected != counts["messages"]:
            raise ImportFailed(f"The file says {expected} messages but holds {counts['messages']}.")
        do_open_imported_room(room)
        counts["room_id"] = room.pk
        counts["name"] = room.name
        return counts

    # --- Writing -----------------------------------------------------------------

    def system_data(self, system: Any) -> dict | None:
        """A timeline line's data with its usernames back as this server's user ids."""
        if system is None:
            return None
        if not isinstance(system, dict):
            raise ValueError("`system` must be an object or null")
        return {**system, "actor": self.user_id(system.get("actor")), "target": self.user_id(system.get("target"))}

    def user_id(self, username: str | None) -> int | None:
        if username is None:
            return None
        username = str(username)
        if username in self.users:
            return self.users[username]
        user = User.objects.filter(username=username).first()
        if user is None:
            if not self.options["create_users"]:
                raise ImportFailed(f"user {username!r} does not exist here (use --create-users).")
            user = User(username=username, display_name=self.pending_users.get(username, ""))
            user.set_unusable_password()
            user.save()
            self.counts["users_created"] += 1
        self.users[username] = user.pk
        return user.pk

    def create_room(self, data: dict[str, Any], counts: dict[str, Any]) -> Room:
        name = self.options["name"] or str(data.get("name") or "")
        if data.get("kind") == Room.Kind.DIRECT and not name:
            name = "Imported direct room"
        return do_create_imported_room(
            name=name[:100] or "Imported room",
            topic=str(data.get("topic") or "")[:250],
            is_public=bool(data.get("is_public")) and data.get("kind") != Room.Kind.DIRECT,
            members_can_pin=bool(data.get("members_can_pin", True)),
            created_by_id=self.user_id(data.get("created_by")) if data.get("created_by") else None,
            created_at=parse_time(data.get("created_at")) or timezone.now(),
        )

    def add_member(self, room: Room, record: dict[str, Any]) -> None:
        role = record.get("role", RoomMember.Role.MEMBER)
        if role not in RoomMember.Role.values:
            raise ValueError(f"unknown role {role!r}")
        do_add_imported_member(
            room,
            user_id=self.user_id(record["user"]),
            role=role,
            joined_at=parse_time(record.get("joined_at")) or timezone.now(),
            last_read_seq=int(record.get("last_read_seq") or 0),
            muted=bool(record.get("muted")),
            notify_level=record.get("notify_level") or RoomMember.NotifyLevel.ALL,
            send_muted_until=parse_time(record.get("send_muted_until")),
        )

    def add_messages(self, room: Room, batch: list[tuple[int, dict[str, Any]]], counts: dict[str, Any]) -> None:
        messages = []
        reply_to_seqs = []
        reactions = []
        attachments = []
        for _, record in batch:
            kind = record.get("kind", Message.Kind.TEXT)
            if kind not in Message.Kind.values:
                raise ImportFailed(f"message seq {record.get('seq')}: unknown kind {kind!r}.")
            messages.append(
                Message(
                    room=room,
                    seq=int(record["seq"]),
                    sender_id=self.user_id(record.get("sender")),
                    kind=kind,
                    body=str(record.get("body") or ""),
                    body_html=str(record.get("body_html") or ""),
                    pinned=bool(record.get("pinned")),
                    pinned_by_id=self.user_id(record.get("pinned_by")),
                    pinned_at=parse_time(record.get("pinned_at")),
                    edited_at=parse_time(record.get("edited_at")),
                    deleted_at=parse_time(record.get("deleted_at")),
                    deleted_by_id=self.user_id(record.get("deleted_by")),
                    created_at=parse_time(record.get("created_at")) or timezone.now(),
                    system=self.system_data(record.get("system")),
                )
            )
            reply_to_seqs.append(int(record["reply_to_seq"]) if record.get("reply_to_seq") is not None else None)
            reactions.append(
                [
                    Reaction(
                        user_id=self.user_id(reaction["user"]),
                        emoji=str(reaction["emoji"])[:32],
                        created_at=parse_time(reaction.get("created_at")) or timezone.now(),
                    )
                    for reaction in record.get("reactions") or []
                ]
            )
            attachments.append([self.upload_for(data, counts) for data in record.get("attachments") or []])
        try:
            do_add_imported_messages(room, messages, reply_to_seqs, reactions, attachments)
        except Exception as error:
            raise ImportFailed(f"messages from seq {messages[0].seq} could not be stored ({error}).") from None
        counts["messages"] += len(messages)
        counts["reactions"] += sum(len(r) for r in reactions)
        counts["attachments"] += sum(len(a) for a in attachments)

    def upload_for(self, data: dict[str, Any], counts: dict[str, Any]) -> Upload:
        """The attachment's row (its message set when stored), with a copy of its files."""
        upload = Upload(
            owner_id=self.user_id(data["owner"]),
            original_name=str(data.get("name") or "file")[:255],
            content_type=str(data.get("content_type") or "application/octet-stream")[:100],
            size=int(data.get("size") or 0),
            width=data.get("width"),
            height=data.get("height"),
            sha256=str(data.get("sha256") or "")[:64],
            removed_at=parse_time(data.get("removed_at")),
            created_at=parse_time(data.get("created_at")) or timezone.now(),
        )
        source = data.get("file")
        if upload.removed_at is None:
            if self.options["no_files"] or not source or not default_storage.exists(source):
                upload.removed_at = timezone.now()  # the metadata stays; the message shows it removed
            else:
                upload.file.name = self.copy(source, upload_path(upload, source))
                counts["files"] += 1
                thumbnail = data.get("thumbnail")
                if thumbnail and default_storage.exists(thumbnail):
                    upload.thumbnail.name = self.copy(thumbnail, thumbnail_path(upload, thumbnail))
        return upload

    def copy(self, source: str, target: str) -> str:
        # A copy, not a shared name: removing one room's upload must not break the other's.
        with default_storage.open(source, "rb") as handle:
            saved = default_storage.save(target, handle)
        self.copied_files.append(saved)
        return saved
