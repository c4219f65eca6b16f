"""Downloads cannot be saved as a page, a script or a program: active names get ``.txt``, nosniff always."""

from __future__ import annotations

import pytest

from uploads.api import safe_download_name

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "saved_as"),
    [
        ("page.html", "page.html.txt"),
        ("logo.SVG", "logo.SVG.txt"),
        ("run.bat", "run.bat.txt"),
        ("app.js", "app.js.txt"),
        ("setup.exe", "setup.exe.txt"),
        ("setup.exe. . ", "setup.exe.txt"),
        ("notes.txt", "notes.txt"),
        ("script.py", "script.py"),
        ("README", "README"),
        ("...", "file"),
    ],
)
def test_safe_download_name_adds_txt_after_active_endings(name, saved_as):
    assert safe_download_name(name) == saved_as


def test_a_text_upload_named_html_downloads_as_a_txt_attachment_with_nosniff(ann, upload_file, api_for):
    upload_id = upload_file(ann, "page.html", b"<script>alert(1)</script>\n").json()["id"]

    response = api_for(ann).get(f"/api/v1/uploads/{upload_id}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == "attachment; filename=\"page.html.txt\"; filename*=UTF-8''page.html.txt"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
