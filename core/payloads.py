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


def avatar_urls(user) -> dict[str, str | None]:
    """The user object's avatar fields, from the user row alone (no query): null without an avatar."""
    key = user.avatar_key
    return {
        "avatar_url": avatar_path(key, AVATAR_SIDE) if key else None,
        "avatar_small_url": avatar_path(key, AVATAR_SMALL_SIDE) if key else None,
    }


# The user row's columns the user object reads: a query that loads users for payloads only (``.only``)
# loads these, so a new field of the user object is added here once, not hunted down in each query.
USER_PAYLOAD_FIELDS = ("id", "username", "display_name", "avatar_key", "is_bot")


def user_payload(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name or user.username,
        **avatar_urls(user),
        "is_bot": user.is_bot,
    }
