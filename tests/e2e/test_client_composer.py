"""Browser tests of the composer's helpers and the page's shortcuts: completion, drafts, the room
switcher, moving between rooms, Esc to read, the shortcut list, and group read receipts."""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import outside_playwright_loop
from tests.e2e.test_chat_browser import chromium, people, person, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)


def test_at_completes_a_member_and_colon_an_emoji(people):  # noqa: F811
    from playwright.sync_api import expect

    ann, bob = people()
    composer = ann.page.locator('textarea[data-testid="composer"]')
    composer.press_sequentially("thanks @bo")
    options = ann.page.locator('[data-testid="autocomplete-option"]')
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("@bob")
    composer.press("Enter")  # takes the suggestion, sends nothing
    expect(composer).to_have_value("thanks @bob ")
    composer.press_sequentially("well done :tad")
    expect(options.first).to_contain_text(":tada:")
    composer.press("Tab")
    expect(composer).to_have_value("thanks @bob well done 🎉 ")
    composer.press("Enter")
    expect(bob.message("thanks @bob well done 🎉")).to_have_count(1)
    ann.assert_no_script_errors()


def test_a_draft_stays_with_its_room_across_a_reload(ann, bob, group_room, person):  # noqa: F811
    from playwright.sync_api import expect

    from chat import actions

    with outside_playwright_loop():
        other = actions.create_group_room(ann, name="design", members=[bob.id])
    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    composer = ann_page.page.locator('textarea[data-testid="composer"]')
    composer.press_sequentially("half a thought")
    ann_page.page.goto(f"{ann_page.server.http_url}/rooms/{other['id']}/")
    ann_page.expect_online()
    expect(composer).to_have_value("")
    ann_page.page.goto(f"{ann_page.server.http_url}/rooms/{group_room.id}/")
    ann_page.expect_online()
    expect(composer).to_have_value("half a thought")
    composer.press("Enter")
    expect(ann_page.message("half a thought")).to_have_count(1)
    ann_page.page.reload()
    ann_page.expect_online()
    expect(composer).to_have_value("")  # sent: no draft left


def test_ctrl_k_switches_rooms_alt_arrows_move_between_them_and_question_mark_lists_the_shortcuts(
    ann,
    bob,
    group_room,
    person,  # noqa: F811
):
    from playwright.sync_api import expect

    from chat import actions

    with outside_playwright_loop():
        design = actions.create_group_room(ann, name="design", members=[bob.id])
    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    page = ann_page.page
    page.keyboard.press("Control+k")
    page.locator('[data-testid="switcher-search"]').fill("des")
    expect(page.locator('[data-testid="switcher-option"]')).to_have_count(1)
    page.locator('[data-testid="switcher-search"]').press("Enter")
    page.wait_for_url(re.compile(rf"/rooms/{design['id']}/$"))
    ann_page.expect_online()
    page.keyboard.press("Alt+ArrowDown")  # design is first (newest), General next
    page.wait_for_url(re.compile(rf"/rooms/{group_room.id}/$"))
    ann_page.expect_online()
    page.locator("#timeline").focus()
    page.keyboard.press("?")
    expect(page.locator('[data-testid="shortcuts"]')).to_be_visible()
    expect(page.locator('[data-testid="shortcuts"]')).to_contain_text("Switch to a room")
    ann_page.assert_no_script_errors()


def test_escape_marks_the_room_read(group_room, ann, bob, person):  # noqa: F811
    from playwright.sync_api import expect

    bob_page = person(bob, then=f"/rooms/{group_room.id}/")
    bob_page.page.evaluate(
        """() => Object.defineProperty(document, "hidden", { configurable: true, get: () => true })"""
    )
    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    ann_page.send("Read me")
    expect(bob_page.page).to_have_title("(1) General · Confab")
    bob_page.page.evaluate(
        """() => Object.defineProperty(document, "hidden", { configurable: true, get: () => false })"""
    )
    bob_page.page.locator('textarea[data-testid="composer"]').press("Escape")
    expect(bob_page.page).to_have_title("General · Confab")


def test_a_group_message_says_how_many_have_seen_it_and_who(people):  # noqa: F811
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Seen it?")
    expect(bob.message("Seen it?")).to_have_count(1)
    receipt = ann.page.locator('[data-testid="receipt"]')
    expect(receipt).to_have_text("Seen by 1")
    receipt.click()
    expect(ann.page.locator(".toast")).to_contain_text("Bob")
    ann.assert_no_script_errors()


def test_search_finds_a_message_of_the_room_and_jumps_to_it(people):  # noqa: F811
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("The deploy **checklist** lives in the wiki")
    ann.send("Something else entirely")
    expect(bob.messages()).to_have_count(2)
    bob.page.locator('[data-testid="search-button"]').click()
    bob.page.locator('[data-testid="search-input"]').fill("checklist")
    result = bob.page.locator('[data-testid="search-result"]')
    expect(result).to_have_count(1)
    expect(result).to_contain_text("The deploy checklist lives in the wiki")
    result.get_by_role("button", name="Jump to message").click()
    expect(bob.message("The deploy checklist lives in the wiki")).to_be_focused()
    bob.assert_no_script_errors()
