"""Rooms: create a group room, the direct room of two users, change and archive a group room."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from chat import queries
from chat.models import Room, RoomMember
from chat.payloads import room_fields, room_payload
from core.errors import forbidden, invalid, not_found
from core.publishing import publish, publish_membership, room_group
from core.ratelimit import take_slots
from core.validation import clean_text, parse_id, refuse_unknown_fields

from .access import get_membership
from .timeline import RENAMED, do_record_timeline_event

User = get_user_model()

ROOM_FIELDS = ("name", "topic", "is_public", "members_can_pin")


@dataclass
class NewGroupRoom:
    owner: Any
    name: str
    topic: str
    is_public: bool
    members_can_pin: bool
    others: list[Any]


@dataclass
class RoomChange:
    membership: RoomMember
    changes: dict[str, Any]


# --- Group rooms ------------------------------------------------------------------


def check_create_group_room(
    user, *, name: Any, topic: Any = "", is_public: Any = False, members: Any = None, members_can_pin: Any = True
) -> NewGroupRoom:
    """A well-formed room with at most ``ROOM_MEMBERS_ADD_MAX`` initial members, all active users; within
    the room limit, and the member-add limit for the people put in it."""
    name = clean_text(name, "name", 100, required=True)
    topic = clean_text(topic, "topic", 250)
    if not isinstance(is_public, bool) or not isinstance(members_can_pin, bool):
        raise invalid("`is_public` and `members_can_pin` must be true or false.")
    member_ids = _parse_user_ids(members)
    member_ids.discard(user.id)
    others = list(User.objects.filter(pk__in=member_ids, is_active=True))
    if len(others) != len(member_ids):
        raise invalid("Some `members` are not users.")
    # Last: a new room, and each person put in it, count against the creator's limits.
    take_slots(user.id, room=1, member_add=len(others))
    return NewGroupRoom(user, name, topic, is_public, members_can_pin, others)


def do_create_group_room(new: NewGroupRoom) -> dict[str, Any]:
    with transaction.atomic():
        room = Room.objects.create(
            kind=Room.Kind.GROUP,
            name=new.name,
            topic=new.topic,
            is_public=new.is_public,
            members_can_pin=new.members_can_pin,
            created_by=new.owner,
        )
        owner = RoomMember.objects.create(room=room, user=new.owner, role=RoomMember.Role.OWNER)
        RoomMember.objects.bulk_create([RoomMember(room=room, user=other) for other in new.others])
        announce_room_to([new.owner.id, *(other.id for other in new.others)], room)
    return room_payload(room, owner)


def create_group_room(user, **fields: Any) -> dict[str, Any]:
    """A new group room owned by ``user``, with optional initial members."""
    return do_create_group_room(check_create_group_room(user, **fields))


# --- Direct rooms -----------------------------------------------------------------


def check_direct_room(user, other_user_id: Any):
    """The other (active) user of a direct room; a new direct room counts against the room limit."""
    other_id = parse_id(other_user_id, "user")
    if other_id == user.id:
        raise invalid("A direct room needs another user.")
    other = User.objects.filter(pk=other_id, is_active=True).first()
    if other is None:
        raise not_found("User")
    if not Room.objects.filter(direct_key=Room.direct_key_for(user.id, other.id)).exists():
        take_slots(user.id, room=1)  # only a room that does not exist yet: opening one again is free
    return other


def do_get_or_create_direct_room(user, other) -> tuple[dict[str, Any], bool]:
    """Idempotent and race-safe by the unique ``direct_key``."""
    key = Room.direct_key_for(user.id, other.id)
    created = False
    room = Room.objects.filter(direct_key=key).first()
    if room is None:
        try:
            with transaction.atomic():
                room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=key, created_by=user)
                RoomMember.objects.bulk_create([RoomMember(room=room, user=user), RoomMember(room=room, user=other)])
                announce_room_to([user.id, other.id], room)
                created = True
        except IntegrityError:
            room = Room.objects.get(direct_key=key)  # the other request won the race
    membership = RoomMember.objects.select_related("room").get(room=room, user=user)
    return queries.room_detail(membership), created


def get_or_create_direct_room(user, other_user_id: Any) -> tuple[dict[str, Any], bool]:
    """The one direct room between two users, and whether this call created it."""
    return do_get_or_create_direct_room(user, check_direct_room(user, other_user_id))


# --- Changing and archiving -------------------------------------------------------


def check_update_room(user, room_id: Any, **fields: Any) -> RoomChange:
    """Admins of a group room change its name, topic, visibility or pin rule."""
    membership = get_membership(user, room_id)
    if membership.room.kind == Room.Kind.DIRECT:
        raise forbidden("Direct rooms cannot be changed.")
    if not membership.is_admin:
        raise forbidden("Only room admins can change the room.")
    refuse_unknown_fields(fields, ROOM_FIELDS)
    changes = {}
    if "name" in fields:
        changes["name"] = clean_text(fields["name"], "name", 100, required=True)
    if "topic" in fields:
        changes["topic"] = clean_text(fields["topic"], "topic", 250)
    for flag in ("is_public", "members_can_pin"):
        if flag in fields:
            if not isinstance(fields[flag], bool):
                raise invalid(f"`{flag}` must be true or false.")
            changes[flag] = fields[flag]
    return RoomChange(membership, changes)


def do_update_room(change: RoomChange) -> dict[str, Any]:
    room = change.membership.room
    renamed = "name" in change.changes and change.changes["name"] != room.name
    for field, value in change.changes.items():
        setattr(room, field, value)
    with transaction.atomic():
        room.save(update_fields=list(change.changes))
        if renamed:
            do_record_timeline_event(room, RENAMED, actor=change.membership.user, name=room.name)
        publish(room_group(room.id), "room_updated", {"room": room_fields(room)})
    return room_payload(room, change.membership)


def update_room(user, room_id: Any, **fields: Any) -> dict[str, Any]:
    """Change a group room's name, topic, visibility or pin rule (admins only)."""
    return do_update_room(check_update_room(user, room_id, **fields))


