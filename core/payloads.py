"""Payload helpers every app shares: timestamps on the wire, and the user object.

The user object is the one shape a person has in every REST response and
every WebSocket event (messages, members, presence, notifications).
"""

from __future__ import annotations

from typing import Any


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


# The square avatar renditions every user with an avatar has, in pixels: ``avatar_url`` and ``avatar_small_url``.
AVATAR_SIDE = 256
AVATAR_SMALL_SIDE = 64


def avatar_path(key: str, side: int) -> str:
    """Where one rendition of an avatar is served (accounts' avatar view); the key changes with every new avatar,
    so the file behind a path never changes and may be cached for good."""
    return f"/avatars/{key}/{side}.webp"


# The user row's columns the user object reads: a query that loads users for payloads only (``.only``)
# loads these, so a new field of the user object is added here (and, in the same place, to ``user_object``'s
# parameters and ``user_payload``'s call: tests/test_user_object.py holds the three together), not hunted
# down in each query.
USER_PAYLOAD_FIELDS = ("id", "username", "display_name", "avatar_key", "is_bot")


def user_object(user_id: int, username: str, display_name: str, avatar_key: str, is_bot: bool) -> dict[str, Any]:
    """The user object from its columns (``USER_PAYLOAD_FIELDS``, in that order), with no model instance.

    A connect's ``ready`` builds one for every online co-member straight from
    query rows (``presence.actions.snapshot_from_rows``); ``user_payload`` is
    this over a model. The avatar fields are null without an avatar.
    """
    if avatar_key:
        avatar_url, avatar_small_url = avatar_path(avatar_key, AVATAR_SIDE), avatar_path(avatar_key, AVATAR_SMALL_SIDE)
    else:
        avatar_url = avatar_small_url = None
    return {
        "id": user_id,
        "username": username,
        "display_name": display_name or username,
        "avatar_url": avatar_url,
        "avatar_small_url": avatar_small_url,
        "is_bot": is_bot,
    }


def user_payload(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return user_object(user.id, user.username, user.display_name, user.avatar_key, user.is_bot)
