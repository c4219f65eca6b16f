"""REST: a member reports a message to the moderators; moderators restore messages from the chat.

Thin adapters over ``moderation.actions``: the same functions the admin calls,
audited with the reason the caller gives.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.schema import MessageSchema
from core.errors import invalid
from core.rest import body, errors
from core.schema import ErrorSchema

from . import actions
from .models import AUDIT_REASON_MAX_LENGTH, REPORT_REASON_MAX_LENGTH


def only(data: dict, *keys: str) -> dict:
    """The body, refused (400) when it has keys other than ``keys``: a misspelt field must not be ignored."""
    unknown = set(data) - set(keys)
    if unknown:
        raise invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    return data


class ReasonRequest(serializers.Serializer):
    reason = serializers.CharField(
        max_length=AUDIT_REASON_MAX_LENGTH, required=False, help_text="Recorded in the audit log"
    )


class ReportRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=REPORT_REASON_MAX_LENGTH)


class ReportSchema(serializers.Serializer):
    id = serializers.IntegerField()
    message = serializers.IntegerField()
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=["open", "resolved", "dismissed"])
    created_at = serializers.DateTimeField()


class MessageReportView(APIView):
    @extend_schema(
        request=ReportRequest,
        responses={
            201: ReportSchema,
            400: ErrorSchema,
            404: ErrorSchema,
            409: ErrorSchema,
            413: ErrorSchema,
        },
        summary="Report a message to the moderators (members of its room; one open report per message)",
    )
    def post(self, request: Request, message_id: int) -> Response:
        report = actions.report_message(request.user, message_id, body(request).get("reason"))
        return Response(report, status=status.HTTP_201_CREATED)


class MessageRestoreView(APIView):
    @extend_schema(
        request=ReasonRequest,
        responses={200: MessageSchema, **errors(400, 403, 404, 409, 413, 429)},
        summary="Restore a deleted message (moderators; audited with the reason)",
    )
    def post(self, request: Request, message_id: int) -> Response:
        data = only(body(request), "reason")
        return Response(actions.restore_message(request.user, message_id, data.get("reason", "")))
