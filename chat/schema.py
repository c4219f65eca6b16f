"""OpenAPI descriptions of the payloads built in ``chat.payloads``.

These serializers only document: responses are built by the payload
builders, and ``tests/chat/test_api_schema.py`` checks that the fields named here
are exactly the keys those builders produce, so the docs cannot drift.
"""

from rest_framework import serializers

from core.schema import UserSchema
from uploads.schema import UploadSchema

from .models import Message, Room, RoomMember


class ReactionSchema(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    users = serializers.ListField(child=serializers.IntegerField())


class ThreadSummarySchema(serializers.Serializer):
    replies = serializers.IntegerField()
    last_reply_at = serializers.DateTimeField()
    participants = serializers.ListField(child=serializers.IntegerField(), help_text="Repliers, first reply first")
class SystemEventSchema(serializers.Serializer):
    event = serializers.ChoiceField(["joined", "left", "added", "removed", "renamed", "promoted", "demoted"])
    actor = serializers.IntegerField(allow_null=True)
    target = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class MessageSchema(serializers.Serializer):
    id = serializers.IntegerField()
    room = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = UserSchema(allow_null=True)
    kind = serializers.ChoiceField(Message.Kind.choices)
    body = serializers.CharField()
    body_html = serializers.CharField()
    reply_to = serializers.IntegerField(allow_null=True)
    attachments = UploadSchema(many=True)
    reactions = ReactionSchema(many=True)
    pinned = serializers.BooleanField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    client_id = serializers.UUIDField(allow_null=True)
    thread_root = serializers.IntegerField(allow_null=True, help_text="The root message of a thread reply, else null")
    also_to_room = serializers.BooleanField(help_text="A thread reply also shown in the room's history")
    thread_summary = ThreadSummarySchema(allow_null=True, help_text="A root with replies; null otherwise")
    system = SystemEventSchema(allow_null=True)
    sender_name = serializers.CharField(
        allow_null=True, help_text="Shown instead of the sender's display name (an incoming webhook's `username`)"
    )


class MessageSummarySchema(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = UserSchema(allow_null=True)
    kind = serializers.CharField()
    body = serializers.CharField()
    deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class MemberSchema(serializers.Serializer):
    user = UserSchema()
    role = serializers.ChoiceField(RoomMember.Role.choices)
    joined_at = serializers.DateTimeField()
    last_read_seq = serializers.IntegerField()


class RoomSchema(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(Room.Kind.choices)
    name = serializers.CharField()
    topic = serializers.CharField()
    is_public = serializers.BooleanField()
    members_can_pin = serializers.BooleanField()
    archived = serializers.BooleanField()
    last_seq = serializers.IntegerField()
    last_read_seq = serializers.IntegerField(allow_null=True)
    unread = serializers.IntegerField()
    role = serializers.ChoiceField(RoomMember.Role.choices, allow_null=True)
    notify_level = serializers.ChoiceField(RoomMember.NotifyLevel.choices, allow_null=True)
    muted = serializers.BooleanField()
    last_message = MessageSummarySchema(allow_null=True)
    peer = UserSchema(allow_null=True, help_text="The other user of a direct room; null for groups.")
    created_at = serializers.DateTimeField()


class RoomDetailSchema(RoomSchema):
    members = MemberSchema(many=True)


class PublicRoomSchema(RoomSchema):
    member_count = serializers.IntegerField()


class HistorySchema(serializers.Serializer):
    messages = MessageSchema(many=True)
    has_more = serializers.BooleanField()


class ThreadSchema(serializers.Serializer):
    root = MessageSchema()
    messages = MessageSchema(many=True)
    has_more = serializers.BooleanField()


class FollowedThreadSchema(serializers.Serializer):
    root = MessageSchema()
    thread_summary = ThreadSummarySchema(allow_null=True)
    unread = serializers.IntegerField()
    room = serializers.IntegerField()


class ThreadReadSchema(serializers.Serializer):
    message = serializers.IntegerField()
    last_read_seq = serializers.IntegerField()
    unread = serializers.IntegerField()
class MessageEditSchema(serializers.Serializer):
    body = serializers.CharField()
    edited_at = serializers.DateTimeField()


class MessageEditsSchema(serializers.Serializer):
    edits = MessageEditSchema(many=True)


class EmojiSchema(serializers.Serializer):
    shortcode = serializers.CharField()
    emoji = serializers.CharField()
    keywords = serializers.ListField(child=serializers.CharField())


class ReadSchema(serializers.Serializer):
    room = serializers.IntegerField()
    last_read_seq = serializers.IntegerField()
    unread = serializers.IntegerField()


class RoomInviteSchema(serializers.Serializer):
    code = serializers.CharField()
    url = serializers.CharField(help_text="The invitation's page, to hand out")
    room = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    max_uses = serializers.IntegerField(allow_null=True, help_text="Null: unlimited until it expires")
    uses = serializers.IntegerField()
    created_by = UserSchema(allow_null=True)


# --- Request bodies ---------------------------------------------------------------


class RoomCreateRequest(serializers.Serializer):
    name = serializers.CharField()
    topic = serializers.CharField(required=False)
    is_public = serializers.BooleanField(required=False)
    members_can_pin = serializers.BooleanField(required=False)
    members = serializers.ListField(child=serializers.IntegerField(), required=False)


class RoomUpdateRequest(serializers.Serializer):
    name = serializers.CharField(required=False)
    topic = serializers.CharField(required=False)
    is_public = serializers.BooleanField(required=False)
    members_can_pin = serializers.BooleanField(required=False)
    notify_level = serializers.ChoiceField(RoomMember.NotifyLevel.choices, required=False)
    muted = serializers.BooleanField(required=False)


class DirectRoomRequest(serializers.Serializer):
    user = serializers.IntegerField()


# The roles a member is given (added, or changed): never the owner's. One enum in the schema
# (``ENUM_NAME_OVERRIDES``: SettableRoleEnum).
SETTABLE_ROLES = ["member", "admin"]


class MemberAddRequest(serializers.Serializer):
    user = serializers.IntegerField()
    role = serializers.ChoiceField(SETTABLE_ROLES, required=False)


class MemberRoleRequest(serializers.Serializer):
    role = serializers.ChoiceField(SETTABLE_ROLES)


class SendMessageRequest(serializers.Serializer):
    body = serializers.CharField(required=False)
    client_id = serializers.UUIDField(required=False)
    reply_to = serializers.IntegerField(required=False)
    attachments = serializers.ListField(child=serializers.IntegerField(), required=False)
    kind = serializers.ChoiceField(["text", "code", "image", "file"], required=False)
    thread = serializers.IntegerField(required=False, help_text="Reply in the thread of this root message")
    also_to_room = serializers.BooleanField(required=False, help_text="A thread reply also shown in the room")


class EditMessageRequest(serializers.Serializer):
    body = serializers.CharField()


class EmojiRequest(serializers.Serializer):
    emoji = serializers.CharField()


class ReadRequest(serializers.Serializer):
    seq = serializers.IntegerField()




class RoomInviteCreateRequest(serializers.Serializer):
    max_uses = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    expires_in = serializers.IntegerField(
        required=False, min_value=60, max_value=30 * 24 * 3600, help_text="Seconds; default a week"
    )
