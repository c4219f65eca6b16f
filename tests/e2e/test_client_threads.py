"""Threads in the browser: two people reply in a thread, live, and the Threads list shows unread replies."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_chat_browser import chromium, people, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)


def test_two_people_reply_in_a_thread_live_and_the_threads_list_shows_unread_replies(people):  # noqa: F811
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Which release do we ship?")
    root = bob.message("Which release do we ship?")
    expect(root).to_have_count(1)
    root.hover()
    root.locator('[data-testid="thread-button"]').click()
    bob_panel = bob.page.locator('[data-testid="thread-panel"]')
    expect(bob_panel).to_be_visible()
    expect(bob_panel.locator('[data-testid="message-body"]')).to_have_text(["Which release do we ship?"])
    bob_reply = bob.page.locator('[data-testid="thread-composer"]')
    bob_reply.fill("v2.1, tagged this morning")
    bob_reply.press("Enter")
    expect(bob_panel.locator('[data-testid="message-body"]')).to_have_text(
        ["Which release do we ship?", "v2.1, tagged this morning"]
    )

    # Ann's root says how many replies and when; the replies stay out of the room's timeline.
    summary = ann.message("Which release do we ship?").locator('[data-testid="thread-summary"]')
    expect(summary).to_have_text(re.compile(r"^1 reply · last reply just now$"))
    expect(ann.messages()).to_have_count(1)
    summary.click()
    ann_panel = ann.page.locator('[data-testid="thread-panel"]')
    expect(ann_panel).to_contain_text("v2.1, tagged this morning")
    ann.page.locator('[data-testid="thread-composer"]').fill("Agreed")
    ann.page.locator('[data-testid="thread-composer"]').press("Enter")
    expect(bob_panel.locator('[data-testid="message-body"]')).to_have_text(
        ["Which release do we ship?", "v2.1, tagged this morning", "Agreed"]
    )  # live on the other side
    bob_timeline = bob.page.locator("#messages")
    expect(bob_timeline.locator('[data-testid="thread-summary"]')).to_contain_text("2 replies")
    expect(bob_timeline.locator('[data-testid="message"]')).to_have_count(1)

    # Ann closes the thread; Bob replies again: the Threads list shows it unread.
    ann.page.locator("#thread-close").click()
    bob_reply.fill("Shipping at five")
    bob_reply.press("Enter")
    badge = ann.page.locator('[data-testid="threads-unread"]')
    expect(badge).to_have_text("1")
    ann.page.locator('[data-testid="threads-button"]').click()
    item = ann.page.locator('[data-testid="thread-item"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Which release do we ship?")
    expect(item.locator('[data-testid="thread-item-counts"]')).to_contain_text("3 replies · 1 unread")
    item.locator("a").click()
    ann.expect_online()
    expect(ann.page.locator('[data-testid="thread-panel"]')).to_contain_text("Shipping at five")
    expect(ann.page.locator('[data-testid="threads-unread"]')).to_be_hidden()  # opened: read
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()
