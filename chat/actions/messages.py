"""Changing a sent message: edit, delete (soft), restore, pin and unpin.

Deleting, restoring and pinning may be done by moderator power; the do_*
then take an ``audit`` that writes the record in their transaction. Chat's
own entry points pass ``audit_moderator_power`` (the moderation app records
it); the moderation tools pass their own audit with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.history_cache import note_history_changed
from chat.models import Message, Reaction
from chat.models import MessageEdit as StoredEdit  # the model; ``MessageEdit`` here is the checked edit
from chat.payloads import message_edit_payload, message_payloads, pin_payload
from chat.rendering import render_body
from core.errors import ActionError, forbidden, invalid, not_found
from core.publishing import publish, room_group
from core.ratelimit import take_slots
from core.validation import clean_text
from notifications.actions import notify_for_message, withdraw_for_message
from uploads.actions import stored_names
from uploads.models import Upload

from .access import Audit, audit_moderator_power, get_visible_message, is_moderator
from .send import may_mention_room, resolve_mentions
from .timeline import refuse_system_message


@dataclass
class MessageEdit:
    message: Message  # with its room
    body: str
    usernames: dict[str, int]
    new_mentions: set[int]  # mentioned by the edit and not before, the sender never
    mentions_room: bool  # @room/@here added by the edit, by a member who may use it


@dataclass
class MessageChange:
    """A message the actor may change, and whether moderator power is what allows it (then it is audited)."""

    actor: Any
    message: Message
    by_moderator_power: bool


# --- Edit ---------------------------------------------------------------------------


def check_edit_message(user, message_id: Any, *, body: Any) -> MessageEdit:
    """Only the sender edits, a live, non-system message in a room they are still in; within the edit
    limit (and the @room limit when the edit newly notifies the room)."""
    message, membership = get_visible_message(user, message_id)
    if membership is None or message.room.archived:
        raise not_found("Message")
    if message.sender_id != user.id:
        raise forbidden("You can only edit your own messages.")
    if message.deleted_at is not None:
        raise ActionError("conflict", "A deleted message cannot be edited.")
    if message.kind == Message.Kind.SYSTEM:
        raise forbidden("System messages cannot be edited.")
    body = clean_text(body, "body", settings.MESSAGE_MAX_LENGTH)
    if not body and not message.attachments.exists():
        raise invalid("`body` must not be empty.")
    if body == message.body:
        return MessageEdit(message, body, {}, set(), False)
    _, old_mentions, old_room = resolve_mentions(message.room, message.body)
    usernames, mentioned_ids, mentions_room = resolve_mentions(message.room, body)
    mentions_room = mentions_room and may_mention_room(membership) and not old_room
    new_mentions = mentioned_ids - old_mentions - {user.id}
    # Last, once the edit is known to be good (an edit that changes nothing takes no slot). Edits have
    # their own budget: rewriting one message over and over is not a way around the send limit.
    take_slots(user.id, edit=1, room_mention=int(mentions_room))
    return MessageEdit(message, body, usernames, new_mentions, mentions_room)


def do_edit_message(edit: MessageEdit) -> dict[str, Any]:
    """Rewrite the message, notify people the edit newly mentions; broadcasts ``message_edited`` (the new
    body only) and returns the whole message."""
    message = edit.message
    if edit.body == message.body:
        return message_payloads([message])[0]
    with transaction.atomic():
        edited_at = timezone.now()
        keep_previous_body(message, edited_at)
        message.body = edit.body
        message.body_html = render_body(edit.body, message.kind, edit.usernames)
        message.edited_at = edited_at
        message.save(update_fields=["body", "body_html", "edited_at", "updated_at"])
        note_history_changed([message.room_id])
        publish(room_group(message.room_id), "message_edited", message_edit_payload(message))
        payload = message_payloads([message])[0]  # the whole message for the editor only
        notify_for_message(message, mentioned_user_ids=edit.new_mentions, mentions_room=edit.mentions_room, edited=True)
    return payload


def keep_previous_body(message: Message, edited_at) -> None:
    """Store the body the edit replaces, and prune the message's history to the newest ``MESSAGE_EDITS_KEPT``.

    Call inside the edit's transaction. The body is read under a row lock, not
    taken from the checked ``message``: of two racing edits the second keeps
    the first's body, so no version is lost from the history.
    """
    previous = Message.objects.select_for_update().values_list("body", flat=True).get(pk=message.pk)
    StoredEdit.objects.create(message=message, body=previous, edited_at=edited_at)
    newest = StoredEdit.objects.filter(message=message).order_by("-edited_at", "-id").values("pk")
    StoredEdit.objects.filter(message=message).exclude(pk__in=newest[: settings.MESSAGE_EDITS_KEPT]).delete()


def edit_message(user, message_id: Any, *, body: Any) -> dict[str, Any]:
    """The sender rewrites a message; broadcasts ``message_edited``."""
    return do_edit_message(check_edit_message(user, message_id, body=body))


# --- Delete and restore ----------------------------------------------------------------


def check_delete_message(user, message_id: Any) -> MessageChange:
    """The sender, a room admin, or a moderator (by moderator power) deletes a live message."""
    message, membership = get_visible_message(user, message_id)
    if message.deleted_at is not None:
        raise not_found("Message")
    by_right = message.sender_id == user.id or (membership is not None and membership.is_admin)
    if not by_right and not is_moderator(user):
        raise forbidden("You can only delete your own messages.")
    return MessageChange(user, message, not by_right)


def do_delete_message(change: MessageChange, *, audit: Audit | None = None) -> dict[str, Any]:
    """Soft delete: the row stays for a restore; its notifications go. Broadcasts ``message_deleted``."""
    message = change.message
    with transaction.atomic():
        if audit is not None:
            audit()
        message.deleted_at = timezone.now()
        message.deleted_by = change.actor
        message.pinned = False
        message.save(update_fields=["deleted_at", "deleted_by", "pinned", "updated_at"])
        note_history_changed([message.room_id])
        publish(
            room_group(message.room_id),
            "message_deleted",
            {"room": message.room_id, "message": message.id, "seq": message.seq},
        )
        withdraw_for_message(message)
    return {"room": message.room_id, "message": message.id, "seq": message.seq}


def delete_message(user, message_id: Any) -> dict[str, Any]:
    """Soft delete: the sender, a room admin or a moderator (audited). Broadcasts ``message_deleted``."""
    change = check_delete_message(user, message_id)
    return do_delete_message(change, audit=_audit_if_moderator_power(change, "delete_message"))


def check_restore_message(user, message_id: Any) -> MessageChange:
    """Only moderators restore, and only a deleted message; within the moderation limit."""
    if not is_moderator(user):
        raise forbidden("Only moderators can restore messages.")
    message, _ = get_visible_message(user, message_id)
    if message.deleted_at is None:
        raise ActionError("conflict", "The message is not deleted.")
    take_slots(user.id, moderation=1)  # last: a refused restore uses no slot
    return MessageChange(user, message, True)


def do_restore_message(change: MessageChange, *, audit: Audit | None = None) -> dict[str, Any]:
    """Undo a soft delete; the room sees the message again (``message_restored``)."""
    message = change.message
    with transaction.atomic():
        if audit is not None:
            audit()
        message.deleted_at = None
        message.deleted_by = None
        message.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        note_history_changed([message.room_id])
        payload = message_payloads([message])[0]
        # The whole message: the room had only a placeholder of it (rare, and moderators only).
        publish(room_group(message.room_id), "message_restored", {"message": payload})
    return payload


def restore_message(user, message_id: Any) -> dict[str, Any]:
    """A moderator undoes a soft delete; the room sees the message again. Always audited."""
    change = check_restore_message(user, message_id)
    return do_restore_message(change, audit=_audit_if_moderator_power(change, "restore_message"))


@dataclass
class PurgedMessages:
    messages: int = 0
    reactions: int = 0
    attachments: int = 0
    files: int = 0  # deleted once the purge commits
    bytes: int = 0


def do_purge_messages(message_ids: Iterable[int]) -> PurgedMessages:
    """Erase messages for good, with their reactions and attachments, in one transaction.

    Replies to them lose their ``reply_to``, and the messages leave their rooms'
    cached history. The attachments' files are deleted after the commit by the
    uploads app's ``post_delete`` receiver (the one place that deletes the files
    of a deleted row). No event: the rooms were told when the messages were deleted.
    """
    ids = list(message_ids)
    result = PurgedMessages()
    with transaction.atomic():
        note_history_changed(Message.objects.filter(pk__in=ids).values_list("room_id", flat=True).distinct())
        attachments = list(Upload.objects.filter(message_id__in=ids).only("pk", "file", "thumbnail", "size"))
        result.reactions = Reaction.objects.filter(message_id__in=ids).delete()[0]
        result.attachments = Upload.objects.filter(pk__in=[upload.pk for upload in attachments]).delete()[0]
        result.messages = Message.objects.filter(pk__in=ids).delete()[1].get(Message._meta.label, 0)
    result.files = sum(len(stored_names(upload)) for upload in attachments)
    result.bytes = sum(upload.size for upload in attachments)
    return result


# --- Pins ---------------------------------------------------------------------------------


def check_set_pinned(user, message_id: Any) -> MessageChange:
    """Room admins pin, every member where the room allows it, and moderators (by moderator power);
    within the pin limit (pins and unpins share it)."""
    message, membership = get_visible_message(user, message_id)
    if message.deleted_at is not None:
        raise not_found("Message")
    refuse_system_message(message, "pinned")
    by_right = membership is not None and (membership.is_admin or message.room.members_can_pin)
    if not by_right and not is_moderator(user):
        raise forbidden("Only room admins can pin messages here.")
    take_slots(user.id, pin=1)
    return MessageChange(user, message, not by_right)


def do_set_pinned(change: MessageChange, pinned: bool, *, audit: Audit | None = None) -> dict[str, Any]:
    """Pin or unpin; nothing is written (nor audited) when it is so already. The room gets the pin
    (``message_pinned``/``message_unpinned``), the caller the whole message."""
    message = change.message
    if message.pinned == pinned:
        return message_payloads([message])[0]
    with transaction.atomic():
        if audit is not None:
            audit()
        message.pinned = pinned
        message.pinned_by = change.actor if pinned else None
        message.pinned_at = timezone.now() if pinned else None
        message.save(update_fields=["pinned", "pinned_by", "pinned_at", "updated_at"])
        note_history_changed([message.room_id])
        publish(room_group(message.room_id), "message_pinned" if pinned else "message_unpinned", pin_payload(message))
        payload = message_payloads([message])[0]  # the whole message for the caller only
    return payload


def set_pinned(user, message_id: Any, pinned: bool) -> dict[str, Any]:
    """Pin or unpin: room admins, every member where the room allows, moderators (audited)."""
    change = check_set_pinned(user, message_id)
    action = "pin_message" if pinned else "unpin_message"
    return do_set_pinned(change, pinned, audit=_audit_if_moderator_power(change, action))


def _audit_if_moderator_power(change: MessageChange, action: str) -> Audit | None:
    if not change.by_moderator_power:
        return None
    return audit_moderator_power(change.actor, action, message=change.message)
