"""The access token's faster check (``accounts.tokens``) answers every token as SimpleJWT and PyJWT do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt import backends
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken as SimpleJWTAccessToken

from accounts.tokens import HS256_HEADER, AccessToken, HS256TokenBackend

pytestmark = pytest.mark.django_db

HS256 = {"alg": "HS256", "typ": "JWT"}


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()


def signed(payload: object, header: dict | None = None, key: str | None = None, digest=hashlib.sha256) -> str:
    """A token as any signer could make it: ``payload`` under ``header``, signed with ``key``."""
    signing_input = f"{_segment(header or HS256)}.{_segment(payload)}"
    signature = hmac.digest((key or settings.SECRET_KEY).encode(), signing_input.encode(), digest)
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def claims(**changed) -> dict:
    now = int(time.time())
    return {"token_type": "access", "exp": now + 300, "iat": now, "jti": "a" * 32, "user_id": "7", **changed}


def outcome(backend: TokenBackend, token) -> tuple[str, object]:
    try:
        return "accepted", backend.decode(token)
    except Exception as error:  # noqa: BLE001 -- the outcome compared is the error itself
        return type(error).__name__, str(error)


def _tampered_signature(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


def _swapped_payload(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_segment(claims(user_id='1'))}.{signature}"


TOKENS = {
    "valid": lambda: signed(claims()),
    "valid, as bytes": lambda: signed(claims()).encode(),
    "bytes not ASCII": lambda: signed(claims()).encode() + b"\xff",
    "expired": lambda: signed(claims(exp=int(time.time()) - 1)),
    "expired long ago": lambda: signed(claims(exp=1)),
    "signature changed": lambda: _tampered_signature(signed(claims())),
    "payload swapped under the signature": lambda: _swapped_payload(signed(claims())),
    "signed with another key": lambda: signed(claims(), key="another key"),
    "alg none": lambda: signed(claims(), header={"alg": "none", "typ": "JWT"}).rsplit(".", 1)[0] + ".",
    "HS512 with the same key": lambda: signed(claims(), header={"alg": "HS512", "typ": "JWT"}, digest=hashlib.sha512),
    "header with a kid": lambda: signed(claims(), header={**HS256, "kid": "k1"}),
    "payload a list": lambda: signed([1, 2]),
    "payload not JSON": lambda: f"{HS256_HEADER}.bm90IGpzb24.sig",
    "exp a numeric string": lambda: signed(claims(exp=str(int(time.time()) + 300))),
    "exp a float": lambda: signed(claims(exp=time.time() + 300)),
    "exp missing": lambda: signed({k: v for k, v in claims().items() if k != "exp"}),
    "iat in the future": lambda: signed(claims(iat=int(time.time()) + 120)),
    "iat a string": lambda: signed(claims(iat="yesterday")),
    "nbf in the future": lambda: signed(claims(nbf=int(time.time()) + 120)),
    "aud present": lambda: signed(claims(aud="somebody")),
    "sub a number": lambda: signed(claims(sub=7)),
    "jti a number": lambda: signed(claims(jti=7)),
    "junk in the payload segment": lambda: signed(claims()).replace(".", ".!", 1),
    "padding on the signature": lambda: signed(claims()) + "=",
    "two segments": lambda: signed(claims()).rsplit(".", 1)[0],
    "four segments": lambda: signed(claims()) + ".x",
    "empty": lambda: "",
}


@pytest.mark.parametrize("kind", TOKENS)
@pytest.mark.parametrize(
    "configured", [{}, {"audience": "confab"}, {"leeway": 60}], ids=["default", "audience", "leeway"]
)
def test_the_faster_check_answers_each_token_as_simplejwt_does(kind, configured):
    options = {"algorithm": "HS256", "signing_key": settings.SECRET_KEY, **configured}
    token = TOKENS[kind]()

    assert outcome(HS256TokenBackend(**options), token) == outcome(TokenBackend(**options), token)


def test_a_token_this_server_signed_is_checked_without_pyjwt(ann, monkeypatch):
    token = str(SimpleJWTAccessToken.for_user(ann))

    def pyjwt_called(*args, **kwargs):
        raise AssertionError("PyJWT decoded a token the faster check should have answered")

    monkeypatch.setattr(backends.jwt, "decode", pyjwt_called)

    assert AccessToken(token)["user_id"] == str(ann.id)


def test_a_token_the_faster_check_leaves_is_still_refused_by_pyjwt(ann):
    token = SimpleJWTAccessToken.for_user(ann)
    token.set_exp(lifetime=-token.lifetime)  # expired: the faster check leaves it to PyJWT

    with pytest.raises(TokenError, match="expired"):
        AccessToken(str(token))


def test_a_server_signed_token_has_the_header_the_faster_check_expects(ann):
    assert str(SimpleJWTAccessToken.for_user(ann)).split(".")[0] == HS256_HEADER


def test_a_rest_request_with_a_token_this_server_signed_is_checked_without_pyjwt(ann, monkeypatch):
    token = str(SimpleJWTAccessToken.for_user(ann))

    def pyjwt_called(*args, **kwargs):
        raise AssertionError("PyJWT decoded a token the faster check should have answered")

    monkeypatch.setattr(backends.jwt, "decode", pyjwt_called)
    response = APIClient().get("/api/v1/rooms/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
