"""Tokens, sign-out, password change, registration and user search for API clients."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.serializers import TokenRefreshSerializer as SimpleTokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from chat.models import RoomMember
from chat.queries import search_text
from core.errors import ActionError
from core.payloads import user_payload
from core.schema import ErrorSchema, UserSchema

from . import invites, profile
from .actions import (
    USERNAME_HELP,
    check_registration_open,
    check_registration_rate,
    check_sign_in_allowed,
    count_registration,
    do_change_password,
    do_register_user,
    do_sign_out_token,
    record_sign_in_failure,
)
from .authentication import checked_token_user, client_ip, refresh_token_for

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
        responses={201: UserSchema, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema},
        summary="Create an account (403 when registration is closed and no `invite` is given; 404 for an invite "
        "that is not live; 429 past the per-address limit)",
    )
    def post(self, request: Request) -> Response:
        ip = client_ip(request)
        try:
            check_registration_open(request.data.get("invite") if isinstance(request.data, dict) else None)
            check_registration_rate(ip)
            serializer = RegistrationSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            user = do_register_user(**serializer.validated_data)
        except ActionError as error:
            if error.code == "rate_limited":
                raise
            raise as_api_error(error) from None
        count_registration(ip)
        return Response(user_payload(user), status=status.HTTP_201_CREATED)


class UserSearchView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=False, description="Part of a username or display name")],
        responses={200: UserSchema(many=True), 401: ErrorSchema},
        summary=(
            "Active users other than the caller, at most 20: those who share a room with the caller and the one "
            "whose username is exactly `q` (everyone with USER_DIRECTORY_OPEN)"
        ),
    )
    def get(self, request: Request) -> Response:
        query = search_text(request.query_params.get("q"), max_length=100)
        users = User.objects.filter(is_active=True).exclude(pk=request.user.pk)
        if query:
            users = users.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
        if not settings.USER_DIRECTORY_OPEN:
            # Closed directory: nobody can list everyone who has an account (spam, enumeration), yet
            # whoever knows a username finds that person to start a conversation.
            shared_rooms = RoomMember.objects.filter(user=request.user, room__archived=False).values("room_id")
            co_members = RoomMember.objects.filter(room_id__in=shared_rooms).values("user_id")
            visible = Q(pk__in=co_members)
            if query:
                visible |= Q(username__iexact=query)
            users = users.filter(visible)
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


# --- Tokens (SimpleJWT's views, with these serializers by settings.SIMPLE_JWT) ---------------


class TokenObtainSerializer(TokenObtainPairSerializer):
    """Username and password for a token pair, with sign-in throttling and the revocation claims."""

    @classmethod
    def get_token(cls, user: Any) -> RefreshToken:
        return refresh_token_for(user)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        username, ip = attrs.get(self.username_field, ""), client_ip(self.context["request"])
        check_sign_in_allowed(username, ip)  # raises ActionError: 429 with Retry-After (core.rest)
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            record_sign_in_failure(username, ip)
            raise


class TokenRefreshSerializer(SimpleTokenRefreshSerializer):
    """A new access token, only while the refresh token's session has not been ended."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # TokenError: the view answers 401 token_not_valid
        checked_token_user(refresh)
        return super().validate(attrs)


class RefreshTokenSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class LogoutView(APIView):
    """Sign one token session out: the refresh token (which proves it) and its access tokens and sockets."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get_authenticate_header(self, request: Request) -> str:
        # A refused refresh token is 401 (as the refresh answers it), not the 403 DRF gives without authenticators.
        return 'Bearer realm="api"'

    @extend_schema(
        request=RefreshTokenSerializer,
        responses={204: None, 400: ErrorSchema, 401: ErrorSchema},
        summary="Sign out this token session (other devices stay signed in)",
    )
    def post(self, request: Request) -> Response:
        serializer = RefreshTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            refresh = RefreshToken(serializer.validated_data["refresh"])
        except TokenError as error:
            raise InvalidToken(error.args[0]) from None
        do_sign_out_token(refresh)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeView(APIView):
    @extend_schema(
        request=PasswordChangeSerializer,
        responses={204: None, 400: ErrorSchema, 401: ErrorSchema, 429: ErrorSchema},
        summary="Change your password: every other session, token and socket of yours ends",
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        do_change_password(
            request.user, data.get("old_password"), data.get("new_password"), ip=client_ip(request)
        )  # ActionError: 400 invalid with `fields`, or 429 (core.rest)
        if isinstance(request.successful_authenticator, SessionAuthentication):
            # The page session calling stays signed in; every token (a bearer caller's own too) has ended.
            update_session_auth_hash(request._request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The caller's profile ---------------------------------------------------------------------------


class ProfileUpdateSchema(serializers.Serializer):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=80)
    avatar = serializers.IntegerField(
        required=False, allow_null=True, help_text="The id of an image you uploaded; null removes the avatar"
    )


class ProfileView(APIView):
    @extend_schema(responses={200: UserSchema, 401: ErrorSchema}, summary="The caller's user object")
    def get(self, request: Request) -> Response:
        return Response(user_payload(request.user))

    @extend_schema(
        request=ProfileUpdateSchema,
        responses={200: UserSchema, **{code: ErrorSchema for code in (400, 401, 413, 429, 503)}},
        summary="Change the caller's display name and/or avatar (announced as user_updated)",
    )
    def patch(self, request: Request) -> Response:
        return Response(profile.update_profile(request.user, request.data))
