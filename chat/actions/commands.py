"""Slash commands: a text message whose body starts with ``/`` is a command, not a message.

``check_command`` is called by ``check_send_message`` alone, so a command
typed on the socket, sent through REST or posted by an integration is read
the same way. The built-ins either rewrite the body of the message that is
sent (``/me``, ``/shrug``; ``//text`` is the literal ``/text``) or call
another action's own ``check_*`` and give back its ``do_*`` to run
(``/topic``, ``/invite``, ``/leave``, ``/mute``, ``/unmute``: in
``room_commands``, which registers itself first, since those actions'
modules import this one's caller), so each rule is still written once. Any
other name is asked of the resolvers registered after (``register_command_resolver``:
a room's custom commands are integrations'), and is ``unknown_command`` when
none knows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chat.models import RoomMember
from core.errors import ActionError, invalid

SHRUG = r"¯\\\_(ツ)\_/¯"  # markdown source of ¯\_(ツ)_/¯ (the backslash and underscores escaped)
COMMAND_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
BUILT_INS = ("me", "shrug", "topic", "invite", "leave", "mute", "unmute")


@dataclass
class CommandRun:
    """A checked command that sends no message: ``run()`` writes (the other action's ``do_*``) and
    returns what the caller is answered under ``result``."""

    name: str
    run: Callable[[], dict[str, Any]]


# (the caller; their membership, with its room; the command's name; the text after it) -> a checked
# command, or None when the resolver does not know the name.
CommandResolver = Callable[[Any, RoomMember, str, str], CommandRun | None]
_resolvers: list[CommandResolver] = []


def register_command_resolver(resolver: CommandResolver) -> None:
    """Let another app answer command names chat does not know (called from its ``AppConfig.ready``)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def is_command(body: str) -> bool:
    """Whether a text body is a command (``//`` escapes a leading slash)."""
    return body.startswith("/")


def literal_body(text: str) -> str:
    """``text`` as a body that is never read as a command: what integrations post is text, not commands."""
    return "/" + text if text.startswith("/") else text


def check_command(user, membership: RoomMember, body: str) -> str | CommandRun:
    """The body to send instead (``/me``, ``/shrug``, ``//``), or the checked command to run."""
    if body.startswith("//"):
        return body[1:]
    name, _, args = body[1:].partition(" ")
    name, args = name.strip(), args.strip()
    if "\n" in name:  # "/cmd\nmore lines": the name is the first line's first word
        name, _, rest = name.partition("\n")
        args = (rest + " " + args).strip()
    name = name.lower()
    if name == "me":
        if not args:
            raise invalid("`/me` needs the text of the action, e.g. `/me waves`.")
        return f"/me {args}"
    if name == "shrug":
        return f"{args} {SHRUG}".strip()
    if COMMAND_NAME.fullmatch(name):
        for resolver in _resolvers:
            found = resolver(user, membership, name, args)
            if found is not None:
                return found
    raise ActionError(
        "unknown_command",
        f"There is no command `/{name[:32]}` in this room. Start the message with `//` to send it as text.",
    )
