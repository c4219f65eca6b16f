"""Write a room's whole history as JSON Lines (see ``moderation.roomfile``).

Streams: messages are read with ``.iterator()`` in batches of 500 and each
batch's reactions and attachments come in two more queries, so memory stays
flat and the query count grows with the number of batches, not messages.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from django.utils import timezone

from chat.models import Message, Reaction, Room, RoomMember
from moderation.roomfile import BATCH, FORMAT, VERSION, batched, iso

User = get_user_model()


class Command(BaseCommand):
    help = "Export a room (members, messages with edits, reactions, replies and attachment metadata) as JSON Lines."

    def add_arguments(self, parser) -> None:
        parser.add_argument("room", type=int, help="The room's id.")
        parser.add_argument("--output", "-o", default="-", help="File to write (default: standard output).")
        parser.add_argument(
            "--include-deleted",
            action="store_true",
            help="Keep the text of soft-deleted messages (default: they are exported as tombstones).",
        )

    def handle(self, *args, room: int, output: str, include_deleted: bool, **options) -> None:
        room_obj = Room.objects.select_related("created_by").filter(pk=room).first()
        if room_obj is None:
            raise CommandError(f"Room {room} does not exist.")
        if output == "-":
            counts = self.write(room_obj, self.stdout, include_deleted)
            summary_to = self.stderr
        else:
            partial = f"{output}.partial"
            try:
                with open(partial, "w", encoding="utf-8") as stream:
                    counts = self.write(room_obj, stream, include_deleted)
                os.replace(partial, output)  # a reader never sees half a file under the final name
            except OSError as error:
                raise CommandError(f"Cannot write {output}: {error}") from error
            summary_to = self.stdout
        summary_to.write(
            f"Exported room {room_obj.pk} ({room_obj}): {counts['users']} user(s), {counts['members']} member(s), "
            f"{counts['messages']} message(s), {counts['reactions']} reaction(s), "
            f"{counts['attachments']} attachment(s) to {'standard output' if output == '-' else output}."
        )

    def write(self, room: Room, stream, include_deleted: bool) -> dict[str, int]:
        from uploads.models import Upload

        counts = {"users": 0, "members": 0, "messages": 0, "reactions": 0, "attachments": 0}

        def emit(record: dict[str, Any]) -> None:
            # One write per line: works for files and for Django's stdout wrapper alike.
            stream.write(orjson.dumps(record).decode() + "\n")

        emit(
            {
                "type": "room",
                "format": FORMAT,
                "version": VERSION,
                "exported_at": iso(timezone.now()),
                "room": {
                    "id": room.pk,
                    "kind": room.kind,
                    "name": room.name,
                    "topic": room.topic,
                    "is_public": room.is_public,
                    "members_can_pin": room.members_can_pin,
                    "archived": room.archived,
                    "created_by": room.created_by.username if room.created_by else None,
                    "created_at": iso(room.created_at),
                    "last_seq": room.last_seq,
                },
            }
        )

        messages = Message.objects.filter(room=room)
        user_ids = (
            set(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
            | set(messages.exclude(sender=None).values_list("sender_id", flat=True).distinct())
            | set(Reaction.objects.filter(message__room=room).values_list("user_id", flat=True).distinct())
            | set(messages.exclude(pinned_by=None).values_list("pinned_by_id", flat=True).distinct())
            | set(messages.exclude(deleted_by=None).values_list("deleted_by_id", flat=True).distinct())
            | set(Upload.objects.filter(message__room=room).values_list("owner_id", flat=True).distinct())
            | system_user_ids(messages)
        )
        usernames: dict[int, str] = {}
        for batch in batched(sorted(user_ids), BATCH):
            for user in User.objects.filter(pk__in=batch).order_by("pk"):
                usernames[user.pk] = user.username
                emit({"type": "user", "username": user.username, "display_name": user.display_name})
                counts["users"] += 1

        for member in RoomMember.objects.filter(room=room).order_by("joined_at", "pk").iterator(chunk_size=BATCH):
            emit(
                {
                    "type": "member",
                    "user": usernames[member.user_id],
                    "role": member.role,
                    "joined_at": iso(member.joined_at),
                    "last_read_seq": member.last_read_seq,
                    "muted": member.muted,
                    "notify_level": member.notify_level,
                    "send_muted_until": iso(member.send_muted_until),
                }
            )
            counts["members"] += 1

        rows = messages.annotate(reply_to_seq=F("reply_to__seq")).order_by("seq").iterator(chunk_size=BATCH)
        for batch in batched(rows, BATCH):
            full_ids = [m.pk for m in batch if include_deleted or m.deleted_at is None]
            reactions: dict[int, list[dict[str, Any]]] = {}
            for message_id, emoji, user_id, created_at in (
                Reaction.objects.filter(message_id__in=full_ids)
                .order_by("pk")
                .values_list("message_id", "emoji", "user_id", "created_at")
            ):
                reactions.setdefault(message_id, []).append(
                    {"emoji": emoji, "user": usernames[user_id], "created_at": iso(created_at)}
                )
            attachments: dict[int, list[dict[str, Any]]] = {}
            for upload in Upload.objects.filter(message_id__in=full_ids).order_by("pk"):
                attachments.setdefault(upload.message_id, []).append(
                    {
                        "name": upload.original_name,
                        "owner": usernames[upload.owner_id],
                        "content_type": upload.content_type,
                        "size": upload.size,
                        "width": upload.width,
                        "height": upload.height,
                        "sha256": upload.sha256,
                        "file": upload.file.name or None,
                        "thumbnail": upload.thumbnail.name or None,
                        "removed_at": iso(upload.removed_at),
                        "created_at": iso(upload.created_at),
                    }
                )
            for message in batch:
                tombstone = message.deleted_at is not None and not include_deleted
                emit(
                    {
                        "type": "message",
                        "seq": message.seq,
                        "sender": usernames.get(message.sender_id),
                        "kind": message.kind,
                        "body": "" if tombstone else message.body,
                        "body_html": "" if tombstone else message.body_html,
                        "reply_to_seq": message.reply_to_seq,
                        "client_id": str(message.client_id) if message.client_id else None,
                        "pinned": message.pinned,
                        "pinned_by": usernames.get(message.pinned_by_id),
                        "pinned_at": iso(message.pinned_at),
                        "edited_at": iso(message.edited_at),
                        "deleted_at": iso(message.deleted_at),
                        "deleted_by": usernames.get(message.deleted_by_id),
                        "created_at": iso(message.created_at),
                        "reactions": reactions.get(message.pk, []),
                        "attachments": attachments.get(message.pk, []),
                        "system": system_by_username(message.system, usernames),
                    }
                )
                counts["messages"] += 1
                counts["reactions"] += len(reactions.get(message.pk, []))
                counts["attachments"] += len(attachments.get(message.pk, []))
        emit({"type": "end", "users": counts["users"], "members": counts["members"], "messages": counts["messages"]})
        return counts


def system_user_ids(messages) -> set[int]:
    """The users timeline lines name (a moderator who removed someone may be in the room in no other way)."""
    ids = set()
    for system in messages.exclude(system=None).values_list("system", flat=True):
        ids |= {system.get(key) for key in ("actor", "target")} - {None}
    return ids


def system_by_username(system: dict | None, usernames: dict[int, str]) -> dict | None:
    """A timeline line's data with its users by username, as the rest of the file names them (ids differ
    between servers)."""
    if system is None:
        return None
    return {**system, "actor": usernames.get(system.get("actor")), "target": usernames.get(system.get("target"))}
