"""Every API path refuses anonymous callers with 401 and the contract's code.

The paths are read from the URL configuration, so an endpoint added later by
any app is covered without touching this file.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# The logout takes its credential, the refresh token, in the body (as the refresh does). The emoji table is
# the same static data for everyone, served with public cache headers.
PUBLIC = {
    "api/v1/auth/token/",
    "api/v1/auth/token/refresh/",
    "api/v1/auth/logout/",
    "api/v1/auth/register/",
    "api/v1/emoji/",
}
METHODS = ("get", "post", "put", "patch", "delete")


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_endpoints() -> list[tuple[str, str]]:
    """(method, concrete path) for every method of every view under /api/v1/."""
    endpoints = []
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or route in PUBLIC:
            continue
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        path = "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)
        for method in METHODS:
            if view_class is None or hasattr(view_class, method):
                endpoints.append((method, path))
    return endpoints


def test_the_api_has_the_endpoints_of_the_contract():
    paths = {path for _, path in api_endpoints()}

    assert {
        "/api/v1/rooms/",
        "/api/v1/rooms/1/",
        "/api/v1/rooms/direct/",
        "/api/v1/rooms/1/members/",
        "/api/v1/rooms/1/members/1/",
        "/api/v1/rooms/1/messages/",
        "/api/v1/rooms/1/pins/",
        "/api/v1/rooms/1/read/",
        "/api/v1/messages/1/",
        "/api/v1/messages/1/reactions/",
        "/api/v1/messages/1/pin/",
        "/api/v1/search/",
        "/api/v1/users/",
    } <= paths


@pytest.mark.parametrize(("method", "path"), api_endpoints())
def test_anonymous_callers_get_401_with_code_unauthenticated(method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401, response.content
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
