"""Members: add, remove, join, leave, change a member's role, and a member's own settings for a room.

The room rules for removing someone (direct rooms keep their two members,
nobody removes the owner, only the owner removes admins) live in
``check_remove_member`` alone, and those for changing a role (admins make
admins, only the owner demotes another admin, nobody changes the owner) in
``check_set_member_role``; the moderation tools ask them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from chat import queries
from chat.models import Room, RoomMember
from chat.payloads import member_payload
from core.errors import ActionError, forbidden, invalid, not_found
from core.payloads import user_payload
from core.publishing import publish, publish_membership, room_group, user_group
from core.ratelimit import take_slots
from core.validation import parse_choice, parse_id, refuse_unknown_fields

from .access import Audit, audit_moderator_power, get_membership, is_moderator
from .rooms import announce_room_to
from .timeline import ADDED, DEMOTED, JOINED, LEFT, PROMOTED, REMOVED, do_record_timeline_event

User = get_user_model()

MEMBERSHIP_SETTINGS = ("notify_level", "muted")
# The roles ``PATCH rooms/{id}/members/{user}/`` sets; the owner's is handed on only by leaving.
SETTABLE_ROLES = (RoomMember.Role.ADMIN, RoomMember.Role.MEMBER)


@dataclass
class MemberAddition:
    room: Room
    user: Any
    role: str
    actor: Any = None  # who adds: named by the room's "added" line


@dataclass
class MemberRemoval:
    member: RoomMember  # with its room and user
    by_moderator_power: bool


@dataclass
class RoleChange:
    actor: Any
    member: RoomMember  # with its room and user
    role: str  # the new role; the member's own ``role`` is still the old one
    by_moderator_power: bool


@dataclass
class RoomJoin:
    user: Any
    room: Room
    existing: RoomMember | None  # already a member: nothing to write


@dataclass
class SettingsChange:
    membership: RoomMember
    changes: dict[str, Any]


# --- Adding and removing ------------------------------------------------------------


def check_add_member(actor, room_id: Any, user_id: Any, role: Any = RoomMember.Role.MEMBER) -> MemberAddition:
    """Admins add members, and any member of a public room; only admins make admins; within the
    member-add limit."""
    membership = get_membership(actor, room_id)
    room = membership.room
    if room.kind == Room.Kind.DIRECT:
        raise forbidden("Direct rooms have exactly two members.")
    if not (membership.is_admin or room.is_public):
        raise forbidden("Only room admins can add members.")
    role = parse_choice(role, "role", (RoomMember.Role.MEMBER, RoomMember.Role.ADMIN))
    if role == RoomMember.Role.ADMIN and not membership.is_admin:
        raise forbidden("Only room admins can make admins.")
    target = User.objects.filter(pk=parse_id(user_id, "user"), is_active=True).first()
    if target is None:
        raise not_found("User")
    if RoomMember.objects.filter(room=room, user=target).exists():
        raise ActionError("conflict", "The user is already a member.")
    take_slots(actor.id, member_add=1)  # last: a refused add uses no slot
    return MemberAddition(room, target, role, actor)


def do_add_member(addition: MemberAddition) -> dict[str, Any]:
    room, target = addition.room, addition.user
    with transaction.atomic():
        member, created = RoomMember.objects.get_or_create(room=room, user=target, defaults={"role": addition.role})
        if not created:  # added by someone else since the check
            raise ActionError("conflict", "The user is already a member.")
        publish(
            room_group(room.id),
            "member_joined",
            {"room": room.id, "user": user_payload(target), "member": member_payload(member)},
        )
        do_record_timeline_event(room, ADDED, actor=addition.actor, target=target)
        announce_room_to([target.id], room)
    return member_payload(member)


def add_member(actor, room_id: Any, user_id: Any, role: Any = RoomMember.Role.MEMBER) -> dict[str, Any]:
    """Add a user to a group room: admins may, and any member of a public room."""
    return do_add_member(check_add_member(actor, room_id, user_id, role))


def check_remove_member(actor, room_id: Any, user_id: Any) -> MemberRemoval:
    """Room admins remove members (only the owner removes admins); moderators remove
    anyone but the owner, without being in the room. Nobody removes the owner, and
    direct rooms keep their two members."""
    target_id = parse_id(user_id, "user")
    by_moderator_power = is_moderator(actor)
    if by_moderator_power:
        room = Room.objects.filter(pk=parse_id(room_id, "room"), archived=False).first()
        if room is None:
            raise not_found("Room")
        may_remove_admins = True
    else:
        membership = get_membership(actor, room_id)
        if not membership.is_admin:
            raise forbidden("Only room admins can remove members.")
        room = membership.room
        may_remove_admins = membership.role == RoomMember.Role.OWNER
    if room.kind == Room.Kind.DIRECT:
        raise forbidden("Direct rooms have exactly two members.")
    target = _member_of(room, target_id)
    if target.role == RoomMember.Role.OWNER:
        raise forbidden("Nobody can remove the owner from their room.")
    if target.is_admin and not may_remove_admins:
        raise forbidden("Only the owner can remove an admin.")
    return MemberRemoval(target, by_moderator_power)


def _member_of(room: Room, user_id: int) -> RoomMember:
    """The user's membership of ``room`` (with its user and room), or ``not_found``."""
    member = RoomMember.objects.select_related("user").filter(room=room, user_id=user_id).first()
    if member is None:
        raise not_found("Member")
    member.room = room
    return member


