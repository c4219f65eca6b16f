"""Registration: one check and one do, which the API and the page both call.

The rules (registration open, a username a mention can name and nobody has,
a password the validators accept) live here once; each transport only maps
the ``ActionError`` to its own answer (a DRF response, a form error).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ActionError, forbidden

from .invites import get_live_invite, use_invite

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
