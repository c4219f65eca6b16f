"""The user model.

A custom user model from day one: swapping it later means rewriting every
foreign key to users, so Confab owns it now even though it only adds a
display name.
"""

import secrets

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    display_name = models.CharField(max_length=80, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            # "Ann" and "ann" would be two people who look the same in every
            # room; registration checks this, the database makes it hold for
            # racing requests, the admin and createsuperuser too.
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ci"),
        ]

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
