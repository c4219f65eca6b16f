"""Reads other apps need of accounts: who a socket's token names, and a sign-in session's group."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from .authentication import SESSION_CLAIM, token_user
from .authentication import claimed_user_id as claimed_user_id  # for a socket's reads ahead (chat.consumers)
from .authentication import token_user_queries as token_user_queries
from .models import User


def session_group(session_secret: str) -> str:
    """The channel group of the sockets opened with one sign-in session (a page session or a token session).

    Named by a hash: the session key is a credential, and group names travel
    through Redis and logs.
    """
    digest = hashlib.blake2s(session_secret.encode(), digest_size=16, person=b"confabss").hexdigest()
    return f"session.{digest}"


def user_for_access_token(token: Any) -> tuple[User, str | None] | None:
    """The user an access token still authenticates, with its token session (``sid``), or None.

    None for anything but a valid, unexpired access token of an active user
    whose sessions have not been ended since it was issued.
    """
    access = access_token_of(token)
    return None if access is None else user_for_access(access)


def access_token_of(token: Any) -> AccessToken | None:
    """The valid (signed, unexpired) access token ``token`` is, or None; no query (``user_for_access`` checks it)."""
    if not isinstance(token, str) or not token:
        return None
    try:
        return AccessToken(token)
    except TokenError:
        return None


def user_for_access(access: AccessToken) -> tuple[User, str | None] | None:
    """``user_for_access_token`` for a token already validated by ``access_token_of``."""
    user = token_user(access)
    if user is None:
        return None
    return user, access.get(SESSION_CLAIM)
