"""Accounts' rules: registration, sign-in limits, password changes and the end of sessions.

Each rule lives here once; each transport (the API, the pages, the admin,
model signals for the shell) only maps the ``ActionError`` to its own answer
(a DRF response, a form error).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from core import ratelimit
from core.errors import ActionError, forbidden
from core.publishing import deliver_message, disconnect_envelope, user_group

from .authentication import SESSION_CLAIM
from .invites import get_live_invite, use_invite
from .models import SignedOutToken
from .queries import session_tag

User = get_user_model()

# What `@mentions` can name (chat.rendering.MENTION_RE): letters, digits, _ . + -,
# and no trailing dot, which a mention drops as punctuation.
USERNAME_PATTERN = r"^[\w.+-]{0,149}[\w+-]\Z"
USERNAME_HELP = "Up to 150 letters, digits and _ . + - (not ending with a dot)."
USERNAME_TAKEN = "That username is taken."
REGISTRATION_CLOSED = "Registration is closed."


def refused(field: str, messages: list[str]) -> ActionError:
    """An ``invalid`` error naming the field at fault, as both transports show it."""
    return ActionError("invalid", messages[0], fields={field: messages})


def check_registration_open(invite: str | None = None) -> None:
    """Refuse before reading any other input: a closed site says so whatever was sent.

    A server invitation (``accounts.invites``) opens a closed site; one that
    is given is always checked, open or not: not live is ``not_found``.
    """
    if invite is not None:
        get_live_invite(invite)
    elif not settings.REGISTRATION_OPEN:
        raise forbidden(REGISTRATION_CLOSED)


def check_registration(username: str, password: str, display_name: str = "", invite: str | None = None) -> None:
    """Raise ``ActionError`` when this account may not be created; change nothing.

    ``forbidden`` when registration is closed and no ``invite`` is given,
    ``not_found`` when the invitation is not live; otherwise ``invalid`` with
    ``extra["fields"]`` mapping ``username`` or ``password`` to messages. A bad
    username is reported alone, before the password is judged, because the
    similarity validator compares the password with the username.
    """
    check_registration_open(invite)
    if not re.match(USERNAME_PATTERN, username):
        raise refused("username", [USERNAME_HELP])
    if User.objects.filter(username__iexact=username).exists():
        raise refused("username", [USERNAME_TAKEN])
    try:
        validate_password(password, User(username=username, display_name=display_name))
    except ValidationError as error:
        raise refused("password", list(error.messages)) from None


def do_register_user(username: str, password: str, display_name: str = "", invite: str | None = None) -> User:
    """Check, then create the account: the one place accounts are created.

    A concurrent registration can take the name between the check and the
    insert; the database constraint decides, and the loser gets the same
    ``invalid`` username error the check gives. With an ``invite``, one use
    is counted in the same transaction (``accounts.invites.use_invite``):
    the last use goes to one registration, the others get ``not_found``.
    """
    check_registration(username, password, display_name, invite)
    try:
        with transaction.atomic():
            if invite is not None:
                use_invite(invite)
            return User.objects.create_user(username=username, password=password, display_name=display_name)
    except IntegrityError:
        raise refused("username", [USERNAME_TAKEN]) from None


# --- The end of sessions -------------------------------------------------------------

# What a closed socket is told (the ``error`` frame before close code 4403), per cause.
PASSWORD_CHANGED = "Your password was changed. Sign in again."
PASSWORD_RESET = "Your password was reset. Sign in again."
DEACTIVATED = "Your account was deactivated."
DELETED = "Your account was deleted."
SUSPENDED = "Your account has been suspended."
SIGNED_OUT = "You signed out."


def do_end_sessions(user: User, reason: str) -> None:
    """End every session of ``user``: page sessions, JWTs (access and refresh) and open sockets.

    Bumps the user's ``token_generation``: tokens carry the generation they
    were issued under and page sessions' auth hash includes it, so all of them
    are refused from the next use on (Django flushes such a session when it
    next reads it). After commit, every open socket of the user closes with
    4403 and ``reason``. Nothing resets the generation: lifting a suspension
    revives no old token. ``user.token_generation`` is updated in place, so a
    caller can keep its own session (``update_session_auth_hash``).
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
        user.token_generation = User.objects.filter(pk=user.pk).values_list("token_generation", flat=True).get()
        close_user_sockets(user.pk, reason)


def close_user_sockets(user_id: int, reason: str, *, session: str | None = None) -> None:
    """After commit, close every open socket of the user with 4403 and ``reason``; with ``session`` (a
    sign-in session's tag), only the sockets opened with that session."""
    message = disconnect_envelope(reason, session=session)
    transaction.on_commit(lambda: deliver_message(user_group(user_id), message))


