"""REST: a member reports a message to the moderators."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.rest import body
from core.schema import ErrorSchema

from . import actions
from .models import REPORT_REASON_MAX_LENGTH


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
