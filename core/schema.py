"""OpenAPI descriptions of the objects every app's REST answers share: the user and the error body.

They only document (responses are built by ``core.payloads.user_payload`` and
``core.rest``); tests/chat/test_api_schema.py checks them against the builders.
"""

from rest_framework import serializers

from .errors import ERROR_STATUS


class UserSchema(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True, help_text="The 256 px square avatar; null: show initials")
    avatar_small_url = serializers.CharField(allow_null=True, help_text="The 64 px square avatar")
    is_bot = serializers.BooleanField(help_text="An integration's account (integrations), not a person")


class ErrorSchema(serializers.Serializer):
    """Every error body: always a ``code``; a ``detail``, or (a serializer's validation failure) a key per bad field."""

    detail = serializers.CharField(required=False, help_text="Absent when the body lists errors per field")
    code = serializers.ChoiceField(sorted(ERROR_STATUS))
    message = serializers.CharField(required=False)
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (code rate_limited)")
    reason = serializers.CharField(required=False, help_text="The authentication library's own code, if any")
