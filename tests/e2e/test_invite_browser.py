"""Rooms and people in a real browser: an invitation link followed signed out, and a profile picture uploaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chat import actions
from chat.models import Room
from tests.conftest import ServerProcess, launch_server
from tests.e2e.browser import SharedBrowser, outside_playwright_loop
from tests.e2e.test_chat_browser import PASSWORD, TIMEOUT_MS, Person

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def chromium() -> Iterator[SharedBrowser]:
    """One browser for the module, each person a context of their own (see tests/e2e/conftest.py)."""
    shared = SharedBrowser()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """One daphne process for the module, on the test database, storing files in a temporary directory."""
    media = tmp_path_factory.mktemp("media")
    server_process = launch_server(tmp_path_factory.mktemp("server"), extra_env={"MEDIA_ROOT": str(media)})
    try:
        yield server_process
    finally:
        server_process.stop()


@pytest.fixture
def design(ann) -> Room:
    """A private room of Ann's alone: Bob can only get in by being added or invited."""
    return Room.objects.get(pk=actions.create_group_room(ann, name="Design", topic="Pixels and fonts")["id"])


def test_bob_follows_anns_invitation_link_signs_in_joins_and_ann_sees_him_join(ann, bob, design, server, chromium):
    from playwright.sync_api import expect
    from rest_framework_simplejwt.tokens import AccessToken

    ann_page = Person(chromium, server, ann)
    ann_page.open_room(design.id)
    # Ann makes the link through the API, as a client would.
    made = ann_page.page.request.post(
        f"{server.http_url}/api/v1/rooms/{design.id}/invites/",
        data={"max_uses": 1},
        headers={"Authorization": f"Bearer {AccessToken.for_user(ann)}"},
    )
    assert made.status == 201, made.text()
    link = made.json()["url"]
    assert link.startswith(f"{server.http_url}/invite/")

    bob_page = Person(chromium, server, bob)
    page = bob_page.page
    page.goto(link)
    expect(page.get_by_test_id("invite-room-name")).to_have_text("Design")
    expect(page.get_by_test_id("invite-room-topic")).to_have_text("Pixels and fonts")
    expect(page.get_by_test_id("invite-member-count")).to_have_text("1 member")
    page.get_by_test_id("invite-sign-in").click()
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(link)  # back on the invitation, signed in
    page.get_by_test_id("invite-join").click()

    page.wait_for_url(f"{server.http_url}/rooms/{design.id}/")
    bob_page.expect_online()
    expect(bob_page.message("Bob joined")).to_have_count(1)
    expect(ann_page.message("Bob joined")).to_have_count(1)
    with outside_playwright_loop():
        assert design.memberships.filter(user=bob).exists()
    bob_page.assert_no_script_errors()
    ann_page.assert_no_script_errors()


def test_ann_uploads_a_picture_on_her_profile_page_and_sees_it_as_her_avatar(ann, server, chromium, tmp_path):
    from PIL import Image
    from playwright.sync_api import expect

    picture = tmp_path / "me.png"
    Image.new("RGB", (300, 200), (30, 120, 200)).save(picture)
    ann_page = Person(chromium, server, ann)
    ann_page.sign_in(then="/profile/")
    page = ann_page.page
    expect(page.get_by_test_id("profile-initial")).to_have_text("A")

    page.set_input_files('input[name="avatar"]', str(picture))
    page.get_by_role("button", name="Upload picture").click()

    expect(page.get_by_test_id("profile-notice")).to_have_text("Your picture is saved.")
    avatar = page.get_by_test_id("profile-avatar")
    expect(avatar).to_be_visible()
    # The browser loaded the 256 px square from the server (naturalWidth is 0 for a broken image).
    page.wait_for_function("document.querySelector('[data-testid=profile-avatar]').naturalWidth === 256")
    assert avatar.get_attribute("src").endswith("/256.webp")
    ann_page.assert_no_script_errors()
