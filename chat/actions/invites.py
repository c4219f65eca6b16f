"""Room invitations: a link a room admin hands out, whose holder joins the room (a private one too).

As in Slack or Discord: an admin makes an invitation (``POST
/api/v1/rooms/{id}/invites/``), hands out its link ``/invite/<code>/``, and
whoever opens it signed in may join. An invitation is live while it is not
revoked, not expired and not used up (``RoomInvite.live``); anything else
about a code (unknown, revoked, expired, used up, its room archived) is the
same ``not_found``, so a guesser learns nothing. Not the server invitation
of ``accounts.models.ServerInvite``, which lets someone register at all.

Accepting joins through ``do_join_room``, the one place that adds a member by
their own hand (the "X joined" line, ``member_joined``, ``room_added``).
A use is counted with one conditional UPDATE in the join's transaction: on
PostgreSQL a concurrent accept waits for the invitation's row and re-checks
``uses < max_uses`` on the new value, so the last use goes to exactly one
person. Someone already in the room uses no use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from chat import queries
from chat.models import Room, RoomInvite, RoomMember
from core.errors import ActionError, forbidden, not_found
from core.ratelimit import take_slots
from core.validation import parse_whole_number

from .access import get_membership
from .members import RoomJoin, do_join_room

DEFAULT_EXPIRES_IN = 7 * 24 * 3600  # a week
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 30 * 24 * 3600  # a month: a link does not stay valid forever
MAX_USES_LIMIT = 1000
CODE_MAX_LENGTH = 64  # RoomInvite.code's column


@dataclass
class NewRoomInvite:
    room: Room
    created_by: Any
    max_uses: int | None
    expires_at: datetime


@dataclass
class InviteAcceptance:
    user: Any
    invite: RoomInvite  # with its room
    existing: RoomMember | None  # already a member: nothing to write, no use counted


class _AlreadyMember(Exception):
    """Raised inside an accept's transaction to give back the use it counted (see ``do_accept_room_invite``)."""

    def __init__(self, member: RoomMember) -> None:
        self.member = member


def parse_invite_code(code: Any) -> str:
    """A code as a string of plausible length, or ``not_found`` (a code that cannot exist exists nowhere)."""
    if not isinstance(code, str) or not 1 <= len(code) <= CODE_MAX_LENGTH:
        raise not_found("Invitation")
    return code


# --- Making, listing and revoking -----------------------------------------------------------------


def check_manage_room_invites(user, room_id: Any) -> RoomMember:
    """The caller's admin membership of a group room: only admins make and list a room's invitations."""
    membership = get_membership(user, room_id)
    if membership.room.kind == Room.Kind.DIRECT:
        raise forbidden("Direct rooms have exactly two members: they have no invitations.")
    if not membership.is_admin:
        raise forbidden("Only room admins can manage invitations.")
    return membership


def check_create_room_invite(user, room_id: Any, *, max_uses: Any = None, expires_in: Any = None) -> NewRoomInvite:
    """An admin's invitation: ``max_uses`` 1 to ``MAX_USES_LIMIT`` (null: unlimited until it expires),
    ``expires_in`` seconds from ``MIN_EXPIRES_IN`` to ``MAX_EXPIRES_IN`` (default a week); at most
    ``ROOM_INVITES_LIVE_MAX`` live ones per room; within the invitation limit."""
    membership = check_manage_room_invites(user, room_id)
    if max_uses is not None:
        max_uses = parse_whole_number(max_uses, "max_uses", minimum=1, maximum=MAX_USES_LIMIT)
    if expires_in is None:
        expires_in = DEFAULT_EXPIRES_IN
    expires_in = parse_whole_number(expires_in, "expires_in", minimum=MIN_EXPIRES_IN, maximum=MAX_EXPIRES_IN)
    now = timezone.now()
    if live_room_invites(membership.room_id).count() >= settings.ROOM_INVITES_LIVE_MAX:
        raise ActionError(
            "conflict",
            f"The room has {settings.ROOM_INVITES_LIVE_MAX} live invitations already: revoke one first.",
        )
    take_slots(user.id, invite=1)  # last: a refused invitation uses no slot
    return NewRoomInvite(membership.room, user, max_uses, now + timedelta(seconds=expires_in))


