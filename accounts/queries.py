"""Reads other apps need of accounts: who a socket's token names, and a sign-in session's tag."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework_simplejwt.exceptions import TokenError

from .authentication import SESSION_CLAIM, token_user
from .authentication import token_user_read as token_user_read  # public: a connect reads it ahead
from .models import User
from .tokens import AccessToken


def session_tag(session_secret: str) -> str:
    """What marks the sockets opened with one sign-in session (a page session or a token session).

    A socket keeps it, and ending the session tells the user's sockets this
    tag (``accounts.actions.close_session_sockets``): those with it close. Not
    a channel group of its own: subscribing one per socket was a Redis round
    trip on every connect, for an event that comes once in a session's life.
    A hash: the session key is a credential, and events travel through Redis
    and logs.
    """
    digest = hashlib.blake2s(session_secret.encode(), digest_size=16, person=b"confabss").hexdigest()
    return f"session.{digest}"


def user_for_access_token(token: Any) -> tuple[User, str | None] | None:
    """The user an access token still authenticates, with its token session (``sid``), or None.

    None for anything but a valid, unexpired access token of an active user
    whose sessions have not been ended since it was issued.
    """
    access = valid_access_token(token)
    return None if access is None else user_for_valid_access_token(access)


def valid_access_token(token: Any) -> AccessToken | None:
    """The access token ``token`` is, its signature and expiry checked (not yet its user), or None."""
    if not isinstance(token, str) or not token:
        return None
    try:
        return AccessToken(token)
    except TokenError:
        return None


def user_for_valid_access_token(access: AccessToken) -> tuple[User, str | None] | None:
    """``user_for_access_token`` for a token ``valid_access_token`` gave: its user and token session, or None."""
    user = token_user(access)
    if user is None:
        return None
    return user, access.get(SESSION_CLAIM)