def check_archive_room(user, room_id: Any) -> Room:
    membership = get_membership(user, room_id)
    if membership.room.kind == Room.Kind.DIRECT or membership.role != RoomMember.Role.OWNER:
        raise forbidden("Only the owner can delete a group room.")
    return membership.room


def do_archive_room(room: Room) -> None:
    member_ids = list(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(archived=True)
        for member_id in member_ids:
            publish_membership(member_id, room.id, False, {"room": room.id})


def archive_room(user, room_id: Any) -> None:
    """The owner closes a group room: hidden from everyone, kept for the record."""
    do_archive_room(check_archive_room(user, room_id))


# --- Shared with members ------------------------------------------------------------


def announce_room_to(user_ids: list[int], room: Room) -> None:
    """After commit, the users' connections join the room's group and get ``room_added``.

    The summaries of all of them are built together (a fixed number of
    queries however many members a new room starts with).
    """

    def build() -> None:
        memberships = list(RoomMember.objects.select_related("room").filter(room=room, user_id__in=user_ids))
        for membership, summary in zip(memberships, queries.room_summaries(memberships), strict=True):
            publish_membership(membership.user_id, room.id, True, {"room": summary})

    transaction.on_commit(build)


def _parse_user_ids(value: Any) -> set[int]:
    if value in (None, ""):
        return set()
    if not isinstance(value, list):
        raise invalid("`members` must be a list of user ids.")
    limit = settings.ROOM_MEMBERS_ADD_MAX
    if len(value) > limit:
        raise invalid(f"`members` lists {len(value)} people: at most {limit} (ROOM_MEMBERS_ADD_MAX) at once.")
    return {parse_id(item, "members") for item in value}
