"""Who counts as a moderator: the one rule chat, uploads and moderation all ask.

Kept out of ``chat.actions`` so that uploads can import it without importing
chat's actions (which import uploads to attach files to a message).
"""

from __future__ import annotations


def is_moderator(user) -> bool:
    """An active user with the site-wide ``chat.moderate_messages`` permission."""
    return bool(user.is_active and user.has_perm("chat.moderate_messages"))
