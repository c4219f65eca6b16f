"""The access token every socket and REST request presents, checked without PyJWT's slow path when it can be.

SimpleJWT decodes a token with PyJWT, which checks each character of every
segment in a Python loop and prepares the key again on each call: 80 µs of
the 130 µs a token cost a connect (measured in-process on this project's
machine, ``docs/benchmarks.md``), against 5 µs for the HMAC itself. The
tokens this server signs all look alike (SimpleJWT's HS256 header, an
integer ``exp``, a string ``jti``), and ``HS256TokenBackend`` accepts such a
token after checking its signature and claims as PyJWT would. Anything
else (another algorithm or header, a claim it does not check, a bad
signature, an expired token) goes to PyJWT, whose answer and error stand:
the fast path only ever accepts what PyJWT would accept.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from typing import Any

import orjson
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken as SimpleJWTAccessToken

# The header SimpleJWT writes on an HS256 token (PyJWT's compact JSON), as it appears in the token.
HS256_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")  # base64url without padding, as PyJWT writes each segment
_UNCHECKED_HERE = frozenset({"nbf", "aud", "iss", "sub"})  # PyJWT's checks of these are left to PyJWT


class HS256TokenBackend(TokenBackend):
    """SimpleJWT's backend, answering for its own HS256 tokens itself (see the module's docstring)."""

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        payload = self._checked_payload(token) if verify else None
        return payload if payload is not None else super().decode(token, verify=verify)

    def _checked_payload(self, token: Any) -> dict[str, Any] | None:
        """The payload of a well-formed, correctly signed, unexpired HS256 token; None for anything else."""
        key = self._hmac_key
        if isinstance(token, bytes):  # as REST's bearer header hands it over
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                return None
        if key is None or not isinstance(token, str):
            return None
        header, dot, rest = token.partition(".")
        payload_segment, dot2, signature_segment = rest.partition(".")
        if (
            header != HS256_HEADER
            or not (dot and dot2)
            or not _SEGMENT.fullmatch(payload_segment)
            or not _SEGMENT.fullmatch(signature_segment)
        ):
            return None
        signed = hmac.digest(key, f"{header}.{payload_segment}".encode(), hashlib.sha256)
        if not hmac.compare_digest(signed, _b64url(signature_segment)):
            return None
        try:
            payload = orjson.loads(_b64url(payload_segment))
        except orjson.JSONDecodeError:
            return None
        return payload if self._claims_hold(payload) else None

    def _claims_hold(self, payload: Any) -> bool:
        """PyJWT's checks of ``exp``, ``iat`` and ``jti``, for values of the types this server writes."""
        if not isinstance(payload, dict) or not _UNCHECKED_HERE.isdisjoint(payload):
            return False
        exp, iat, jti = payload.get("exp"), payload.get("iat"), payload.get("jti")
        if type(exp) is not int or ("iat" in payload and type(iat) is not int):
            return False
        if "jti" in payload and not isinstance(jti, str):
            return False
        now, leeway = time.time(), self.get_leeway().total_seconds()
        return exp > now - leeway and ("iat" not in payload or iat <= now + leeway)

    @functools.cached_property
    def _hmac_key(self) -> bytes | None:
        """The HS256 key, or None where this backend must leave every token to PyJWT."""
        if self.algorithm != "HS256" or self.audience is not None or self.issuer is not None or self.jwks_client:
            return None
        try:
            # PyJWT's own preparation: it refuses keys that look like PEM. (It only warns of a short key,
            # as PyJWT does on each decode without its enforce_minimum_key_length option, which SimpleJWT
            # never sets.)
            return self.prepared_signing_key
        except Exception:  # noqa: BLE001 -- PyJWT refuses the key on every decode, with its own error
            return None


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@functools.cache
def _backend_like(backend: TokenBackend) -> HS256TokenBackend:
    """An ``HS256TokenBackend`` configured as SimpleJWT's ``backend`` is (made once per backend)."""
    fast = HS256TokenBackend(
        backend.algorithm,
        backend.signing_key,
        backend.verifying_key,
        backend.audience,
        backend.issuer,
        None,
        backend.leeway,
        backend.json_encoder,
    )
    fast.jwks_client = backend.jwks_client  # the same client, not a second one for the same URL
    return fast


class AccessToken(SimpleJWTAccessToken):
    """SimpleJWT's access token, decoded by ``HS256TokenBackend``: the one class that checks access tokens
    (sockets through ``accounts.queries``, REST through ``SIMPLE_JWT["AUTH_TOKEN_CLASSES"]``)."""

    @property
    def token_backend(self) -> TokenBackend:
        return _backend_like(state.token_backend)