def do_remove_member(member: RoomMember, *, audit: Audit | None = None, actor: Any = None) -> None:
    """Take ``member`` out of its room: the room gets ``member_left``, the user ``room_removed``.
    The room's line says "left" when no ``actor`` (or the member) did it, else "<actor> removed <member>"."""
    with transaction.atomic():
        member.delete()
        if audit is not None:
            audit()
        _record_removal(member, actor)
        publish(room_group(member.room_id), "member_left", {"room": member.room_id, "user": user_payload(member.user)})
        publish_membership(member.user_id, member.room_id, False, {"room": member.room_id})


def remove_member(actor, room_id: Any, user_id: Any) -> None:
    """Remove a member (see ``check_remove_member``); your own id leaves the room.
    A removal by moderator power is audited."""
    if parse_id(user_id, "user") == actor.id:
        return leave_room(actor, room_id)
    removal = check_remove_member(actor, room_id, user_id)
    audit = audit_moderator_power(actor, "remove_member", member=removal.member) if removal.by_moderator_power else None
    do_remove_member(removal.member, audit=audit, actor=actor)


def _record_removal(member: RoomMember, actor: Any) -> None:
    if actor is None or actor.id == member.user_id:
        do_record_timeline_event(member.room, LEFT, actor=member.user)
    else:
        do_record_timeline_event(member.room, REMOVED, actor=actor, target=member.user)


# --- Roles ------------------------------------------------------------------------------


def check_set_member_role(actor, room_id: Any, user_id: Any, role: Any) -> RoleChange:
    """The owner and admins make a member an admin; only the owner makes an admin a member again (an admin
    may step down themself); moderators do either in any room, by moderator power. Nobody changes the
    owner's role (the owner hands the room on by leaving), direct rooms have no roles, and ``owner`` is
    not a role to give. Within the role-change limit; setting the role a member has changes nothing and
    takes no slot."""
    room_id, target_id = parse_id(room_id, "room"), parse_id(user_id, "user")
    membership = (
        RoomMember.objects.select_related("room").filter(room_id=room_id, user=actor, room__archived=False).first()
    )
    # A moderator reaches any live room; anyone else only a room they are in (never say a room exists).
    room = membership.room if membership is not None else None
    if room is None and is_moderator(actor):
        room = Room.objects.filter(pk=room_id, archived=False).first()
    if room is None:
        raise not_found("Room")
    if room.kind == Room.Kind.DIRECT:
        raise invalid("Direct rooms have no roles to change.")
    role = parse_choice(role, "role", SETTABLE_ROLES)
    target = _member_of(room, target_id)
    if target.role == RoomMember.Role.OWNER:
        raise forbidden("Nobody can change the owner's role: the owner hands the room on by leaving it.")
    by_right = _may_set_role(membership, target, role)
    if not by_right and not is_moderator(actor):
        if membership is None or not membership.is_admin:
            raise forbidden("Only room admins can change roles.")
        raise forbidden("Only the owner can make an admin a member again.")
    if target.role != role:
        take_slots(actor.id, member_role=1)  # last: a refused change, or none, uses no slot
    return RoleChange(actor, target, role, not by_right)


def _may_set_role(membership: RoomMember | None, target: RoomMember, role: str) -> bool:
    """The room's own rule, without moderator power."""
    if membership is None or not membership.is_admin:
        return False
    if membership.role == RoomMember.Role.OWNER or role == RoomMember.Role.ADMIN:
        return True
    # An admin making an admin a member: only themself (making a member a member changes nothing).
    return target.user_id == membership.user_id or target.role == RoomMember.Role.MEMBER


def do_set_member_role(change: RoleChange, *, audit: Audit | None = None) -> dict[str, Any]:
    """Give the member the role: the room gets ``member_updated`` and a timeline line ("Ann made Bob an admin").
    Setting the role the member has writes, audits and publishes nothing."""
    member, role = change.member, change.role
    if member.role == role:
        return member_payload(member)
    with transaction.atomic():
        # Conditional: a member who left meanwhile, or became the owner when the owner left, is not touched.
        if not RoomMember.objects.filter(pk=member.pk, role=member.role).update(role=role):
            raise ActionError("conflict", "The member left or their role changed meanwhile; try again.")
        member.role = role
        if audit is not None:
            audit()
        _publish_role(member)
        event = PROMOTED if role == RoomMember.Role.ADMIN else DEMOTED
        do_record_timeline_event(member.room, event, actor=change.actor, target=member.user)
    return member_payload(member)


