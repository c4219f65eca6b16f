"""REST authentication of bots: ``Authorization: Bearer cfb_...``.

Listed before SimpleJWT's class in ``DEFAULT_AUTHENTICATION_CLASSES``: a
bearer value with the bot-token prefix is this class's to accept or refuse,
and anything else (a JWT, ``eyJ...``) is left to the next class, so the one
header serves both kinds of token.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from .queries import live_bot_token
from .tokens import BOT_TOKEN_PREFIX


class BotTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword:
            return None
        try:
            value = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not value.startswith(BOT_TOKEN_PREFIX):
            return None  # a JWT: SimpleJWT's class decides
        token = live_bot_token(value)
        if token is None:
            raise AuthenticationFailed({"detail": "The API token is unknown or revoked.", "code": "token_revoked"})
        return token.bot, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BotTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI description: a bearer token, like the JWT one."""

    target_class = BotTokenAuthentication
    name = "botToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A bot's API token (cfb_...)."}
