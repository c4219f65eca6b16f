"""Presence and typing for the WebSocket consumer.

The consumer calls these hooks; this module owns what they do (connection
tracking with heartbeats and expiry, presence events to users who share a
room, typing with expiry and debounce). Each returns quickly and never does
database work per member.
"""

from __future__ import annotations

from typing import Any


async def connection_opened(consumer) -> dict[str, Any]:
    """A connection authenticated; returns extra fields for its ``ready`` frame."""
    return {}


async def connection_closed(consumer) -> None:
    """A connection closed."""


async def heartbeat(consumer) -> None:
    """The client said it is still there (``ping``)."""


async def typing(consumer, room_id: int, *, started: bool) -> None:
    """``typing_start`` / ``typing_stop`` in a room the connection follows."""


async def update_status(consumer, data: dict[str, Any]) -> dict[str, Any]:
    """``update_status``: returns the presence object for the ack."""
    return {}


async def deliver(consumer, event: dict[str, Any]) -> None:
    """A ``presence.frame`` channel-layer message for this connection."""
    await consumer.send(text_data=event["frame"])
