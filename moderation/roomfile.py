"""The JSON Lines format of ``export_room`` and ``import_room``.

One JSON object a line, in this order::

    {"type": "room", "format": "confab.room", "version": 1, "exported_at": ..., "room": {...}}
    {"type": "user", "username": ..., "display_name": ...}         every user the file names
    {"type": "member", "user": <username>, "role": ..., ...}       one per member
    {"type": "message", "seq": ..., "sender": <username>, "reply_to_seq": ..., "reactions": [...],
     "attachments": [...], ...}                                     by seq
    {"type": "end", "users": n, "members": n, "messages": n}       absent: the file was cut short

Users are named by username, replies by seq, so a file imports into any
deployment. Attachments carry their metadata and storage names; the files
themselves stay in storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

FORMAT = "confab.room"
VERSION = 1
BATCH = 500

T = TypeVar("T")


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def parse_time(value: Any):
    from django.utils.dateparse import parse_datetime

    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = parse_datetime(value.replace("Z", "+00:00"))
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed
