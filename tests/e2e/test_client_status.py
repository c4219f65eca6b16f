"""Browser tests of the user's own status in the client: automatic away when idle, and busy means no desktop alerts.

Same machinery as test_chat_browser.py (its Person helper and fixtures). Ann's pages go idle after 1.5 s
(the `confab.idleAfterMs` setting in localStorage) instead of five minutes.
"""

from __future__ import annotations

import pytest

from tests.e2e.browser import outside_playwright_loop
from tests.e2e.test_chat_browser import (  # noqa: F401 (fixtures)
    Person,
    _expect_timeout,
    chromium,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000
IDLE_QUICKLY = "localStorage.setItem('confab.idleAfterMs', '1500')"


def stored_status(user) -> str:
    from presence.models import Presence

    with outside_playwright_loop():
        return Presence.objects.get(user=user).status


def ann_dot_on(someone: Person, ann):
    someone.page.get_by_test_id("members-button").click()
    return someone.page.locator(f'#members-panel [data-presence-user="{ann.id}"]')


def test_an_idle_user_goes_away_for_co_members_and_comes_back_on_activity(group_room, ann, bob, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    ann_page = Person(chromium, server, ann)
    ann_page.context.add_init_script(IDLE_QUICKLY)
    ann_page.open_room(group_room.id)
    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    dot = ann_dot_on(bob_page, ann)

    expect(dot).to_have_attribute("data-status", "away")
    assert stored_status(ann) == "away"
    ann_page.page.mouse.move(200, 300)
    ann_page.page.keyboard.press("Shift")
    expect(dot).to_have_attribute("data-status", "online")
    assert stored_status(ann) == "online"
    ann_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_a_status_the_user_chose_is_not_replaced_by_away(group_room, ann, bob, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    from presence.actions import update_status

    with outside_playwright_loop():
        update_status(ann, {"status": "busy"})
    ann_page = Person(chromium, server, ann)
    ann_page.context.add_init_script(IDLE_QUICKLY)
    ann_page.open_room(group_room.id)
    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    dot = ann_dot_on(bob_page, ann)
    expect(dot).to_have_attribute("data-status", "busy")

    # Three idle periods pass; a busy user stays busy.
    ann_page.page.wait_for_timeout(4500)
    expect(dot).to_have_attribute("data-status", "busy")
    assert stored_status(ann) == "busy"
    ann_page.assert_no_script_errors()


def test_a_busy_user_gets_no_desktop_alert_but_the_message_arrives(group_room, ann, bob, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    from presence.actions import update_status

    with outside_playwright_loop():
        update_status(bob, {"status": "busy"})
    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    # The tab goes to the background; the browser's Notification is recorded instead of shown.
    bob_page.page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
            window.shown = [];
            window.Notification = class {
                static permission = "granted";
                constructor(title, options) { window.shown.push({ title, body: options.body }); }
                addEventListener() {}
            };
        }"""
    )
    ann_page = Person(chromium, server, ann)
    ann_page.open_room(group_room.id)
    ann_page.send("Quick question")
    expect(bob_page.message("Quick question")).to_have_count(1)
    expect(bob_page.page).to_have_title("(1) General · Confab")
    assert bob_page.page.evaluate("window.shown") == []
    bob_page.assert_no_script_errors()
