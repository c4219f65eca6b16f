"""Every moderation action, and reporting a message.

One function per action. Each checks that the caller is a moderator, asks
the chat (or uploads) ``check_*`` that holds the room's rules, and calls the
chat ``do_*`` with an ``audit`` that writes the ``AuditLog`` row inside the
do_*'s own transaction: no change without its record, no record without its
change, and the room sees exactly the live events a member's own action
would cause. Moderator power used through chat's own entry points (REST, the
socket) is recorded by ``record_moderator_power``, which receives chat's
``moderator_power_used`` signal (apps depend one way: moderation -> chat).
Admin and any future API call these.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from accounts import actions as account_actions
from chat import actions as chat_actions
from chat.models import Message, RoomMember
from chat.permissions import is_moderator
from core.errors import ActionError, forbidden, invalid, not_found
from core.payloads import iso
from core.ratelimit import take_slots
from core.validation import clean_text, parse_id, parse_timestamp, parse_whole_number
from uploads import actions as upload_actions
from uploads.models import Upload

from .models import AUDIT_REASON_MAX_LENGTH, REPORT_REASON_MAX_LENGTH, AuditLog, Report

User = get_user_model()

MAX_MUTE = timedelta(days=365)


# --- Helpers --------------------------------------------------------------------


def require_moderator(user) -> None:
    if user is None or not user.is_authenticated or not is_moderator(user):
        raise forbidden("Only moderators can do this.")


def clean_reason(value: Any, *, max_length: int = AUDIT_REASON_MAX_LENGTH, required: bool = False) -> str:
    # The shared text rule: a trimmed string, without NUL (PostgreSQL cannot store it), within the limit.
    return clean_text(value, "reason", max_length, required=required)


def audit(
    actor,
    action: str,
    *,
    target_type: str,
    target_id: int,
    target_repr: str,
    room_id: int | None = None,
    reason: str = "",
    **details: Any,
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor,
        actor_username=actor.get_username(),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:200],
        room_id=room_id,
        reason=reason,
        details=details,
    )


def record_message_action(moderator, action: str, message: Message, reason: str = "") -> AuditLog:
    """Audit a moderator's action on a message."""
    return audit(
        moderator,
        action,
        target_type="message",
        target_id=message.pk,
        target_repr=_message_repr(message),
        room_id=message.room_id,
        reason=reason,
    )


def record_member_action(moderator, action: str, member: RoomMember, reason: str = "", **details: Any) -> AuditLog:
    """Audit a moderator's action on a room member (remove, mute, unmute)."""
    preposition = "from" if action == AuditLog.Action.REMOVE_MEMBER else "in"
    return audit(
        moderator,
        action,
        target_type="user",
        target_id=member.user_id,
        target_repr=f"{member.user.username} {preposition} {member.room}",
        room_id=member.room_id,
        reason=reason,
        **details,
    )


def record_member_removal(moderator, member: RoomMember, reason: str = "") -> AuditLog:
    return record_member_action(moderator, AuditLog.Action.REMOVE_MEMBER, member, reason)


@receiver(chat_actions.moderator_power_used, dispatch_uid="moderation.record_moderator_power")
def record_moderator_power(
    sender, actor, action: str, message: Message | None = None, member: RoomMember | None = None, **kwargs: Any
) -> None:
    """Moderator power used through chat's own entry points (REST, the socket), which give no reason;
    sent inside the chat action's transaction, so the row commits or rolls back with the change.
    Further arguments (a role change's ``role``) are the record's details."""
    details = {key: value for key, value in kwargs.items() if key != "signal"}
    if message is not None:
        record_message_action(actor, action, message)
    else:
        record_member_action(actor, action, member, **details)


def _message_repr(message: Message) -> str:
    sender = message.sender.username if message.sender else "(deleted user)"
    return f"Message {message.pk} by {sender} in {message.room}: {message.body[:80]}"  # named by id, as in the admin