def close_session_sockets(user_id: int, session_secret: str, reason: str) -> None:
    """After commit, close the sockets ``user_id`` opened with one sign-in session (its key, or a token's
    ``sid``): the user's sockets are told the session's tag, and those opened with it close."""
    close_user_sockets(user_id, reason, session=session_tag(session_secret))


def do_sign_out_token(refresh: RefreshToken) -> None:
    """End one token session: its refresh token and the access tokens refreshed from it, and its sockets.

    The user's other sessions and devices go on. Rows of token sessions that
    have expired anyway are pruned here.
    """
    session_id = refresh.get(SESSION_CLAIM) or refresh[jwt_settings.JTI_CLAIM]
    if not User.objects.filter(pk=refresh.get(jwt_settings.USER_ID_CLAIM)).exists():
        return  # a deleted user's tokens are refused anyway
    with transaction.atomic():
        SignedOutToken.objects.filter(expires_at__lt=timezone.now()).delete()
        SignedOutToken.objects.get_or_create(
            sid=session_id,
            defaults={
                "user_id": refresh[jwt_settings.USER_ID_CLAIM],
                "expires_at": datetime_from_epoch(refresh["exp"]),
            },
        )
        close_session_sockets(int(refresh[jwt_settings.USER_ID_CLAIM]), session_id, SIGNED_OUT)


# --- Password changes ------------------------------------------------------------------

WRONG_OLD_PASSWORD = "Your old password was entered incorrectly."


def check_password_change(user: User, old_password: Any, new_password: Any, *, ip: str) -> None:
    """Raise ``ActionError`` unless ``user`` may change their password to ``new_password``; change nothing.

    ``rate_limited`` while the user's sign-in failures are used up (a wrong
    old password counts as one: this must not be a way round the sign-in
    limit); ``invalid`` with ``fields`` for a wrong old password or a new
    one the validators refuse.
    """
    check_sign_in_allowed(user.get_username(), ip)
    if not isinstance(old_password, str) or not old_password:
        raise refused("old_password", ["Enter your current password."])
    if not isinstance(new_password, str) or not new_password:
        raise refused("new_password", ["Enter a new password."])
    if len(new_password) > 128:
        raise refused("new_password", ["Use at most 128 characters."])
    if not user.check_password(old_password):
        record_sign_in_failure(user.get_username(), ip)
        raise refused("old_password", [WRONG_OLD_PASSWORD])
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        raise refused("new_password", list(error.messages)) from None


def do_change_password(user: User, old_password: Any, new_password: Any, *, ip: str) -> None:
    """Check, then set the new password; saving it ends every session (accounts.signals)."""
    check_password_change(user, old_password, new_password, ip=ip)
    user.set_password(new_password)
    user.save(update_fields=["password"])


# --- Sign-in and registration limits -----------------------------------------------------


def _hashed(value: str) -> str:
    return hashlib.blake2s(value.encode(), digest_size=16).hexdigest()


def _sign_in_budgets(username: str, ip: str) -> list[tuple[str, int]]:
    return [
        (f"confab:rate:sign-in:user:{_hashed(username.strip().casefold())}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"confab:rate:sign-in:ip:{ip}", settings.LOGIN_FAILURES_PER_IP),
    ]


def check_sign_in_allowed(username: str, ip: str) -> None:
    """Refuse a sign-in attempt with ``rate_limited`` once this username or this address used up its failures.

    Failures count for ``LOGIN_FAILURE_WINDOW`` seconds (a sliding window);
    a success resets neither budget, so an address cannot refill its budget
    by signing in to an account of its own between guesses.
    """
    window = settings.LOGIN_FAILURE_WINDOW
    wait = max(ratelimit.wait_for(key, limit, window) for key, limit in _sign_in_budgets(username, ip))
    if wait:
        raise ActionError("rate_limited", f"Too many failed sign-ins. Try again in {wait} s.", retry_after=wait)


def record_sign_in_failure(username: str, ip: str) -> None:
    """Count one failed sign-in against the username and the address."""
    for key, limit in _sign_in_budgets(username, ip):
        ratelimit.take(key, limit, settings.LOGIN_FAILURE_WINDOW)


def _registration_key(ip: str) -> str:
    return f"confab:rate:register:ip:{ip}"


def check_registration_rate(ip: str) -> None:
    """Refuse with ``rate_limited`` once this address created ``REGISTRATIONS_PER_IP_PER_HOUR`` accounts."""
    wait = ratelimit.wait_for(_registration_key(ip), settings.REGISTRATIONS_PER_IP_PER_HOUR, 3600)
    if wait:
        raise ActionError(
            "rate_limited", f"Too many accounts created from your address. Try again in {wait} s.", retry_after=wait
        )


def count_registration(ip: str) -> None:
    """Count one account created from this address."""
    ratelimit.take(_registration_key(ip), settings.REGISTRATIONS_PER_IP_PER_HOUR, 3600)
