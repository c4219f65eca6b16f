"""Rooms, their members, messages and reactions.

State changes go through ``chat.actions``; these classes hold data and the
constraints the database itself must enforce (unique seq per room, one
direct room per pair of users, one reaction per user, emoji and message).
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Room(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct", "Direct"
        GROUP = "group", "Group"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.GROUP)
    name = models.CharField(max_length=100, blank=True)
    topic = models.CharField(max_length=250, blank=True)
    is_public = models.BooleanField(default=False)
    members_can_pin = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Highest seq handed out in this room; incremented under a row lock.
    last_seq = models.PositiveBigIntegerField(default=0)
    # Incremented by every change to a stored message of the room, in the
    # change's transaction: the key of the room's cached history page.
    history_revision = models.PositiveBigIntegerField(default=0, editable=False)
    # "low_id:high_id" for direct rooms, NULL for groups: a unique key the
    # database enforces, so two racing "start a chat" calls make one room.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="direct", direct_key__isnull=False) | Q(kind="group", direct_key__isnull=True),
                name="room_direct_key_iff_direct",
            ),
            models.CheckConstraint(condition=~Q(kind="direct", is_public=True), name="room_direct_not_public"),
        ]
        indexes = [models.Index(fields=["is_public", "kind"], name="room_public_idx")]

    def __str__(self) -> str:
        return self.name or f"{self.kind} room {self.pk}"

    @staticmethod
    def direct_key_for(user_a_id: int, user_b_id: int) -> str:
        low, high = sorted((user_a_id, user_b_id))
        return f"{low}:{high}"


class RoomMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    class NotifyLevel(models.TextChoices):
        ALL = "all", "All messages"
        MENTIONS = "mentions", "Mentions only"
        NONE = "none", "Nothing"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # The member muted the room: notifications only for direct mentions.
    muted = models.BooleanField(default=False)
    notify_level = models.CharField(max_length=8, choices=NotifyLevel.choices, default=NotifyLevel.ALL)
    # Set by a moderator: the member cannot send until then, and is told why when they try.
    send_muted_until = models.DateTimeField(null=True, blank=True)
    send_muted_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="member_unique_room_user")]
        indexes = [models.Index(fields=["user", "room"], name="member_user_room_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def is_send_muted(self) -> bool:
        """A moderator's mute of this member is running: their sends are refused until it ends."""
        return self.send_muted_until is not None and self.send_muted_until > timezone.now()


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        IMAGE = "image", "Image"
        FILE = "file", "File"
        CODE = "code", "Code"
        SYSTEM = "system", "System"

    # The kinds a client may send (system messages are the server's own).
    CLIENT_KINDS = frozenset({Kind.TEXT, Kind.CODE, Kind.IMAGE, Kind.FILE})

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    client_id = models.UUIDField(null=True, blank=True)
    # Kind ``system`` only: what happened, for clients to word in their own language:
    # {"event": joined|left|added|removed|renamed, "actor": user id|None, "target": user id|None, "name": str|None}.
    system = models.JSONField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Bumped by every change after creation (edit, delete, pin, reaction), so a
    # reconnecting client can fetch what changed in messages it already has.
    updated_at = models.DateTimeField(auto_now=True)
    # Threads: a reply names its root (a top-level message of the room). SET_NULL: purging a
    # root must not take other people's replies with it; they surface in the room instead.
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="thread_replies"
    )
    # A reply that is also shown in the room's main history.
    also_to_room = models.BooleanField(default=False)
    # A root's thread summary, denormalised so a history page costs no query per root;
    # written only in a reply's transaction (chat.actions.threads.record_thread_reply).
    thread_reply_count = models.PositiveIntegerField(default=0)
    thread_last_reply_at = models.DateTimeField(null=True, blank=True)
    thread_participants = models.JSONField(default=list, blank=True)
    # The name this one message shows instead of its sender's display name (an incoming webhook's
    # Slack-style ``username``); set by integrations, never by a client. Blank: the sender's own.
    sender_name = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_unique_room_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_sender_client_id",
            ),
        ]
        permissions = [("moderate_messages", "Can moderate messages and members in every room")]
        indexes = [
            # Pins of a room, listed often and small.
            models.Index(fields=["room", "seq"], condition=Q(pinned=True), name="message_pinned_idx"),
            models.Index(fields=["room", "updated_at"], name="message_room_updated_idx"),
            models.Index(fields=["thread_root", "seq"], name="message_thread_idx"),
        ]

    def __str__(self) -> str:
        # By id, as the admin names messages everywhere (a seq is a place in a room, not a name).
        return f"Message {self.pk}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="reaction_unique_message_user_emoji")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class ThreadFollow(models.Model):
    """A user's place in one thread: whether they follow it (``thread_reply`` notifications) and
    how far they read it. Written by chat.actions.threads; the root's author, repliers and the
    people mentioned in a reply follow automatically."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    root = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="thread_follows")
    last_read_seq = models.PositiveBigIntegerField(default=0)
    following = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "root"], name="thread_follow_unique_user_root")]
        indexes = [models.Index(fields=["root"], condition=Q(following=True), name="thread_follow_root_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} on thread {self.root_id}"


# The messages of a room's main history (history pages, its cache, the last message, unread counts):
# top-level messages, and thread replies sent with ``also_to_room``.
MAIN_HISTORY = Q(thread_root__isnull=True) | Q(also_to_room=True)
class MessageEdit(models.Model):
    """A body a message had before an edit replaced it (``edited_at``: when it was replaced).

    Written in the edit's transaction; only the newest ``MESSAGE_EDITS_KEPT``
    of a message are kept, so a message edited in a loop stays bounded.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField(blank=True)
    edited_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["message", "-edited_at", "-id"], name="message_edit_newest_idx")]

    def __str__(self) -> str:
        return f"edit of {self.message_id} at {self.edited_at}"


def new_room_invite_code() -> str:
    """128 random bits (``secrets.token_urlsafe``): a link nobody can guess, short enough to paste."""
    return secrets.token_urlsafe(16)


class RoomInvite(models.Model):
    """A link a room admin hands out: whoever opens it (signed in) may join the room, even a private one.

    Live while not revoked, not expired and not used up (``chat.actions.invites``
    holds the rules and counts a use with one conditional UPDATE). Not the
    server invitation of ``accounts.models.ServerInvite``, which lets someone
    register at all.
    """

    code = models.CharField(max_length=64, unique=True, default=new_room_invite_code, editable=False)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited until it expires.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["room", "expires_at"], name="room_invite_room_idx")]

    def __str__(self) -> str:
        return f"invitation to room {self.room_id}"

    @staticmethod
    def live(now) -> Q:
        """What makes an invitation usable at ``now``, as a query: not revoked, not expired, not used up."""
        return (
            Q(revoked_at__isnull=True)
            & Q(expires_at__gt=now)
            & (Q(max_uses__isnull=True) | Q(uses__lt=models.F("max_uses")))
        )
