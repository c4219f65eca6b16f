"""OpenAPI descriptions of the notification payloads.

Documentation only: responses are built by ``notifications.payloads`` and
``notifications.queries``; ``tests/notifications/test_api.py`` checks these
fields are exactly the keys those builders produce.
"""

from rest_framework import serializers

from core.schema import UserSchema


class NotificationMessageSchema(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = UserSchema(allow_null=True)
    kind = serializers.CharField()
    body = serializers.CharField(help_text="At most 200 characters; empty when deleted.")
    deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class NotificationSchema(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(["mention", "dm", "reply", "system"])
    room = serializers.IntegerField(allow_null=True)
    room_name = serializers.CharField(help_text="Empty for direct rooms.")
    message = NotificationMessageSchema(allow_null=True)
    actor = UserSchema(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class NotificationPageSchema(serializers.Serializer):
    notifications = NotificationSchema(many=True)
    has_more = serializers.BooleanField()
    unread_count = serializers.IntegerField()


class MarkReadRequest(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Notification ids; all when absent."
    )


class MarkReadSchema(serializers.Serializer):
    marked = serializers.IntegerField()
    unread_count = serializers.IntegerField()
