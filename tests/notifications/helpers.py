"""Small helpers shared by the notification tests."""

from __future__ import annotations

from chat import actions
from chat.models import Room
from notifications.models import Notification


def send(user, room, body="hello", **kwargs) -> dict:
    payload, _ = actions.send_message(user, room.id, body=body, **kwargs)
    return payload


def notified() -> list[tuple[str, str]]:
    """(recipient username, kind) of every stored notification, duplicates kept."""
    return sorted(Notification.objects.values_list("recipient__username", "kind"))


def group_of(owner, *members, name="Team") -> Room:
    payload = actions.create_group_room(owner, name=name, members=[m.id for m in members])
    return Room.objects.get(pk=payload["id"])


def direct_room(user, other) -> Room:
    payload, _ = actions.get_or_create_direct_room(user, other.id)
    return Room.objects.get(pk=payload["id"])
