"""REST: a member reports a message to the moderators; moderators restore messages and mute members from the chat.

Thin adapters over ``moderation.actions``: the same functions the admin calls,
audited with the reason the caller gives.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.schema import MessageSchema
from core.rest import body, errors
from core.schema import ErrorSchema
from core.validation import refuse_unknown_fields

from . import actions
from .models import AUDIT_REASON_MAX_LENGTH, REPORT_REASON_MAX_LENGTH


def only(data: dict, *keys: str) -> dict:
    """The body, refused (400) when it has keys other than ``keys``."""
    refuse_unknown_fields(data, keys)
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


class MuteRequest(serializers.Serializer):
    minutes = serializers.IntegerField(required=False, min_value=1, help_text="How long; or give `until`")
    until = serializers.DateTimeField(required=False, help_text="When it ends: in the future, at most 365 days")
    reason = serializers.CharField(
        max_length=AUDIT_REASON_MAX_LENGTH, required=False, help_text="Shown to the member when they send"
    )


class MuteSchema(serializers.Serializer):
    room = serializers.IntegerField()
    user = serializers.IntegerField()
    muted_until = serializers.DateTimeField(allow_null=True, help_text="Null: the member may send")
    reason = serializers.CharField(help_text="What the member is told when they send")


class MemberMuteView(APIView):
    @extend_schema(
        responses={200: MuteSchema, **errors(400, 403, 404)},
        summary="Whether a member is muted in the room, until when and why (moderators)",
    )
    def get(self, request: Request, room_id: int, user_id: int) -> Response:
        return Response(actions.member_mute(request.user, room_id, user_id))

    @extend_schema(
        request=MuteRequest,
        responses={200: MuteSchema, **errors(400, 403, 404, 413, 429)},
        summary="Stop a member sending in the room for a while (moderators; audited with the reason)",
    )
    def post(self, request: Request, room_id: int, user_id: int) -> Response:
        data = only(body(request), "minutes", "until", "reason")
        member = actions.mute_member(
            request.user,
            room_id,
            user_id,
            minutes=data.get("minutes"),
            until=data.get("until"),
            reason=data.get("reason", ""),
        )
        return Response(actions.mute_payload(member))

    @extend_schema(
        request=ReasonRequest,
        parameters=[OpenApiParameter("reason", str, required=False, description="Instead of the body")],
        responses={204: None, **errors(400, 403, 404, 409, 413, 429)},
        summary="Let a muted member send again (moderators; audited with the reason)",
    )
    def delete(self, request: Request, room_id: int, user_id: int) -> Response:
        data = only(body(request), "reason") if request.data else {}
        reason = data.get("reason", request.query_params.get("reason", ""))
        actions.unmute_member(request.user, room_id, user_id, reason)
        return Response(status=status.HTTP_204_NO_CONTENT)
