"""Content-Security-Policy on pages, the admin and the API docs; the docs load nothing from a CDN."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def test_pages_may_connect_to_their_own_origin_only(client, ann):
    client.force_login(ann)

    response = client.get("/")

    assert directives(response)["connect-src"] == ["'self'"]


def test_the_admin_has_a_content_security_policy_without_inline_scripts(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert directives(response)["script-src"] == ["'self'"]
    assert directives(response)["connect-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_load_their_scripts_and_styles_from_this_origin(client, path):
    response = client.get(path)
    html = response.content.decode()

    assert response.status_code == 200
    assert directives(response)["script-src"] == ["'self'"]
    assert directives(response)["connect-src"] == ["'self'"]
    assert "/static/drf_spectacular_sidecar/" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "a script or style from another host"
    assert not re.search(r"<script>", html), "an inline script the policy would block"


def test_swagger_uis_start_script_is_served_as_a_file(client):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content


@pytest.mark.parametrize(
    "asset",
    ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css", "redoc/bundles/redoc.standalone.js"],
)
def test_the_docs_assets_are_served_from_the_pinned_sidecar_package(client, asset):
    response = client.get(f"/static/drf_spectacular_sidecar/{asset}")

    assert response.status_code == 200
