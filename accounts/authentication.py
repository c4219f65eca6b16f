"""JSON Web Tokens that can be ended: issued with the user's generation, checked on every use.

Every refresh token from the token endpoint carries two claims, which the
access tokens refreshed from it inherit:

- ``gen``: the user's ``token_generation`` when it was issued. Ending a
  user's sessions (accounts.actions.do_end_sessions) bumps the generation,
  so every token issued before is refused from then on. A token without the
  claim (issued before it existed) counts as generation 0.
- ``sid``: the token session (the refresh token's own ``jti``). Signing out
  through the API (``POST /api/v1/auth/logout/``) ends this one session: its
  refresh and access tokens are refused and its sockets close, while the
  user's other devices go on.

``token_refusal`` is the one check; the REST authentication class, the token
refresh and the WebSocket ``authenticate`` (through accounts.queries) apply it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Exists, QuerySet
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from core.compiled import CompiledQuery, Read, attnames

from .models import SignedOutToken, User

GENERATION_CLAIM = "gen"
SESSION_CLAIM = "sid"

# Why a correctly signed, unexpired token is refused: the reason code API clients see, and the message.
REFUSALS = {
    "user_not_found": "The account no longer exists.",
    "user_inactive": "The account is deactivated.",
    "session_ended": "This session has ended (password changed, or signed out everywhere). Sign in again.",
    "signed_out": "This session was signed out. Sign in again.",
}


def refresh_token_for(user: AbstractBaseUser) -> RefreshToken:
    """A refresh token of a new token session of ``user``, under the user's current generation."""
    token = RefreshToken.for_user(user)
    token[GENERATION_CLAIM] = user.token_generation
    token[SESSION_CLAIM] = token[api_settings.JTI_CLAIM]
    return token


# Every authenticated request and socket asks these: compiled once per process (``core.compiled``).
# What a socket's user does not load: a connection keeps its user as long as it is open, and reads none
# of these after the sign-in (about 0.3 KiB per idle socket). Reading one loads it (a deferred field).
SOCKET_USER_FIELDS_NOT_LOADED = frozenset({"password", "email", "first_name", "last_name", "last_login", "date_joined"})


@functools.cache
def _socket_user_columns() -> list[str]:
    return [name for name in attnames(User) if name not in SOCKET_USER_FIELDS_NOT_LOADED]


def _signed_out(sid: str) -> QuerySet:
    return SignedOutToken.objects.filter(sid=sid)


def _user_and_signed_out(columns: Callable[[], list[str]]) -> CompiledQuery:
    """The user's ``columns`` and whether a token session was signed out, in one statement."""
    return CompiledQuery(
        lambda user_id, sid: (
            User.objects.filter(pk=user_id)
            .annotate(signed_out=Exists(_signed_out(sid)))
            .values_list(*columns(), "signed_out")
        ),
        kinds=("int", "str"),
    )


# A token's user and its session's sign-out are read in one statement: a round trip fewer on every
# connect (`python -m bench connect-steps`, token: 427 -> 286 us, docs/benchmarks.md) and REST request.
_SOCKET_USER_AND_SIGNED_OUT = _user_and_signed_out(_socket_user_columns)
_USER_AND_SIGNED_OUT = _user_and_signed_out(lambda: attnames(User))


def token_refusal(token: Token, user: User, *, signed_out: bool) -> str | None:
    """Why ``user``'s token no longer works (a key of ``REFUSALS``), or None when it does.

    ``signed_out``: whether the token's session was signed out (read with the user, ``_user_and_refusal``).
    """
    if not user.is_active:
        return "user_inactive"
    if token.get(GENERATION_CLAIM, 0) != user.token_generation:
        return "session_ended"
    if signed_out and token.get(SESSION_CLAIM):
        return "signed_out"
    return None


def _lookup_values(token: Token) -> tuple[int, str] | None:
    """What a validated token's user is looked up by: its user id and session id ("" for none); None
    when the token's user id is not a number."""
    try:
        user_id = int(token.get(api_settings.USER_ID_CLAIM))
    except (TypeError, ValueError):
        return None
    session_id = token.get(SESSION_CLAIM)
    return user_id, str(session_id) if session_id else ""


def _user_and_refusal(token: Token, query: CompiledQuery, columns: list[str]) -> tuple[User | None, str | None]:
    """The user a validated token names (its ``columns`` loaded) and why the token no longer works for
    them (``token_refusal``; ``user_not_found`` when it names no existing user), or None when it does."""
    values = _lookup_values(token)
    if values is None:
        return None, "user_not_found"
    rows = query.rows(*values)
    if not rows:
        return None, "user_not_found"
    *values, signed_out = rows[0]
    user = User.from_db(query.database(), columns, values)
    return user, token_refusal(token, user, signed_out=signed_out)


def token_user(token: Token) -> User | None:
    """The user a validated token names, if the token is still good for them (for a socket: without
    ``SOCKET_USER_FIELDS_NOT_LOADED``)."""
    user, refusal = _user_and_refusal(token, _SOCKET_USER_AND_SIGNED_OUT, _socket_user_columns())
    return None if refusal is not None else user


def token_user_read(token: Token) -> Read | None:
    """The read ``token_user`` makes, for ``core.compiled.read_together`` (None when it makes none)."""
    values = _lookup_values(token)
    return None if values is None else (_SOCKET_USER_AND_SIGNED_OUT, values)


def checked_token_user(token: Token) -> User:
    """The user a validated token names, every field loaded, if the token is still good for them;
    else ``AuthenticationFailed`` (401) naming why. REST requests and token refreshes ask this: the user
    and the session's sign-out in one statement (SimpleJWT's own lookup, then the sign-out, were two)."""
    user, refusal = _user_and_refusal(token, _USER_AND_SIGNED_OUT, attnames(User))
    if refusal is not None:
        raise refused(refusal)
    return user


def refused(reason: str) -> AuthenticationFailed:
    """A 401 whose body names the reason (``code`` becomes ``unauthenticated``, ``reason`` this)."""
    return AuthenticationFailed({"detail": REFUSALS[reason], "code": reason})


class RevocableJWTAuthentication(JWTAuthentication):
    """SimpleJWT's bearer authentication, refusing tokens of ended sessions."""

    def get_user(self, validated_token: Token) -> User:
        if api_settings.USER_ID_CLAIM not in validated_token:  # as SimpleJWT answers it: token_not_valid
            raise InvalidToken("Token contained no recognizable user identification")
        return checked_token_user(validated_token)


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI description: the same bearer scheme as SimpleJWT's."""

    target_class = RevocableJWTAuthentication


def client_ip(request: Request | Any) -> str:
    """The address sign-in and registration limits count against.

    ``REMOTE_ADDR``: behind a reverse proxy, the proxy must pass the client's
    address there (e.g. uvicorn's ``--forwarded-allow-ips``). With
    ``TRUST_X_FORWARDED_FOR`` on, the last address of ``X-Forwarded-For``
    (the one the trusted proxy appended) is used instead: never turn it on
    without such a proxy, or every client picks its own address.
    """
    meta = request.META
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1][:64]
    return (meta.get("REMOTE_ADDR") or "unknown")[:64]
