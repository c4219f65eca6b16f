"""``:shortcode:`` emoji: the one table the server renders with and the browser completes from.

The rows are generated data (chat/emoji_data.py, from the pinned ``emoji``
package by scripts/generate_emoji.py); this module is what the rest of chat
asks. Unknown shortcodes stay as typed.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .emoji_data import EMOJI_ROWS

SHORTCODES: dict[str, str] = {name: char for name, char, _ in EMOJI_ROWS}
SHORTCODE_RE = re.compile(r":([a-z0-9_+\-]+):")

# Changes whenever the generated table does: the browser's cached copy is validated by it.
TABLE_VERSION = hashlib.sha256(repr(EMOJI_ROWS).encode()).hexdigest()[:16]


def replace_shortcodes(text: str) -> str:
    """``text`` with every known ``:shortcode:`` replaced by its emoji (call on text outside code)."""
    if ":" not in text:
        return text
    return SHORTCODE_RE.sub(lambda match: SHORTCODES.get(match.group(1), match.group(0)), text)


def emoji_for(value: str) -> str:
    """A reaction given as ``:shortcode:`` becomes its emoji; anything else is returned as it is."""
    match = SHORTCODE_RE.fullmatch(value)
    if match is None:
        return value
    return SHORTCODES.get(match.group(1), value)


def emoji_table() -> list[dict[str, Any]]:
    """The table as ``GET /api/v1/emoji/`` serves it: one row per shortcode."""
    return [{"shortcode": name, "emoji": char, "keywords": list(keywords)} for name, char, keywords in EMOJI_ROWS]