def do_create_room_invite(new: NewRoomInvite) -> RoomInvite:
    return RoomInvite.objects.create(
        room=new.room, created_by=new.created_by, max_uses=new.max_uses, expires_at=new.expires_at
    )


def create_room_invite(user, room_id: Any, *, max_uses: Any = None, expires_in: Any = None) -> RoomInvite:
    """Make an invitation link to a group room (admins only)."""
    return do_create_room_invite(check_create_room_invite(user, room_id, max_uses=max_uses, expires_in=expires_in))


def live_room_invites(room_id: int) -> QuerySet[RoomInvite]:
    """A room's live invitations, newest first, with their creators (bounded by ``ROOM_INVITES_LIVE_MAX``)."""
    return RoomInvite.objects.filter(RoomInvite.live(timezone.now()), room_id=room_id).select_related("created_by")


def room_invites(user, room_id: Any) -> list[RoomInvite]:
    """The live invitations of a room the caller is an admin of."""
    membership = check_manage_room_invites(user, room_id)
    return list(live_room_invites(membership.room_id)[: settings.ROOM_INVITES_LIVE_MAX])


def check_revoke_room_invite(user, code: Any) -> RoomInvite:
    """An invitation not revoked yet, of a room where the caller is an admin or which the caller made.

    Someone outside the room gets ``not_found``: they are not told it exists.
    """
    code = parse_invite_code(code)
    invite = RoomInvite.objects.filter(code=code, revoked_at__isnull=True, room__archived=False).first()
    if invite is None:
        raise not_found("Invitation")
    membership = RoomMember.objects.filter(room_id=invite.room_id, user=user).first()
    if membership is None:
        raise not_found("Invitation")
    if not (membership.is_admin or invite.created_by_id == user.id):
        raise forbidden("Only room admins and whoever made the invitation can revoke it.")
    take_slots(user.id, invite_revoke=1)
    return invite


def do_revoke_room_invite(invite: RoomInvite) -> None:
    """Revoked from now on; a revoke racing this one changes nothing more."""
    RoomInvite.objects.filter(pk=invite.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def revoke_room_invite(user, code: Any) -> None:
    do_revoke_room_invite(check_revoke_room_invite(user, code))


# --- Accepting ------------------------------------------------------------------------------------


def get_live_room_invite(code: Any) -> RoomInvite:
    """The live invitation with this code, its room live too, or ``not_found`` (whatever the reason)."""
    code = parse_invite_code(code)
    invite = (
        RoomInvite.objects.select_related("room")
        .filter(RoomInvite.live(timezone.now()), code=code, room__archived=False)
        .first()
    )
    if invite is None:
        raise not_found("Invitation")
    return invite


def check_accept_room_invite(user, code: Any) -> InviteAcceptance:
    """A live invitation; a member of its room already is told so without using a use or a slot."""
    invite = get_live_room_invite(code)
    existing = RoomMember.objects.filter(room=invite.room, user=user).first()
    if existing is None:
        take_slots(user.id, invite_accept=1)
    return InviteAcceptance(user, invite, existing)


def do_accept_room_invite(acceptance: InviteAcceptance) -> dict[str, Any]:
    """Count one use and join, in one transaction; the room's detail as the caller now sees it."""
    invite, user = acceptance.invite, acceptance.user
    if acceptance.existing is not None:
        return _detail(acceptance.existing, invite.room)
    try:
        with transaction.atomic():
            counted = RoomInvite.objects.filter(RoomInvite.live(timezone.now()), pk=invite.pk).update(
                uses=F("uses") + 1
            )
            if counted != 1:  # used up, revoked or expired since the check
                raise not_found("Invitation")
            # The UPDATE holds the invitation's row: an accept of the same person that raced this one
            # has committed by now, and its membership shows here.
            existing = RoomMember.objects.filter(room=invite.room, user=user).first()
            if existing is not None:
                raise _AlreadyMember(existing)  # rolls the use back
            return do_join_room(RoomJoin(user, invite.room, None))
    except _AlreadyMember as already:
        return _detail(already.member, invite.room)


def accept_room_invite(user, code: Any) -> dict[str, Any]:
    """Join the room of a live invitation (idempotent for a member, who uses no use)."""
    return do_accept_room_invite(check_accept_room_invite(user, code))


def _detail(member: RoomMember, room: Room) -> dict[str, Any]:
    member.room = room
    return queries.room_detail(member)
