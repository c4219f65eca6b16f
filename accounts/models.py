"""The user model.

A custom user model from day one: swapping it later means rewriting every
foreign key to users, so Confab owns it now even though it only adds a
display name.
"""

from django.contrib.auth.models import AbstractUser
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
