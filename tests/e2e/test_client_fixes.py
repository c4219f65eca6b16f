"""Browser tests of the store-driven client's fixes: each defect once seen, now checked.

Same machinery as test_chat_browser.py (its Person helper and fixtures); this module's server
allows 5 messages per 5 s per user, so the rate-limit notice is reached in a second, and its
other tests send fewer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, launch_server
from tests.e2e.test_chat_browser import (  # noqa: F401 (fixtures)
    Person,
    _expect_timeout,
    _png,
    chromium,
    people,
)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000


@pytest.fixture
def person(server, chromium):  # noqa: F811
    def open_person(user, *, then: str = "/", viewport=None) -> Person:
        someone = Person(chromium, server, user, viewport=viewport)
        someone.sign_in(then=then)
        someone.expect_online()
        return someone

    return open_person


def visible_toolbars(someone: Person) -> int:
    return someone.page.evaluate(
        """() => [...document.querySelectorAll('.message-actions')]
            .filter(bar => getComputedStyle(bar).opacity !== '0').length"""
    )


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """The shared server's, with a send limit a test can reach in a few seconds (the rate-limit notice)."""
    server_process = launch_server(
        tmp_path_factory.mktemp("server"), extra_env={"RATE_LIMIT_MESSAGES": "5", "RATE_LIMIT_WINDOW": "5"}
    )
    try:
        yield server_process
    finally:
        server_process.stop()