def _load_member(room_id: Any, user_id: Any) -> RoomMember:
    room_id = parse_id(room_id, "room")
    user_id = parse_id(user_id, "user")
    member = RoomMember.objects.select_related("room", "user").filter(room_id=room_id, user_id=user_id).first()
    if member is None:
        raise not_found("Member")
    return member


# --- Messages ---------------------------------------------------------------------


def delete_message(moderator, message_id: Any, reason: Any = "") -> dict[str, Any]:
    """Soft-delete any message; the room gets ``message_deleted`` as for its sender's own delete."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    change = chat_actions.check_delete_message(moderator, message_id)
    return chat_actions.do_delete_message(change, audit=_message_audit(change, "delete_message", reason))


def restore_message(moderator, message_id: Any, reason: Any = "") -> dict[str, Any]:
    """Undo a soft delete; the room gets ``message_restored``, the whole message back. Audited with the reason."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    change = chat_actions.check_restore_message(moderator, message_id)
    return chat_actions.do_restore_message(change, audit=_message_audit(change, "restore_message", reason))


def set_pinned(moderator, message_id: Any, pinned: bool, reason: Any = "") -> dict[str, Any]:
    """Pin or unpin any live message; audited only when it changed something."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    change = chat_actions.check_set_pinned(moderator, message_id)
    action = "pin_message" if pinned else "unpin_message"
    return chat_actions.do_set_pinned(change, pinned, audit=_message_audit(change, action, reason))


def _message_audit(change: chat_actions.MessageChange, action: str, reason: str) -> chat_actions.Audit:
    return lambda: record_message_action(change.actor, action, change.message, reason)


# --- Members ----------------------------------------------------------------------


def remove_member(moderator, room_id: Any, user_id: Any, reason: Any = "") -> None:
    """Take a member out of a group room; the room gets ``member_left``, the user ``room_removed``.

    A moderator need not be a member of the room. The room's rules (direct
    rooms keep their two members, the owner stays) are chat's
    ``check_remove_member``.
    """
    require_moderator(moderator)
    reason = clean_reason(reason)
    member = chat_actions.check_remove_member(moderator, room_id, user_id).member
    chat_actions.do_remove_member(
        member, audit=lambda: record_member_removal(moderator, member, reason), actor=moderator
    )


def mute_member(
    moderator, room_id: Any, user_id: Any, *, minutes: Any = None, until: Any = None, reason: Any = ""
) -> RoomMember:
    """Stop a member sending in one room for ``minutes`` or until a time (a ``datetime`` or ISO 8601 text);
    their sends get ``forbidden`` until then, naming the reason. Muting a muted member sets the new end."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    now = timezone.now()
    if minutes is not None and until is not None:
        raise invalid("Give `minutes` or `until`, not both.")
    if until is None:
        # Whole minutes (a float, 1e400 or a huge number is refused, not truncated or overflowed).
        minutes = parse_whole_number(minutes, "minutes", minimum=1, maximum=int(MAX_MUTE.total_seconds()) // 60)
        until = now + timedelta(minutes=minutes)
    else:
        until = parse_timestamp(until, "until")
        if until <= now or until - now > MAX_MUTE:
            raise invalid(f"`until` must be in the future, at most {MAX_MUTE.days} days ahead.")
    member = _load_member(room_id, user_id)
    take_slots(moderator.pk, moderation=1)  # last: a refused mute uses no slot
    with transaction.atomic():
        RoomMember.objects.filter(pk=member.pk).update(send_muted_until=until, send_muted_reason=reason)
        member.send_muted_until, member.send_muted_reason = until, reason
        record_member_action(moderator, AuditLog.Action.MUTE_MEMBER, member, reason, until=iso(until))
    return member


def unmute_member(moderator, room_id: Any, user_id: Any, reason: Any = "") -> RoomMember:
    """Let a muted member send again before their mute ends."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    member = _load_member(room_id, user_id)
    if not member.is_send_muted:
        raise ActionError("conflict", "The member is not muted.")
    take_slots(moderator.pk, moderation=1)  # last: a refused unmute uses no slot
    with transaction.atomic():
        RoomMember.objects.filter(pk=member.pk).update(send_muted_until=None, send_muted_reason="")
        member.send_muted_until, member.send_muted_reason = None, ""
        record_member_action(moderator, AuditLog.Action.UNMUTE_MEMBER, member, reason)
    return member


def mute_payload(member: RoomMember) -> dict[str, Any]:
    """A member's mute as moderators see it: until when (null: not muted) and the reason the member is told."""
    muted = member.is_send_muted
    return {
        "room": member.room_id,
        "user": member.user_id,
        "muted_until": iso(member.send_muted_until) if muted else None,
        "reason": member.send_muted_reason if muted else "",
    }


def member_mute(moderator, room_id: Any, user_id: Any) -> dict[str, Any]:
    """Whether a member is muted, for a moderator about to mute or unmute them."""
    require_moderator(moderator)
    return mute_payload(_load_member(room_id, user_id))


# --- Users -----------------------------------------------------------------------


def suspend_user(moderator, user_id: Any, reason: Any = "") -> None:
    """Deactivate an account site-wide and close its open sockets.

    ``is_active=False`` makes sessions and JWTs (access and refresh) fail from
    the next request on, and ``accounts.actions.do_end_sessions`` ends them for
    good (a later unsuspension revives none) and closes every open socket with
    code 4403 after commit.
    """
    require_moderator(moderator)
    reason = clean_reason(reason)
    user_id = parse_id(user_id, "user")
    if user_id == moderator.pk:
        raise forbidden("You cannot suspend yourself.")
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise not_found("User")
    if target.is_superuser and not moderator.is_superuser:
        raise forbidden("Only a superuser can suspend a superuser.")
    if not target.is_active:
        raise ActionError("conflict", "The user is already suspended.")
    with transaction.atomic():
        _set_active(moderator, target, False, reason)
        account_actions.do_end_sessions(target, account_actions.SUSPENDED)


def unsuspend_user(moderator, user_id: Any, reason: Any = "") -> None:
    """Reactivate an account. Its sessions ended at suspension stay ended: the user signs in anew."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    target = User.objects.filter(pk=parse_id(user_id, "user")).first()
    if target is None:
        raise not_found("User")
    if target.is_active:
        raise ActionError("conflict", "The user is not suspended.")
    _set_active(moderator, target, True, reason)


def _set_active(moderator, target, active: bool, reason: str) -> None:
    """Switch the account and audit it, in one transaction."""
    with transaction.atomic():
        User.objects.filter(pk=target.pk).update(is_active=active)
        action = AuditLog.Action.UNSUSPEND_USER if active else AuditLog.Action.SUSPEND_USER
        audit(moderator, action, target_type="user", target_id=target.pk, target_repr=target.username, reason=reason)


# --- Uploads ----------------------------------------------------------------------


def remove_upload(moderator, upload_id: Any, reason: Any = "") -> None:
    """Delete an upload's files; its message shows it as removed (``message_edited``)."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    upload_id = parse_id(upload_id, "upload")
    upload = Upload.objects.select_related("owner").filter(pk=upload_id).first()
    if upload is None:
        raise not_found("Upload")
    room_id = Message.objects.filter(pk=upload.message_id).values_list("room_id", flat=True).first()
    with transaction.atomic():
        upload_actions.remove_upload(moderator, upload.pk, reason=reason)
        audit(
            moderator,
            AuditLog.Action.REMOVE_UPLOAD,
            target_type="upload",
            target_id=upload.pk,
            target_repr=f"{upload.original_name} by {upload.owner.username}",
            room_id=room_id,
            reason=reason,
            message=upload.message_id,
            size=upload.size,
        )


# --- Reports ----------------------------------------------------------------------


def report_payload(report: Report) -> dict[str, Any]:
    return {
        "id": report.pk,
        "message": report.message_id,
        "reason": report.reason,
        "status": report.status,
        "created_at": iso(report.created_at),
    }


def report_message(user, message_id: Any, reason: Any) -> dict[str, Any]:
    """A member of the message's room flags it for moderators; one open report per reporter and message."""
    message_id = parse_id(message_id, "message")
    message = (
        Message.objects.filter(
            pk=message_id,
            deleted_at__isnull=True,
            room__archived=False,
            room__memberships__user=user,
        )
        .only("id", "sender_id")
        .first()
    )
    if message is None:
        raise not_found("Message")
    if message.sender_id == user.pk:
        raise invalid("You cannot report your own message.")
    reason = clean_reason(reason, max_length=REPORT_REASON_MAX_LENGTH, required=True)
    if Report.objects.filter(message=message, reporter=user, status=Report.Status.OPEN).exists():
        raise ActionError("conflict", "You have already reported this message.")
    take_slots(user.pk, report=1)  # last: a refused report uses no slot
    try:
        with transaction.atomic():
            report = Report.objects.create(message=message, reporter=user, reason=reason)
    except IntegrityError:  # a concurrent duplicate won the race
        raise ActionError("conflict", "You have already reported this message.") from None
    return report_payload(report)


def close_reports(moderator, report_ids: Any, *, resolution: str = Report.Status.RESOLVED, reason: Any = "") -> int:
    """Mark open reports resolved (acted on) or dismissed (nothing to do); returns how many were open.

    One update and one insert of audit rows however many reports are closed.
    """
    require_moderator(moderator)
    reason = clean_reason(reason)
    if resolution not in (Report.Status.RESOLVED, Report.Status.DISMISSED):
        raise invalid("`resolution` must be `resolved` or `dismissed`.")
    ids = [parse_id(report_id, "report") for report_id in report_ids]
    action = AuditLog.Action.RESOLVE_REPORT if resolution == Report.Status.RESOLVED else AuditLog.Action.DISMISS_REPORT
    with transaction.atomic():
        reports = list(
            Report.objects.select_for_update(of=("self",))
            .select_related("message__room", "message__sender", "reporter")
            .filter(pk__in=ids, status=Report.Status.OPEN)
        )
        if not reports:
            return 0
        Report.objects.filter(pk__in=[r.pk for r in reports]).update(
            status=resolution, resolved_by=moderator, resolved_at=timezone.now()
        )
        AuditLog.objects.bulk_create(
            [
                AuditLog(
                    actor=moderator,
                    actor_username=moderator.get_username(),
                    action=action,
                    target_type="report",
                    target_id=report.pk,
                    target_repr=f"report by {report.reporter.username} on {_message_repr(report.message)}"[:200],
                    room_id=report.message.room_id,
                    reason=reason,
                    details={"message": report.message_id},
                )
                for report in reports
            ]
        )
    return len(reports)


def close_report(moderator, report_id: Any, *, resolution: str = Report.Status.RESOLVED, reason: Any = "") -> Report:
    """Close one report; ``conflict`` when it is closed already."""
    require_moderator(moderator)
    report = Report.objects.filter(pk=parse_id(report_id, "report")).first()
    if report is None:
        raise not_found("Report")
    if not close_reports(moderator, [report.pk], resolution=resolution, reason=reason):
        raise ActionError("conflict", "The report is already closed.")
    report.refresh_from_db()
    return report


def delete_reported_message(moderator, report_id: Any, reason: Any = "") -> Report:
    """Delete the reported message and resolve every open report on it, in one transaction."""
    require_moderator(moderator)
    reason = clean_reason(reason)
    report = Report.objects.filter(pk=parse_id(report_id, "report")).first()
    if report is None:
        raise not_found("Report")
    with transaction.atomic():
        if Message.objects.filter(pk=report.message_id, deleted_at__isnull=True).exists():
            delete_message(moderator, report.message_id, reason or report.reason[:AUDIT_REASON_MAX_LENGTH])
        open_ids = Report.objects.filter(message_id=report.message_id, status=Report.Status.OPEN).values_list(
            "pk", flat=True
        )
        close_reports(moderator, list(open_ids), resolution=Report.Status.RESOLVED, reason=reason)
    report.refresh_from_db()
    return report
