"""REST views of presence: thin adapters over ``presence.actions``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import ErrorSchema, UserSchema

from . import actions
from .models import Presence

ERRORS = {400: ErrorSchema}


class PresenceSchema(serializers.Serializer):
    """Documents ``actions.presence_payload`` (the same object as in ``ready`` and presence events)."""

    user = UserSchema()
    online = serializers.BooleanField(help_text="At least one live connection, in any server process.")
    status = serializers.ChoiceField(Presence.Status.choices, help_text="The chosen status, kept while offline.")
    status_text = serializers.CharField(allow_blank=True)
    status_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When status and text return to online and empty; null: until changed."
    )
    last_seen = serializers.DateTimeField(allow_null=True)


class StatusUpdateRequest(serializers.Serializer):
    status = serializers.ChoiceField(Presence.Status.choices, required=False)
    status_text = serializers.CharField(required=False, allow_blank=True, max_length=actions.STATUS_TEXT_MAX)
    clear_after = serializers.CharField(
        required=False, allow_null=True, help_text='Seconds (60 to 604800), or "today"; replaces any expiry'
    )
    status_expires_at = serializers.DateTimeField(required=False, allow_null=True)


class PresenceListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("users", str, required=True, description="Comma-separated user ids (<= 200)")],
        responses={200: PresenceSchema(many=True), **ERRORS},
        summary="Presence of these users: the caller and who shares a room with them (others are left out)",
    )
    def get(self, request: Request) -> Response:
        return Response(actions.presences_for_viewer(request.user, request.query_params.get("users")))


class MyPresenceView(APIView):
    @extend_schema(responses={200: PresenceSchema}, summary="The caller's presence")
    def get(self, request: Request) -> Response:
        return Response(actions.my_presence(request.user))

    @extend_schema(
        request=StatusUpdateRequest,
        responses={200: PresenceSchema, **ERRORS},
        summary="Set the caller's status and status text (announced as status_changed on a real change)",
    )
    def patch(self, request: Request) -> Response:
        return Response(actions.update_status(request.user, request.data))