def test_edited_and_pinned_show_on_a_message_grouped_under_the_previous_one(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("first of two")
    ann.send("second of two")
    second = bob.message("second of two")
    expect(second).to_have_class(re.compile(r"\bgrouped\b"))

    # Up in the empty composer edits Ann's last message.
    ann.page.locator('textarea[data-testid="composer"]').press("ArrowUp")
    editor = ann.page.locator('[data-testid="edit-input"]')
    editor.fill("second of two, edited")
    editor.press("Enter")
    edited = bob.message("second of two, edited")
    expect(edited).to_have_class(re.compile(r"\bgrouped\b"))
    expect(edited.locator('[data-testid="edited"]')).to_be_visible()

    edited.hover()
    edited.locator('[data-testid="pin-button"]').click()
    for someone in (ann, bob):
        expect(someone.message("second of two, edited").locator(".pinned-badge")).to_be_visible()
    expect(bob.message("first of two").locator(".sender")).to_be_visible()
    expect(bob.message("second of two, edited").locator(".sender")).to_be_hidden()
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_edited_opens_the_earlier_versions(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("draft one")
    message = ann.message("draft one")
    message.hover()
    message.locator('[data-testid="edit-button"]').click()
    ann.page.locator('[data-testid="edit-input"]').fill("draft two")
    ann.page.locator('[data-testid="edit-input"]').press("Enter")
    bob.message("draft two").locator('[data-testid="edited"]').click()
    versions = bob.page.locator('[data-testid="edit-version"]')
    expect(versions).to_have_count(2)
    expect(versions.nth(0)).to_contain_text("draft two")
    expect(versions.nth(1)).to_contain_text("draft one")
    bob.assert_no_script_errors()


def test_a_rate_limited_send_says_how_long_it_waits_and_then_goes(people):
    from playwright.sync_api import expect

    ann, bob = people()
    for n in range(1, 7):
        ann.send(f"burst {n}")
    notice = ann.page.locator('[data-testid="composer-notice"]')
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(re.compile(r"goes out in \d+ s"))
    expect(ann.page.locator('[data-testid="pending-message"]')).to_contain_text("too many messages")
    expect(bob.message("burst 6")).to_have_count(1)  # the window passes: it goes out by itself
    expect(notice).to_be_hidden()
    expect(ann.page.locator('[data-testid="pending-message"]')).to_have_count(0)
    ann.assert_no_script_errors()


def test_colour_emoji_fonts_come_before_the_generic_family(ann, group_room, person):
    someone = person(ann, then=f"/rooms/{group_room.id}/")
    family = someone.page.evaluate("getComputedStyle(document.body).fontFamily")
    names = [name.strip().strip('"') for name in family.split(",")]
    assert names[-1] == "sans-serif", names
    assert names.index("Noto Color Emoji") < names.index("sans-serif")


def test_the_room_list_previews_markdown_as_plain_text(ann, bob, group_room, person):
    from playwright.sync_api import expect

    from chat import actions
    from tests.e2e.browser import outside_playwright_loop

    with outside_playwright_loop():
        actions.send_message(ann, group_room.id, body="*Design* review, **today**")
    bob_page = person(bob)
    entry = bob_page.page.locator(f'[data-testid="room"][data-room-id="{group_room.id}"] .entry-preview')
    expect(entry).to_have_text("Ann: Design review, today")  # as the server rendered it
    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    ann_page.send("| Name | Role |\n|---|---|\n| Ann | Owner |")
    expect(entry).to_have_text("Ann: Name Role Ann Owner")  # live
    bob_page.assert_no_script_errors()


def test_after_the_report_dialog_one_toolbar_shows_at_a_time(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("first report target")
    bob.send("another line")
    ann.send("second line")
    target = bob.message("first report target")
    target.hover()
    target.locator('[data-testid="report-button"]').click()
    bob.page.locator('[data-testid="report-reason"]').fill("spam")
    bob.page.locator('[data-testid="confirm-report"]').click()
    expect(bob.page.locator(".toast")).to_contain_text("Reported")
    bob.message("second line").hover()
    bob.page.wait_for_timeout(300)  # the toolbars fade in 120 ms
    assert visible_toolbars(bob) == 1


def test_a_failed_upload_drops_its_progress_bar(people):
    from playwright.sync_api import expect

    ann, _ = people()
    ann.page.route(
        "**/api/v1/uploads/",
        lambda route: route.fulfill(
            status=413,
            content_type="application/json",
            body=json.dumps({"detail": "too big", "code": "too_large", "message": "too big"}),
        ),
    )
    ann.page.locator('[data-testid="file-input"]').set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": _png()}]
    )
    item = ann.page.locator('[data-testid="upload-item"]')
    expect(item).to_have_attribute("data-state", "error")
    expect(item.get_by_role("progressbar")).to_be_hidden()
    expect(item).to_contain_text("This file is too large.")


def test_on_a_phone_the_room_shows_the_bell_and_the_other_rooms_unread(ann, bob, group_room, person):
    from playwright.sync_api import expect

    from chat import actions
    from tests.e2e.browser import outside_playwright_loop

    with outside_playwright_loop():
        design = actions.create_group_room(bob, name="design", members=[ann.id])
    phone = person(ann, then=f"/rooms/{group_room.id}/", viewport={"width": 390, "height": 844})
    bell = phone.page.locator('[data-testid="room-notif-button"]')
    expect(bell).to_be_visible()
    with outside_playwright_loop():
        actions.send_message(bob, design["id"], body="@ann new mock-ups")
    expect(phone.page.locator('[data-testid="other-rooms-unread"]')).to_have_text("1")
    expect(phone.page.locator('[data-testid="room-notifications-unread"]')).to_have_text("1")
    bell.click()
    expect(phone.page.locator('[data-testid="notification"]')).to_contain_text("Bob mentioned you in #design")
    phone.assert_no_script_errors()


def test_the_empty_sidebar_says_so_above_empty_headings(make_user, person):
    from playwright.sync_api import expect

    from tests.e2e.browser import outside_playwright_loop

    with outside_playwright_loop():
        newcomer = make_user()
    with_no_rooms = person(newcomer)
    empty = with_no_rooms.page.locator("#nav-empty")
    expect(empty).to_be_visible()
    expect(with_no_rooms.page.locator(".nav-title")).to_have_count(2)
    for heading in with_no_rooms.page.locator(".nav-title").all():
        expect(heading).to_be_hidden()
    with_no_rooms.assert_no_script_errors()
