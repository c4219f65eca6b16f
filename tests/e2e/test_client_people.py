"""Browser tests of people in the room page: live profile changes, avatars, bots, webhook names, timeline lines.

Same machinery as test_chat_browser.py (its Person helper and fixtures): Ann owns the private General
room, Bob is a member.
"""

from __future__ import annotations

import base64
import re

import pytest

from tests.e2e.browser import outside_playwright_loop
from tests.e2e.test_chat_browser import (  # noqa: F401 (fixtures)
    Person,
    _expect_timeout,
    _png,
    chromium,
    people,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000

# Through the page's own session, as the profile page's scripts would: upload, then PATCH users/me/.
SET_AVATAR = """async (png) => {
  const csrf = decodeURIComponent(document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/)[1]);
  const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: "image/png" }), "me.png");
  const sent = await fetch("/api/v1/uploads/", { method: "POST", body: form, headers: { "X-CSRFToken": csrf } });
  const upload = await sent.json();
  const answer = await fetch("/api/v1/users/me/", {
    method: "PATCH", body: JSON.stringify({ avatar: upload.id }),
    headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
  });
  return (await answer.json()).avatar_small_url;
}"""


def test_a_rename_shows_live_on_the_co_members_page(people, bob):
    from playwright.sync_api import expect

    from accounts.profile import update_profile

    ann, bob_page = people()
    bob_page.send("hello from bob")
    message = ann.message("hello from bob")
    expect(message.locator(".sender")).to_have_text("Bob")
    with outside_playwright_loop():
        update_profile(bob, {"display_name": "Robert"})

    expect(message.locator(".sender")).to_have_text("Robert")
    expect(message.locator(".avatar")).to_have_text("R")
    ann.page.get_by_test_id("members-button").click()
    expect(ann.page.locator('#members-panel [data-testid="member"] strong', has_text="Robert")).to_have_count(1)
    ann.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_a_new_avatar_replaces_the_initial_for_co_members_and_on_a_fresh_page(people, group_room):
    from playwright.sync_api import expect

    ann, bob_page = people()
    bob_page.send("look at my picture")
    message = ann.message("look at my picture")
    expect(message.locator(".avatar img")).to_have_count(0)
    small = bob_page.page.evaluate(SET_AVATAR, base64.b64encode(_png(128, 128)).decode())
    assert re.fullmatch(r"/avatars/[^/]+/64\.webp", small)

    expect(message.locator(".avatar img")).to_have_attribute("src", small)
    ann.page.reload()
    expect(ann.message("look at my picture").locator(".avatar img")).to_have_attribute("src", small)
    assert ann.message("look at my picture").locator(".avatar img").evaluate("img => img.naturalWidth") == 64
    ann.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_an_incoming_webhook_post_shows_its_own_name_and_a_bot_tag(people, ann, group_room):
    from playwright.sync_api import expect

    from integrations.actions import check_create_incoming_webhook, do_create_incoming_webhook, post_to_hook

    _ann_page, bob_page = people()
    with outside_playwright_loop():
        hook = do_create_incoming_webhook(check_create_incoming_webhook(ann, group_room.id, "Deploys"), "http://x")
        post_to_hook(hook["url"].rstrip("/").rsplit("/", 1)[1], {"text": "Build 42 passed", "username": "CI"})

    message = bob_page.message("Build 42 passed")
    expect(message.locator(".sender")).to_have_text("CI")
    expect(message.get_by_test_id("bot-tag")).to_be_visible()
    expect(message.get_by_test_id("bot-tag")).to_have_text("bot")
    bob_page.send("thanks, CI")
    expect(bob_page.message("thanks, CI").get_by_test_id("bot-tag")).to_be_hidden()
    # A fresh page renders the same from the server's markup.
    bob_page.page.reload()
    reloaded = bob_page.message("Build 42 passed")
    expect(reloaded.locator(".sender")).to_have_text("CI")
    expect(reloaded.get_by_test_id("bot-tag")).to_be_visible()
    bob_page.assert_no_script_errors()


def test_a_timeline_line_is_a_quiet_centred_line_without_sender_or_toolbar(people, group_room, ann, cat):
    from playwright.sync_api import expect

    from chat import actions

    ann_page, bob_page = people()
    with outside_playwright_loop():
        actions.add_member(ann, group_room.id, cat.id)
    line = bob_page.page.locator('[data-testid="message"].system', has_text="Ann added Cat")
    expect(line).to_have_count(1)
    expect(line.locator(".avatar")).to_be_hidden()
    expect(line.locator(".sender")).to_be_hidden()
    assert line.locator(".message-actions").count() == 0
    expect(line.locator(".message-body")).to_have_css("text-align", "center")
    bob_page.page.reload()
    reloaded = bob_page.page.locator('[data-testid="message"].system', has_text="Ann added Cat")
    expect(reloaded.locator(".sender")).to_be_hidden()
    expect(reloaded.locator(".message-body")).to_have_css("text-align", "center")
    ann_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_the_emoji_picker_searches_the_whole_table_and_remembers_recent_picks(people):
    from playwright.sync_api import expect

    ann, bob = people()
    bob.send("we shipped")
    message = ann.message("we shipped")
    message.hover()
    message.get_by_test_id("react-button").click()
    picker = ann.page.locator(".emoji-picker")
    expect(picker.get_by_test_id("emoji-section")).to_have_text(["Frequent", "All"])
    picker.get_by_test_id("emoji-search").fill("tada")
    expect(picker.get_by_test_id("emoji-option").first).to_have_attribute("data-emoji", "🎉")
    picker.get_by_test_id("emoji-search").press("Enter")

    expect(picker).to_be_hidden()
    for someone in (ann, bob):
        expect(someone.message("we shipped").get_by_test_id("reaction")).to_have_attribute("data-emoji", "🎉")
    message.hover()
    message.get_by_test_id("react-button").click()
    expect(picker.get_by_test_id("emoji-section")).to_have_text(["Recent", "Frequent", "All"])
    expect(picker.locator(".emoji-row").first.get_by_test_id("emoji-option")).to_have_count(1)
    expect(picker.get_by_test_id("emoji-option").first).to_have_attribute("data-emoji", "🎉")
    picker.get_by_test_id("emoji-search").fill("no such emoji at all")
    expect(picker.locator(".emoji-empty")).to_have_text("No emoji found.")
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_keyboard_user_keeps_the_focused_emoji_when_the_table_arrives_late(people):
    from playwright.sync_api import expect

    ann, bob = people()
    held = []  # the table's answer waits until the focus is in the grid
    ann.page.route("**/api/v1/emoji/", lambda route: held.append(route))
    bob.send("we shipped")
    message = ann.message("we shipped")
    message.hover()
    message.get_by_test_id("react-button").click()
    options = ann.page.locator(".emoji-picker").get_by_test_id("emoji-option")
    expect(options.first).to_be_focused()
    ann.page.keyboard.press("ArrowRight")
    second = options.nth(1)
    expect(second).to_be_focused()
    focused_emoji = second.get_attribute("data-emoji")

    ann.page.wait_for_function("() => true")  # let the route handler record the request
    assert len(held) == 1
    held[0].continue_()
    expect(ann.page.locator(".emoji-picker").get_by_test_id("emoji-section")).to_have_text(["Frequent", "All"])

    expect(ann.page.locator(f'.emoji-picker [data-emoji="{focused_emoji}"]')).to_be_focused()
    ann.page.keyboard.press("Enter")
    expect(message.get_by_test_id("reaction")).to_have_attribute("data-emoji", focused_emoji)
    ann.assert_no_script_errors()
