"""The user model, and the ends of sign-in sessions.

A custom user model from day one: swapping it later means rewriting every
foreign key to users, so Confab owns it now.

``token_generation`` is what makes sessions revocable: every JWT carries the
generation it was issued under (accounts.authentication), and a page
session's auth hash includes it, so bumping it (accounts.actions.do_end_sessions)
ends every token and page session of the user at once, without finding them.
"""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac


class User(AbstractUser):
    display_name = models.CharField(max_length=80, blank=True)
    # The random name of the avatar's stored renditions (accounts.profile), "" for none: the user
    # object's avatar URLs are made from this column alone, so listing many users costs no query.
    avatar_key = models.CharField(max_length=64, blank=True, editable=False)
    # Bumped whenever all of the user's sessions must end (password change or reset, deactivation, suspension).
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    # A bot: an account a person owns, that signs in only with API tokens (integrations) and is labelled
    # ``is_bot`` wherever it appears. Its owner is the one who manages it; bots own no bots.
    is_bot = models.BooleanField(default=False)
    bot_owner = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="bots")

    class Meta(AbstractUser.Meta):
        constraints = [
            # "Ann" and "ann" would be two people who look the same in every
            # room; registration checks this, the database makes it hold for
            # racing requests, the admin and createsuperuser too.
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ci"),
        ]

    def get_session_auth_hash(self) -> str:
        """Django's hash (of the password) plus the generation: a bump signs every page session out.

        Generation 0 keeps Django's own value, so sessions from before the
        generation existed stay valid until the first bump.
        """
        if not self.token_generation:
            return super().get_session_auth_hash()
        return self._generation_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        if not self.token_generation:
            yield from super().get_session_auth_fallback_hash()
            return
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._generation_hash(secret=fallback_secret)

    def _generation_hash(self, secret: str | None) -> str:
        return salted_hmac(
            "confab.accounts.User.get_session_auth_hash",
            f"{self.password}:{self.token_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def get_display_name(self) -> str:
        return self.display_name or self.username

    def __str__(self) -> str:
        return self.username


def new_invite_code() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits: not guessable, short enough for a link


class ServerInvite(models.Model):
    """A link staff hand out that lets its holder register while self-registration is closed.

    Live while not revoked, not expired and not used up; ``accounts.invites``
    holds the rules, and counts a use in the registration's transaction.
    """

    code = models.CharField(max_length=64, unique=True, default=new_invite_code, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="server_invites"
    )
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: unlimited."
    )
    uses = models.PositiveIntegerField(default=0, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.code

    def is_live(self, now) -> bool:
        return (
            self.revoked_at is None
            and (self.expires_at is None or self.expires_at > now)
            and (self.max_uses is None or self.uses < self.max_uses)
        )
class SignedOutToken(models.Model):
    """A token session signed out through the API: its refresh and access tokens are refused.

    Every refresh token from the token endpoint names its session (the ``sid``
    claim, copied into the access tokens refreshed from it); a row here ends
    that one session, not the user's other devices. Rows are useless once the
    refresh token has expired, and are pruned then.
    """

    sid = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"signed-out token session of {self.user_id}"
