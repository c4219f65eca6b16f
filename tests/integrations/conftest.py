"""Fixtures of the integrations tests: a bot of Ann's with a token, and a real HTTP receiver."""

from __future__ import annotations

import pytest

from accounts.models import User
from integrations import actions

from .receiver import start_receiver


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.OUTGOING_WEBHOOK_ALLOW_PRIVATE = True  # the receivers listen on 127.0.0.1


@pytest.fixture
def ann_bot(ann):
    """Ann's bot ``deploybot`` (a user, not yet in any room)."""
    payload = actions.create_bot(ann, "deploybot", "Deploy Bot")
    return User.objects.get(pk=payload["id"])


@pytest.fixture
def bot_token(ann, ann_bot) -> str:
    return actions.create_token(ann, ann_bot.id, "ci")["token"]


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
