"""A person's own profile: display name and avatar (``GET|PATCH /api/v1/users/me/``, the page ``/profile/``).

An avatar is made from one of the caller's image uploads (so the uploads'
rules apply: type from the bytes, pixel budgets, rate and daily quota): two
square WebP renditions, ``AVATAR_SIDE`` and ``AVATAR_SMALL_SIDE`` px,
centre-cropped, stored via the default storage under a new random key. The
user row keeps only the key (``User.avatar_key``), from which
``core.payloads.user_payload`` makes the URLs without a query; the old
avatar's files are deleted after the commit that replaces them.

A change reaches the people who share a room with the user, and the user's
other tabs, as ``user_updated`` with only the fields that changed: one
channel-layer message per room group of the user (plus their own user
group), all with one event id so a connection in several of them forwards
it once (``presence.actions.presence_messages``), never one per member.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from core.errors import invalid
from core.payloads import AVATAR_SIDE, AVATAR_SMALL_SIDE, user_payload
from core.publishing import deliver_message
from core.ratelimit import check_budget_free, take_slots
from core.validation import clean_text, refuse_unknown_fields
from presence.actions import presence_messages, rooms_of_users
from uploads.actions import image_renditions

from .models import User

logger = logging.getLogger(__name__)

PROFILE_FIELDS = ("display_name", "avatar")
DISPLAY_NAME_MAX = User._meta.get_field("display_name").max_length
AVATAR_SIDES = (AVATAR_SIDE, AVATAR_SMALL_SIDE)


@dataclass
class ProfileChange:
    user: Any
    display_name: str | None = None  # None: unchanged
    avatar: dict[int, bytes] | None = None  # the new renditions by side, or None
    remove_avatar: bool = False
    fields: list[str] = field(default_factory=list)


def avatar_storage_name(key: str, side: int) -> str:
    return f"avatars/{key}-{side}.webp"


def check_update_profile(user, data: Any) -> ProfileChange:
    """``display_name`` (at most 80 characters; empty: show the username) and ``avatar`` (the id of an image
    the caller uploaded, or null to remove it); within the profile limit, taken last."""
    if not isinstance(data, dict):
        raise invalid("The body must be an object with `display_name` and/or `avatar`.")
    refuse_unknown_fields(data, PROFILE_FIELDS, "Give `display_name` and/or `avatar`.")
    if not data:
        raise invalid("Give `display_name` and/or `avatar`.")
    change = ProfileChange(user)
    if "display_name" in data:
        change.display_name = clean_text(data["display_name"], "display_name", DISPLAY_NAME_MAX)
    if "avatar" in data:
        if data["avatar"] is None:
            change.remove_avatar = True
        else:
            # Decoding is the costly part: refuse before it when the budget is spent, but take the slot
            # only after it, so a file that is not a usable image uses none.
            check_budget_free(user.id, "profile")
            change.avatar = image_renditions(user, data["avatar"], AVATAR_SIDES)
    take_slots(user.id, profile=1)
    return change


def do_update_profile(change: ProfileChange) -> dict[str, Any]:
    """Store the new avatar's files, write the user row, announce what changed; the user object after it."""
    user = change.user
    before = user_payload(user)
    old_key = user.avatar_key
    new_key = old_key
    stored: list[str] = []
    try:
        if change.avatar is not None:
            new_key = secrets.token_urlsafe(16)
            for side, data in change.avatar.items():
                stored.append(default_storage.save(avatar_storage_name(new_key, side), ContentFile(data)))
        elif change.remove_avatar:
            new_key = ""
        with transaction.atomic():
            updates: dict[str, Any] = {"avatar_key": new_key}
            if change.display_name is not None:
                updates["display_name"] = change.display_name
            User.objects.filter(pk=user.pk).update(**updates)
            for name, value in updates.items():
                setattr(user, name, value)
            after = user_payload(user)
            changes = {key: value for key, value in after.items() if before[key] != value}
            if changes:
                _announce(user.pk, changes)
            if old_key != new_key:
                delete_avatar_after_commit(old_key)
    except BaseException:
        _delete_files(stored)
        raise
    return after


def update_profile(user, data: Any) -> dict[str, Any]:
    """``PATCH users/me/``: change the caller's display name and/or avatar."""
    return do_update_profile(check_update_profile(user, data))


def _announce(user_id: int, changes: dict[str, Any]) -> None:
    """``user_updated`` after commit, once per room group of the user and to their own tabs."""
    rooms = rooms_of_users([user_id]).get(user_id, set())
    data = {"user": user_id, "changes": changes}
    for group, message in presence_messages("user_updated", data, rooms, subject_id=user_id, to_self=True):
        transaction.on_commit(lambda g=group, m=message: deliver_message(g, m))


def delete_avatar_after_commit(key: str) -> None:
    """Delete an avatar's files once the change that dropped it commits (nothing for no avatar)."""
    if key:
        names = [avatar_storage_name(key, side) for side in AVATAR_SIDES]
        transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError as error:  # a file left behind costs disk, never the request
            logger.warning("Could not delete the avatar file %s: %s", name, error)
