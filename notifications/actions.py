"""Who is told about a message, and the changes a user makes to their notifications.

The rules, in one place (``notifications.triggers``: ``message_may_notify`` and
``notification_kind``):

- Triggers: a direct ``@username`` mention of a room member (``mention``);
  ``@room``/``@here`` where the sender may use it (``mention``, every member
  but the sender); a reply to someone's message (``reply``, its author); every
  message in a direct room (``dm``, the other member); a reply in a thread
  (``thread_reply``, the thread's followers: see ``chat.actions.threads``). ``chat.actions``
  resolves mentions to members and applies ``ROOM_MENTION_ADMINS_ONLY``.
- Never the sender, never a non-member, never a deactivated user.
- One notification per recipient and message at most (the database enforces
  it too). When several triggers meet, the strongest names it:
  mention > reply > thread_reply > dm. An edit notifies only people newly mentioned who have
  no notification for the message yet, so nobody is told twice about it.
- Per-room preference (``RoomMember.notify_level`` and ``muted``):
  ``none`` silences the room completely, direct mentions included (the user
  asked for nothing); ``muted`` or ``mentions`` lets only direct ``@username``
  mentions through (not ``@room``, replies or direct messages); ``all`` gets
  every trigger above.

Cost: a send does a fixed number of queries whatever the room size (the
reply's author, one read of the targeted memberships, one bulk insert), and
the notifications of one message are published after commit in one room broadcast
(core.publishing.publish_to_members) that carries each recipient's own frame.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat.models import Message, Room, RoomMember, ThreadFollow
from chat.payloads import message_summary
from core.errors import invalid
from core.payloads import iso, user_payload
from core.publishing import publish, publish_to_members, user_group
from core.validation import parse_id

from .models import Notification
from .payloads import notification_payload
from .queries import unread_notification_count
from .triggers import message_may_notify, notification_kind

MAX_IDS_PER_REQUEST = 1000


def notify_for_message(
    message: Message, *, mentioned_user_ids: set[int], mentions_room: bool, edited: bool = False
) -> list[Notification]:
    """Store and publish the notifications a new or edited message causes.

    Called by ``chat.actions`` inside the send or edit transaction, after the
    message row exists. ``mentioned_user_ids`` are members mentioned by
    ``@username`` (for an edit: only those the edit added); ``mentions_room``
    says ``@room``/``@here`` counts (for an edit: only when the edit added it).
    An edit never re-sends reply or direct-message notifications.
    Returns the notifications created.
    """
    if not message_may_notify(
        message, mentioned_user_ids=mentioned_user_ids, mentions_room=mentions_room, edited=edited
    ):
        return []  # an ordinary group message: no query at all
    sender_id = message.sender_id
    room = message.room
    direct = room.kind == Room.Kind.DIRECT and not edited
    reply_author_id = None
    if message.reply_to_id is not None and not edited:
        reply_author_id = Message.objects.filter(pk=message.reply_to_id).values_list("sender_id", flat=True).first()
    targeted = set(mentioned_user_ids)
    if reply_author_id is not None:
        targeted.add(reply_author_id)
    followers = thread_followers(message) if not edited else set()
    targeted |= followers
    targeted.discard(sender_id)
    if not (targeted or mentions_room or direct):
        return []  # a reply to one's own message

    members = RoomMember.objects.filter(room_id=room.id, user__is_active=True)
    if sender_id is not None:
        members = members.exclude(user_id=sender_id)
    if not (mentions_room or direct):
        members = members.filter(user_id__in=targeted)
    if edited:
        # Concurrent edits of one message are serialised by the row lock the
        # edit's UPDATE takes, so this read sees what an earlier edit created.
        members = members.exclude(user_id__in=Notification.objects.filter(message=message).values("recipient_id"))

    rows = []
    for user_id, notify_level, muted in members.values_list("user_id", "notify_level", "muted"):
        kind = notification_kind(
            notify_level=notify_level,
            muted=muted,
            mentioned=user_id in mentioned_user_ids,
            mentions_room=mentions_room,
            replied_to=user_id == reply_author_id,
            thread_follower=user_id in followers,
            direct=direct,
        )
        if kind is not None:
            rows.append(Notification(recipient_id=user_id, kind=kind, actor_id=sender_id, room=room, message=message))
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)

    # Built once, shared by every recipient's payload.
    summary = message_summary(message)
    actor = user_payload(message.sender) if sender_id is not None else None
    publish_to_members(
        room.id,
        "notification",
        {
            notification.recipient_id: notification_payload(
                notification, message=summary, actor=actor, room_name=room.name
            )
            for notification in created
        },
    )
    return created


def thread_followers(message: Message) -> set[int]:
    """Who follows the thread ``message`` replies in (none outside threads, without a query).
    chat writes the follows of this reply (root author, replier, mentioned) before notifying."""
    if message.thread_root_id is None:
        return set()
    return set(
        ThreadFollow.objects.filter(root_id=message.thread_root_id, following=True).values_list("user_id", flat=True)
    )


def mark_notifications_read(user, ids: Any = None) -> dict[str, Any]:
    """Mark the caller's notifications read: those in ``ids``, or all of them when ``ids`` is None.

    Ids of other users' notifications, unknown or already read ones are
    ignored (saying which exist would leak them). Returns how many were
    marked and the new unread count, and tells the user's other connections
    with ``notifications_read`` (``ids`` null meaning all).
    """
    wanted = _parse_ids(ids)
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    with transaction.atomic():
        if wanted is not None:
            wanted = sorted(unread.filter(id__in=wanted).values_list("id", flat=True))
        marked, unread_count = _mark_read(user, unread, wanted)
    return {"marked": marked, "unread_count": unread_count}


def mark_room_notifications_read(user, room_id: int, up_to_seq: int) -> int:
    """Reading a room reads its notifications too: those of its messages up to ``up_to_seq``.

    Meant for ``chat.actions.mark_as_read``, inside its transaction, so a
    mention read in the room does not stay unread in the notification centre.
    One query when there is nothing to mark. Returns how many were marked.
    """
    ids = list(
        Notification.objects.filter(
            recipient=user, room_id=room_id, read_at__isnull=True, message__seq__lte=up_to_seq
        ).values_list("id", flat=True)
    )
    if not ids:
        return 0
    with transaction.atomic():
        marked, _ = _mark_read(user, Notification.objects.filter(recipient=user, read_at__isnull=True), sorted(ids))
    return marked


def _mark_read(user, unread, ids: list[int] | None) -> tuple[int, int]:
    """Mark ``unread`` (only ``ids`` unless None) read, tell the user's connections if any changed,
    and return how many changed with the new unread count."""
    now = timezone.now()
    marked = 0
    if ids is None or ids:
        marked = (unread if ids is None else unread.filter(id__in=ids)).update(read_at=now)
    unread_count = unread_notification_count(user)
    if marked:
        publish(
            user_group(user.id),
            "notifications_read",
            {"ids": ids, "read_at": iso(now), "unread_count": unread_count},
        )
    return marked, unread_count


def withdraw_for_message(message: Message) -> int:
    """A deleted message takes its notifications with it (a spam ``@room`` removed by a moderator
    must not stay in a thousand notification centres). One query; returns how many were removed.

    No event: every recipient is a room member and receives ``message_deleted``, on which a
    client drops the notification of that message.
    """
    deleted, _ = Notification.objects.filter(message_id=message.id).delete()
    return deleted


def _parse_ids(value: Any) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid("`ids` must be a list of notification ids.")
    if len(value) > MAX_IDS_PER_REQUEST:
        raise invalid(f"At most {MAX_IDS_PER_REQUEST} `ids` per request.")
    return [parse_id(item, "ids") for item in value]


def prune_read_notifications(*, days: int, dry_run: bool = False) -> int:
    """Delete read notifications created more than ``days`` days ago; unread ones are kept.

    Returns how many were (or, with ``dry_run``, would be) deleted.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError("days must be a whole number of at least 0")
    cutoff = timezone.now() - timedelta(days=days)
    stale = Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff)
    if dry_run:
        return stale.count()
    deleted, _ = stale.delete()
    return deleted
