"""Rooms loaded from an export (``moderation``'s ``import_room``): the bulk write path.

There are no check_* here: the command checks the file, and what it loads is
history, not live use. So these do_* keep what the file says (timestamps,
seqs, roles, read marks) and insert in bulk, where the live do_* would
allocate seqs, render, notify and broadcast message by message. What the live
path guarantees still holds when they finish: the room's ``last_seq`` is its
highest message's seq, and its members' connections get ``room_added``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from chat.models import Message, Reaction, Room, RoomMember
from uploads.models import Upload

from .rooms import announce_room_to


def do_create_imported_room(**fields: Any) -> Room:
    """A new group room (a direct room's pair already has its one direct room)."""
    return Room.objects.create(kind=Room.Kind.GROUP, **fields)


def do_add_imported_member(room: Room, **fields: Any) -> RoomMember:
    return RoomMember.objects.create(room=room, **fields)


def do_add_imported_messages(
    room: Room,
    messages: list[Message],
    reply_to_seqs: list[int | None],
    reactions: list[list[Reaction]],
    attachments: list[list[Upload]],
) -> None:
    """Insert a batch of messages with their reactions and attachments (given per message, in order).

    Replies point back by seq, to this batch or an earlier one; a reply to a
    message the file did not hold points nowhere.
    """
    with transaction.atomic():
        Message.objects.bulk_create(messages)
        wanted = {seq for seq in reply_to_seqs if seq is not None}
        by_seq = dict(Message.objects.filter(room=room, seq__in=wanted).values_list("seq", "pk")) if wanted else {}
        replies = []
        for message, seq in zip(messages, reply_to_seqs, strict=True):
            if seq is not None:
                message.reply_to_id = by_seq.get(seq)
                replies.append(message)
        if replies:
            Message.objects.bulk_update(replies, ["reply_to"])
        new_reactions = []
        new_attachments = []
        for message, its_reactions, its_attachments in zip(messages, reactions, attachments, strict=True):
            for reaction in its_reactions:
                reaction.message_id = message.pk
                new_reactions.append(reaction)
            for upload in its_attachments:
                upload.message_id = message.pk
                new_attachments.append(upload)
        if new_reactions:
            Reaction.objects.bulk_create(new_reactions)
        if new_attachments:
            Upload.objects.bulk_create(new_attachments)


def do_open_imported_room(room: Room) -> None:
    """The room's seq counter continues after its last imported message, and its members'
    connections learn of it after commit (``room_added``), as for a room made live."""
    last = Message.objects.filter(room=room).order_by("-seq").values_list("seq", "created_at").first()
    if last:
        Room.objects.filter(pk=room.pk).update(last_seq=last[0], last_message_at=last[1])
        room.last_seq, room.last_message_at = last
    announce_room_to(list(RoomMember.objects.filter(room=room).values_list("user_id", flat=True)), room)
