"""Creating and reading notifications.

``chat.actions`` calls ``notify_for_message`` inside the send and edit
transactions; the notifications issue fills in the rules.
"""

from __future__ import annotations


def notify_for_message(message, *, mentioned_user_ids: set[int], mentions_room: bool, edited: bool = False) -> None:
    """Store and publish the notifications a new or edited message causes."""
    return None
