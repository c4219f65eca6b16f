"""Registration and user search for API clients."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.models import RoomMember
from chat.queries import search_text
from chat.schema import ErrorSchema, UserSchema
from core.errors import ActionError
from core.payloads import user_payload

from .actions import USERNAME_HELP, check_registration_open, do_register_user

User = get_user_model()


class RegistrationSerializer(serializers.Serializer):
    """The request's shape only; what makes a registration acceptable is ``accounts.actions``."""

    username = serializers.CharField(max_length=150, help_text=USERNAME_HELP)
    password = serializers.CharField(write_only=True, max_length=128)
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)


def as_api_error(error: ActionError) -> APIException:
    """The action's refusal in the bodies this endpoint has always given: DRF's field errors, or a 403 detail."""
    if error.code == "invalid":
        return serializers.ValidationError(error.extra["fields"])
    return PermissionDenied(error.message)


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=RegistrationSerializer,
        responses={201: UserSchema, 400: ErrorSchema, 403: ErrorSchema},
        summary="Create an account (403 when registration is closed)",
    )
    def post(self, request: Request) -> Response:
        try:
            check_registration_open()
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