def _publish_role(member: RoomMember) -> None:
    """``member_updated``: the member's role, to the room (after commit)."""
    publish(
        room_group(member.room_id),
        "member_updated",
        {"room": member.room_id, "user": member.user_id, "role": member.role},
    )


def set_member_role(actor, room_id: Any, user_id: Any, role: Any) -> dict[str, Any]:
    """Make a member an admin or an admin a member (see ``check_set_member_role``); returns the member.
    A change by moderator power is audited."""
    change = check_set_member_role(actor, room_id, user_id, role)
    audit = None
    if change.by_moderator_power and change.member.role != change.role:
        audit = audit_moderator_power(actor, "set_member_role", member=change.member, role=change.role)
    return do_set_member_role(change, audit=audit)


# --- Joining and leaving --------------------------------------------------------------


def check_join_room(user, room_id: Any) -> RoomJoin:
    """A public group room to join, or the room the user is in already."""
    room_id = parse_id(room_id, "room")
    existing = (
        RoomMember.objects.select_related("room").filter(room_id=room_id, user=user, room__archived=False).first()
    )
    if existing is not None:
        return RoomJoin(user, existing.room, existing)
    room = Room.objects.filter(pk=room_id, is_public=True, archived=False, kind=Room.Kind.GROUP).first()
    if room is None:
        raise not_found("Room")
    return RoomJoin(user, room, None)


def do_join_room(join: RoomJoin) -> dict[str, Any]:
    if join.existing is not None:
        return queries.room_detail(join.existing)
    user, room = join.user, join.room
    with transaction.atomic():
        member, created = RoomMember.objects.get_or_create(
            room=room, user=user, defaults={"last_read_seq": room.last_seq}
        )
        if created:
            publish(
                room_group(room.id),
                "member_joined",
                {"room": room.id, "user": user_payload(user), "member": member_payload(member)},
            )
            # The joiner has read their own line.
            member.last_read_seq = do_record_timeline_event(room, JOINED, actor=user).seq
            announce_room_to([user.id], room)
    member.room = room
    return queries.room_detail(member)


def join_room(user, room_id: Any) -> dict[str, Any]:
    """Join a public group room; for a room the user is in, just its detail."""
    return do_join_room(check_join_room(user, room_id))


def check_leave_room(user, room_id: Any) -> RoomMember:
    membership = get_membership(user, room_id)
    if membership.room.kind == Room.Kind.DIRECT:
        raise forbidden("You cannot leave a direct room.")
    return membership


def do_leave_room(membership: RoomMember) -> None:
    """A sole owner hands the room to an admin, else to the longest-standing member."""
    room = membership.room
    with transaction.atomic():
        if membership.role == RoomMember.Role.OWNER:
            successor = (
                RoomMember.objects.filter(room=room)
                .exclude(pk=membership.pk)
                .order_by(
                    # admins first, then the longest-standing member
                    F("role").asc(),
                    "joined_at",
                )
                .first()
            )
            if (
                successor is not None
                and not RoomMember.objects.filter(room=room, role=RoomMember.Role.OWNER)
                .exclude(pk=membership.pk)
                .exists()
            ):
                successor.role = RoomMember.Role.OWNER
                successor.save(update_fields=["role"])
                _publish_role(successor)
        do_remove_member(membership)


def leave_room(user, room_id: Any) -> None:
    """Leave a group room. A sole owner hands the room to the longest-standing member."""
    do_leave_room(check_leave_room(user, room_id))


# --- A member's own settings -----------------------------------------------------------


def check_membership_settings(user, room_id: Any, **fields: Any) -> SettingsChange:
    membership = get_membership(user, room_id)
    refuse_unknown_fields(fields, MEMBERSHIP_SETTINGS)
    if "notify_level" in fields:
        parse_choice(fields["notify_level"], "notify_level", RoomMember.NotifyLevel.values)
    if "muted" in fields and not isinstance(fields["muted"], bool):
        raise invalid("`muted` must be true or false.")
    return SettingsChange(membership, dict(fields))


def do_update_membership_settings(change: SettingsChange) -> dict[str, Any]:
    """Write the settings that differ, and tell the user's other tabs (``membership_updated``, those fields
    only); the same values again write and announce nothing."""
    membership = change.membership
    changed = {field: value for field, value in change.changes.items() if getattr(membership, field) != value}
    if changed:
        with transaction.atomic():
            for field, value in changed.items():
                setattr(membership, field, value)
            membership.save(update_fields=list(changed))
            publish(user_group(membership.user_id), "membership_updated", {"room": membership.room_id, **changed})
    return queries.room_summaries([membership])[0]


def update_membership_settings(user, room_id: Any, **fields: Any) -> dict[str, Any]:
    """The caller's own notification preference for a room (``notify_level``, ``muted``)."""
    return do_update_membership_settings(check_membership_settings(user, room_id, **fields))
