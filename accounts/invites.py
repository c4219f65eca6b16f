"""Server invitations: links staff make so people can register while self-registration is closed.

As in Slack and Zulip: a staff member makes an invitation (the admin, or
``POST /api/v1/server-invites/``), hands out its link ``/join/<code>/``, and
whoever opens it may register. An invitation is live while it is not
revoked, not expired and not used up; anything else about a code (unknown,
revoked, expired, used up) is the same ``not_found``, so a guesser learns
nothing.

A registration with an invitation counts one use with a single conditional
UPDATE in the registration's transaction (``use_invite``): concurrent
registrations on the last use cannot both get it, and a registration that
fails afterwards (a taken username) gives its use back by rolling back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.errors import forbidden, invalid, not_found
from core.payloads import iso
from core.ratelimit import take_slots

from .models import ServerInvite

# Bounds of what can be stored, not policy: a PositiveIntegerField, and a date Python can represent.
MAX_USES_BOUND = 2_147_483_647
EXPIRES_IN_BOUND = 10 * 366 * 24 * 3600


def live_filter(now: datetime) -> Q:
    """What makes an invitation usable at ``now``, as a query (the same rule as ``ServerInvite.is_live``)."""
    return (
        Q(revoked_at__isnull=True)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & (Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
    )


def live_invites() -> QuerySet[ServerInvite]:
    return ServerInvite.objects.filter(live_filter(timezone.now())).select_related("created_by")


def check_invite_code(code: Any) -> str:
    """The code as a string, or ``invalid`` for something that cannot be one (a number, a list)."""
    if not isinstance(code, str):
        raise invalid("`invite` must be a string.", fields={"invite": ["Must be a string."]})
    return code


def get_live_invite(code: Any) -> ServerInvite:
    """The live invitation with this code, or ``not_found`` (whatever the reason)."""
    invite = ServerInvite.objects.filter(live_filter(timezone.now()), code=check_invite_code(code)).first()
    if invite is None:
        raise not_found("Invitation")
    return invite


def use_invite(code: str) -> None:
    """Count one use of a live invitation, or raise ``not_found``; call inside the registration's transaction.

    One conditional UPDATE: on PostgreSQL a concurrent one waits for this
    row and re-checks ``uses < max_uses`` on the new value, so the last use
    goes to exactly one registration.
    """
    counted = ServerInvite.objects.filter(live_filter(timezone.now()), code=check_invite_code(code)).update(
        uses=F("uses") + 1
    )
    if counted != 1:
        raise not_found("Invitation")


def check_invite_creator(user) -> None:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise forbidden("Only staff can manage server invitations.")


def _optional_int(value: Any, name: str, bound: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= bound:
        raise invalid(f"`{name}` must be a whole number from 1 to {bound}, or null.", fields={name: ["Invalid."]})
    return value


def check_create_invite(user, max_uses: Any = None, expires_in: Any = None) -> dict[str, Any]:
    """Who may, and what: ``max_uses`` (null: unlimited) and ``expires_in`` seconds (null: never) from now."""
    check_invite_creator(user)
    max_uses = _optional_int(max_uses, "max_uses", MAX_USES_BOUND)
    expires_in = _optional_int(expires_in, "expires_in", EXPIRES_IN_BOUND)
    expires_at = None if expires_in is None else timezone.now() + timedelta(seconds=expires_in)
    take_invite_slot(user)
    return {"created_by": user, "max_uses": max_uses, "expires_at": expires_at}


def take_invite_slot(user) -> None:
    """One of the staff member's server-invitation budget (making or revoking, API or admin): last in a check."""
    take_slots(user.id, server_invite=1)


def do_create_invite(checked: dict[str, Any]) -> ServerInvite:
    return ServerInvite.objects.create(**checked)


def create_invite(user, max_uses: Any = None, expires_in: Any = None) -> ServerInvite:
    return do_create_invite(check_create_invite(user, max_uses, expires_in))


def revoke_invite(user, code: Any) -> ServerInvite:
    """Revoke an invitation that is not revoked yet (an expired or used-up one too); ``not_found`` otherwise."""
    check_invite_creator(user)
    code = check_invite_code(code)
    if not ServerInvite.objects.filter(code=code, revoked_at__isnull=True).exists():
        raise not_found("Invitation")
    take_invite_slot(user)
    now = timezone.now()
    if ServerInvite.objects.filter(code=code, revoked_at__isnull=True).update(revoked_at=now) != 1:
        raise not_found("Invitation")
    return ServerInvite.objects.get(code=code)


def join_path(invite: ServerInvite) -> str:
    return reverse("join", args=[invite.code])


def invite_payload(invite: ServerInvite, absolute_url: str) -> dict[str, Any]:
    return {
        "code": invite.code,
        "url": absolute_url,
        "expires_at": iso(invite.expires_at),
        "max_uses": invite.max_uses,
        "uses": invite.uses,
    }
