"""Pages of messages by seq: the one paging rule of room history, thread pages and the history cache.

A page is the newest ``limit`` messages by default; ``before`` pages back,
``after`` forward. One more row than the page is read to tell whether more
lie in the paging direction.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .models import MAIN_HISTORY, Message


def main_history(room_id: int) -> QuerySet[Message]:
    """A room's main history (no thread-only replies), each message with its sender: what the room's
    pages are cut from, by the history cache, the compiled page statements and the ORM alike."""
    return Message.objects.filter(MAIN_HISTORY, room_id=room_id).select_related("sender")


def seq_window(messages: QuerySet[Message], *, before: int | None, after: int | None, limit: int) -> QuerySet:
    """The rows of a page of ``messages`` by seq, as the database returns them: the newest by default,
    ``before`` pages back, ``after`` forward, ``limit + 1`` of them to tell whether more lie beyond."""
    if before is not None:
        messages = messages.filter(seq__lt=before)
    if after is not None:
        return messages.filter(seq__gt=after).order_by("seq")[: limit + 1]
    return messages.order_by("-seq")[: limit + 1]


def page_of(rows: list[Message], *, limit: int, forward: bool) -> tuple[list[Message], bool]:
    """``seq_window``'s rows as a page, oldest first, and whether more lie in the paging direction."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    if not forward:
        rows.reverse()
    return rows, has_more


def seq_page(
    messages: QuerySet[Message], *, before: int | None, after: int | None, limit: int
) -> tuple[list[Message], bool]:
    """A page of ``messages`` by seq, oldest first (``seq_window``, ``page_of``): one query, ``limit + 1`` rows."""
    rows = list(seq_window(messages, before=before, after=after, limit=limit))
    return page_of(rows, limit=limit, forward=after is not None)
