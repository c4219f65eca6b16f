"""Reads of threads: one thread's page, the caller's followed threads, per-thread unread counts.

Each does a fixed number of queries whatever the number of replies or threads
(tests/chat/test_threads.py asserts it).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Count, F, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from chat.payloads import message_payloads, thread_summary

from .models import Message, ThreadFollow
from .paging import seq_page
from .queries import parse_page

FOLLOWED_THREADS_MAX = 100
LATEST_REPLY_FIRST = F("root__thread_last_reply_at").desc(nulls_last=True)


def thread_page(root: Message, *, before: Any = None, after: Any = None, limit: Any = None) -> dict[str, Any]:
    """``{"root", "messages": [...oldest first], "has_more"}``: the newest replies by default,
    ``before``/``after`` (seqs) page back and forward; ``has_more`` is about the paging direction."""
    before, after, limit = parse_page(before, after, limit)
    replies = Message.objects.filter(thread_root_id=root.pk).select_related("sender")
    rows, has_more = seq_page(replies, before=before, after=after, limit=limit)
    # One payload call for the root and its replies: their reactions and attachments in two queries.
    payloads = message_payloads([root, *rows])
    return {"root": payloads[0], "messages": payloads[1:], "has_more": has_more}


def _unread_replies(root_id, user_id, last_read_seq):
    """Replies after a read mark, neither deleted nor the reader's own."""
    return Message.objects.filter(thread_root_id=root_id, seq__gt=last_read_seq, deleted_at__isnull=True).exclude(
        sender_id=user_id
    )


def thread_unread_count(root_id: int, user_id: int, last_read_seq: int) -> int:
    return _unread_replies(root_id, user_id, last_read_seq).count()


def followed_threads(user) -> list[dict[str, Any]]:
    """The threads the user follows in their live rooms, those with unread replies first, then by
    latest reply: ``[{"root", "thread_summary", "unread", "room"}]`` (at most 100; three queries)."""
    unread = Coalesce(
        Subquery(
            _unread_replies(OuterRef("root_id"), OuterRef("user_id"), OuterRef("last_read_seq"))
            .order_by()
            .values("thread_root_id")
            .annotate(count=Count("id"))
            .values("count"),
            output_field=IntegerField(),
        ),
        Value(0),
    )
    follows = list(
        ThreadFollow.objects.filter(
            user=user, following=True, root__room__archived=False, root__room__memberships__user=user
        )
        .select_related("root__sender")
        .annotate(unread=unread)
        .annotate(has_unread=Case(When(unread__gt=0, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("-has_unread", LATEST_REPLY_FIRST, "-root_id")[:FOLLOWED_THREADS_MAX]
    )
    roots = message_payloads([follow.root for follow in follows])
    return [
        {"root": root, "thread_summary": thread_summary(follow.root), "unread": follow.unread, "room": root["room"]}
        for follow, root in zip(follows, roots, strict=True)
    ]
