"""Registration and user search for API clients."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.queries import search_text
from chat.schema import ErrorSchema, UserSchema
from core.errors import ActionError
from core.payloads import user_payload

from . import invites
from .actions import USERNAME_HELP, check_registration_open, do_register_user

User = get_user_model()


class RegistrationSerializer(serializers.Serializer):
    """The request's shape only; what makes a registration acceptable is ``accounts.actions``."""

    username = serializers.CharField(max_length=150, help_text=USERNAME_HELP)
    password = serializers.CharField(write_only=True, max_length=128)
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    invite = serializers.CharField(
        max_length=64, required=False, help_text="A server invitation's code: registers while registration is closed."
    )


def as_api_error(error: ActionError) -> APIException:
    """The action's refusal in the bodies this endpoint has always given: DRF's field errors, or a 403 detail.

    An invitation that is not live is 404, whatever the reason.
    """
    if error.code == "invalid":
        return serializers.ValidationError(error.extra["fields"])
    if error.code == "not_found":
        return NotFound(error.message)
    return PermissionDenied(error.message)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=RegistrationSerializer,
        responses={201: UserSchema, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema},
        summary="Create an account (403 when registration is closed and no `invite` is given; 404 for an invite "
        "that is not live)",
    )
    def post(self, request: Request) -> Response:
        try:
            check_registration_open(request.data.get("invite") if isinstance(request.data, dict) else None)
            serializer = RegistrationSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            user = do_register_user(**serializer.validated_data)
        except ActionError as error:
            raise as_api_error(error) from None
        return Response(user_payload(user), status=status.HTTP_201_CREATED)


class UserSearchView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=False, description="Part of a username or display name")],
        responses={200: UserSchema(many=True), 401: ErrorSchema},
        summary="Active users other than the caller, at most 20",
    )
    def get(self, request: Request) -> Response:
        query = search_text(request.query_params.get("q"), max_length=100)
        users = User.objects.filter(is_active=True).exclude(pk=request.user.pk)
        if query:
            users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
        return Response([user_payload(u) for u in users.order_by("username")[:20]])


# --- Server invitations (staff) ---------------------------------------------------------


class ServerInviteRequestSchema(serializers.Serializer):
    max_uses = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="null: unlimited")
    expires_in = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="seconds from now; null: never expires"
    )


class ServerInviteSchema(serializers.Serializer):
    code = serializers.CharField()
    url = serializers.URLField()
    expires_at = serializers.DateTimeField(allow_null=True)
    max_uses = serializers.IntegerField(allow_null=True)
    uses = serializers.IntegerField()


def server_invite_payload(request: Request, invite) -> dict:
    return invites.invite_payload(invite, request.build_absolute_uri(invites.join_path(invite)))


class ServerInviteListView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        responses={200: ServerInviteSchema(many=True), 401: ErrorSchema, 403: ErrorSchema},
        summary="Live server invitations, newest first (staff)",
    )
    def get(self, request: Request) -> Response:
        invites.check_invite_creator(request.user)
        return Response([server_invite_payload(request, invite) for invite in invites.live_invites()])

    @extend_schema(
        request=ServerInviteRequestSchema,
        responses={201: ServerInviteSchema, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema},
        summary="Make a server invitation (staff): its link lets one register while registration is closed",
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        invite = invites.create_invite(request.user, data.get("max_uses"), data.get("expires_in"))
        return Response(server_invite_payload(request, invite), status=status.HTTP_201_CREATED)


class ServerInviteDetailView(APIView):
    @extend_schema(
        responses={204: None, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema},
        summary="Revoke a server invitation (staff)",
    )
    def delete(self, request: Request, code: str) -> Response:
        invites.revoke_invite(request.user, code)
        return Response(status=status.HTTP_204_NO_CONTENT)
