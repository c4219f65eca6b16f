"""OpenAPI description of the upload object built by ``uploads.payloads.upload_payload``.

Messages embed uploads as attachments, so chat's schema reuses this one.
"""

from rest_framework import serializers


class UploadSchema(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
