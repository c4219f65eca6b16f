"""OpenAPI descriptions of integrations' requests and answers (the payloads are built in integrations.payloads)."""

from rest_framework import serializers

from core.schema import UserSchema


class BotSchema(UserSchema):
    owner = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class BotCreateRequest(serializers.Serializer):
    username = serializers.CharField()
    display_name = serializers.CharField(required=False)


class NameRequest(serializers.Serializer):
    name = serializers.CharField()


class TokenSchema(serializers.Serializer):
    id = serializers.IntegerField()
    bot = serializers.IntegerField()
    name = serializers.CharField()
    hint = serializers.CharField(help_text="The first characters after the prefix")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    token = serializers.CharField(required=False, help_text="Only in the answer that creates it")


class IncomingWebhookSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    room = serializers.IntegerField()
    bot = UserSchema()
    created_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.CharField(required=False, help_text="Only in the answer that creates it")
    token = serializers.CharField(required=False, help_text="Only in the answer that creates it")


class OutgoingWebhookRequest(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.URLField()
    trigger = serializers.ChoiceField(["all", "prefix", "mention"])
    trigger_word = serializers.CharField(required=False)


class CommandRequest(serializers.Serializer):
    command = serializers.CharField(help_text="Without its slash: `deploy` for /deploy")
    url = serializers.URLField()


class OutgoingWebhookSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    room = serializers.IntegerField()
    url = serializers.CharField()
    trigger = serializers.ChoiceField(["all", "prefix", "mention", "command"])
    trigger_word = serializers.CharField()
    command = serializers.CharField(required=False, help_text="Custom commands only")
    bot = UserSchema()
    created_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    dropped = serializers.IntegerField(help_text="Deliveries not queued because too many were waiting")
    secret = serializers.CharField(required=False, help_text="Only in the answer that creates it")


class HookPostAnswer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.IntegerField(help_text="The id of the message posted")


class HookPostRequest(serializers.Serializer):
    text = serializers.CharField(help_text="Markdown")
    username = serializers.CharField(required=False, help_text="The name this message shows (its sender_name)")
