"""Screenshots of the room page's panels, dialogs and emoji picker for docs/screenshots/ (linked from README.md).

Artifacts always go to tests/artifacts/; docs/screenshots/ is written when a file is missing, or on
purpose with CONFAB_UPDATE_SCREENSHOTS=1, so test runs do not rewrite committed files. Same machinery
and conversation as test_screenshots_of_the_room_view_at_desktop_and_phone_width.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.test_chat_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    SCREENSHOTS,
    Person,
    _expect_timeout,
    chromium,
    conversation,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def threaded_conversation(conversation, group_room, ann, bob, cat):  # noqa: F811
    """The screenshot conversation, with a thread under its first message and an edited message."""
    from chat import actions
    from chat.models import Message

    root = Message.objects.get(room=group_room, body__startswith="Morning all!")
    actions.send_message(bob, group_room.id, body="Staging looks good on my side.", thread=root.id)
    actions.send_message(cat, group_room.id, body="Same here, the upload limits hold.", thread=root.id)
    actions.send_message(ann, group_room.id, body="Thanks both, tagging it now.", thread=root.id)
    edited = Message.objects.get(room=group_room, body__startswith="Could someone")
    actions.edit_message(ann, edited.id, body="Could someone give the new upload flow a spin today?")
    return root


def shoot(person: Person, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    person.page.mouse.move(0, 0)
    person.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    target = SCREENSHOTS / f"{name}.png"
    if os.environ.get("CONFAB_UPDATE_SCREENSHOTS") == "1" or not target.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        person.page.screenshot(path=str(target))


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_screenshots_of_the_thread_search_history_settings_and_members(
    threaded_conversation,
    group_room,
    ann,
    server,
    chromium,  # noqa: F811
    width,
):
    from playwright.sync_api import expect

    person = Person(chromium, server, ann, viewport=VIEWPORTS[width])
    person.open_room(group_room.id)
    page = person.page
    expect(page.locator('img[data-testid="thumbnail"]')).to_have_js_property("complete", True)

    root = person.message("Morning all! The release candidate is up on staging.")
    root.get_by_test_id("thread-summary").click()
    expect(page.locator("#thread-messages [data-testid='message']")).to_have_count(4)
    shoot(person, f"thread-{width}")
    page.locator("#thread-close").click()

    page.get_by_test_id("search-button").click()
    page.get_by_test_id("search-input").fill("upload")
    expect(page.get_by_test_id("search-result").first).to_be_visible()
    shoot(person, f"search-{width}")
    page.locator("#search-close").click()

    person.message("Could someone give the new upload flow a spin today?").get_by_test_id("edited").click()
    expect(page.get_by_test_id("edit-version")).to_have_count(2)
    shoot(person, f"edit-history-{width}")
    page.keyboard.press("Escape")

    page.get_by_test_id("room-settings-button").click()
    expect(page.get_by_test_id("room-settings-dialog")).to_be_visible()
    shoot(person, f"room-settings-{width}")
    page.keyboard.press("Escape")

    last = person.message("Love it. Shipping after lunch 🚀")
    last.hover()
    last.get_by_test_id("react-button").click()
    page.get_by_test_id("emoji-search").fill("party")
    expect(page.get_by_test_id("emoji-option").first).to_be_visible()
    shoot(person, f"emoji-picker-{width}")
    page.keyboard.press("Escape")

    page.get_by_test_id("members-button").click()
    expect(page.locator('#members-panel [data-testid="member"]')).to_have_count(3)
    shoot(person, f"members-{width}")
    person.assert_no_script_errors()
