"""Registration and user search for API clients."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.queries import search_text
from chat.schema import ErrorSchema, UserSchema
from core.payloads import user_payload

User = get_user_model()


# What `@mentions` can name (chat.rendering.MENTION_RE): letters, digits, _ . + -,
# and no trailing dot, which a mention drops as punctuation. Page and API share it.
USERNAME_PATTERN = r"^[\w.+-]{0,149}[\w+-]\Z"
USERNAME_HELP = "Up to 150 letters, digits and _ . + - (not ending with a dot)."


class RegistrationSerializer(serializers.Serializer):
    username = serializers.RegexField(
        USERNAME_PATTERN, max_length=150, error_messages={"invalid": USERNAME_HELP}, help_text=USERNAME_HELP
    )
    password = serializers.CharField(write_only=True, max_length=128)
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("That username is taken.")
        return value

    def validate(self, attrs: dict) -> dict:
        candidate = User(username=attrs["username"], display_name=attrs.get("display_name", ""))
        try:
            validate_password(attrs["password"], candidate)
        except ValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class UsernameTaken(Exception):
    """Another account has this username, in any case (a request that raced the check)."""


def register_user(username: str, password: str, display_name: str = "") -> User:
    """The one place accounts are created (the page and the API both call it).

    Raises ``UsernameTaken`` when a concurrent registration took the name
    between the form's check and the insert: the database constraint decides.
    """
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password, display_name=display_name)
    except IntegrityError:
        raise UsernameTaken(username) from None


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=RegistrationSerializer,
        responses={201: UserSchema, 400: ErrorSchema, 403: ErrorSchema},
        summary="Create an account (403 when registration is closed)",
    )
    def post(self, request: Request) -> Response:
        if not settings.REGISTRATION_OPEN:
            return Response(
                {"detail": "Registration is closed.", "code": "forbidden"}, status=status.HTTP_403_FORBIDDEN
            )
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = register_user(**serializer.validated_data)
        except UsernameTaken:
            raise serializers.ValidationError({"username": ["That username is taken."]}) from None
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
