"""Parsing of client input shared by every action and query.

Each function returns the clean value or raises ``invalid`` (``too_large``
for text over its limit), so every transport refuses bad input alike.
"""

from __future__ import annotations

from typing import Any

from .errors import ActionError, invalid

MAX_ID = 2**62


def parse_id(value: Any, what: str) -> int:
    """A positive database id, from an int or its decimal string."""
    if isinstance(value, bool):
        raise invalid(f"`{what}` must be an id.")
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        raise invalid(f"`{what}` must be an id.") from None
    if parsed <= 0 or parsed > MAX_ID:
        raise invalid(f"`{what}` must be an id.")
    return parsed


def optional_id(value: Any, what: str) -> int | None:
    """Like ``parse_id``, but absent (None or "") is None: for optional parameters and cursors."""
    if value in (None, ""):
        return None
    return parse_id(value, what)


def clean_text(value: Any, field: str, max_length: int, *, required: bool = False, truncate: bool = False) -> str:
    """A trimmed string without NUL (PostgreSQL cannot store it).

    Over ``max_length``: ``too_large``, or cut when ``truncate`` (search boxes).
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(f"`{field}` must be a string.")
    value = value.strip()
    if "\x00" in value:
        raise invalid(f"`{field}` must not contain NUL characters.")
    if required and not value:
        raise invalid(f"`{field}` must not be empty.")
    if len(value) > max_length:
        if truncate:
            return value[:max_length]
        raise ActionError("too_large", f"`{field}` is longer than {max_length} characters.")
    return value
