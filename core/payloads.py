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


def user_payload(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name or user.username,
        "avatar_url": None,
        "is_bot": user.is_bot,
    }
