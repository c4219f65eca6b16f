"""The secrets integrations hand out: random, recognisable by their prefix, stored as a SHA-256.

A prefix tells at a glance (and in a leaked-secret scanner) what a string
is, and lets the REST authentication tell a bot token from a SimpleJWT one
(``eyJ...``) without trying to decode it. 32 random bytes: not guessable, so
one SHA-256 (no salt, no stretching) is enough to keep the stored form
useless to whoever reads the database, and lookups stay one indexed query.
"""

from __future__ import annotations

import hashlib
import secrets

BOT_TOKEN_PREFIX = "cfb_"
HOOK_TOKEN_PREFIX = "cfh_"
HINT_LENGTH = 6


def new_secret(prefix: str) -> str:
    """A fresh secret: ``prefix`` and 43 URL-safe characters (256 random bits)."""
    return prefix + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored and looked up instead of ``secret``."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hint(secret: str, prefix: str) -> str:
    """The few characters after the prefix that tell an owner's tokens apart."""
    return secret[len(prefix) : len(prefix) + HINT_LENGTH]


def is_bot_token(value: object) -> bool:
    return isinstance(value, str) and value.startswith(BOT_TOKEN_PREFIX)
