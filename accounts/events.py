"""Accounts' wire event: ``user_updated``, a person's profile changed (name or avatar).

Registered from ``AccountsConfig.ready()`` (rules in ``core.events``).
"""

from __future__ import annotations

from core.events import ID, SERVER, STRING, TO_ROOM, nullable, obj, register

# Only what changed: clients merge it into every user object of that id they hold.
PROFILE_CHANGES = obj(
    {"display_name": STRING, "avatar_url": nullable(STRING), "avatar_small_url": nullable(STRING)},
    optional=("display_name", "avatar_url", "avatar_small_url"),
)

register(
    "user_updated",
    direction=SERVER,
    data=obj({"user": ID, "changes": PROFILE_CHANGES}),
    description=(
        "A user who shares a room with you (or you, in another tab) changed their display name or avatar: "
        "`changes` holds only the fields of the user object that changed."
    ),
    audience=TO_ROOM,
)
