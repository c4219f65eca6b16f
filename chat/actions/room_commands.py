"""The built-in commands that are other actions: ``/topic``, ``/invite``, ``/leave``, ``/mute``, ``/unmute``.

Each calls the action's own ``check_*`` now and hands back its ``do_*`` to
run, so a command obeys exactly the rules (and rate limits) of the REST and
socket request it stands for. The first resolver registered (on import, from
``chat.actions``): these names are the room's before any custom command.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from chat.models import RoomMember
from core.errors import invalid, not_found

from .commands import CommandRun, register_command_resolver
from .members import (
    check_add_member,
    check_leave_room,
    check_membership_settings,
    do_add_member,
    do_leave_room,
    do_update_membership_settings,
)
from .rooms import check_update_room, do_update_room

User = get_user_model()


def resolve_room_command(user, membership: RoomMember, name: str, args: str) -> CommandRun | None:
    room_id = membership.room_id
    if name == "topic":
        change = check_update_room(user, room_id, topic=args)
        return CommandRun("topic", lambda: {"room": do_update_room(change)})
    if name == "invite":
        addition = check_add_member(user, room_id, _user_id_named(args))
        return CommandRun("invite", lambda: {"member": do_add_member(addition)})
    if name == "leave":
        leaving = check_leave_room(user, room_id)
        return CommandRun("leave", lambda: _left(leaving))
    if name in ("mute", "unmute"):
        change = check_membership_settings(user, room_id, muted=name == "mute")
        return CommandRun(name, lambda: {"room": do_update_membership_settings(change)})
    return None


def _left(membership: RoomMember) -> dict[str, Any]:
    do_leave_room(membership)
    return {}


def _user_id_named(args: str) -> int:
    """The active user ``/invite @name`` names (the ``@`` is optional)."""
    username = args.removeprefix("@")
    if not username or any(c.isspace() for c in username):
        raise invalid("`/invite` takes one username, e.g. `/invite @ann`.")
    user_id = User.objects.filter(username__iexact=username, is_active=True).values_list("id", flat=True).first()
    if user_id is None:
        raise not_found("User")
    return user_id


register_command_resolver(resolve_room_command)
