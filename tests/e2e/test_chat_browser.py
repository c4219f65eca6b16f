"""The chat in a real browser: two people, two browser contexts, one real server process.

Chromium (Debian's, /usr/bin/chromium) is driven by Playwright against a daphne
process started on the test database, so the page, its scripts, the session
cookie, the WebSocket and the REST calls all go through the real ASGI stack.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator

import pytest

from tests.conftest import PROJECT_DIR, ServerProcess, launch_server
from tests.e2e.browser import SharedBrowser, outside_playwright_loop

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
ARTIFACTS = PROJECT_DIR / "tests" / "artifacts"
SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
# Generous: these machines run several test suites on two cores at once. A passing
# step takes well under a second; the limit only bounds how long a failure waits.
TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def _expect_timeout() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def chromium() -> Iterator[SharedBrowser]:
    """One browser for the module; each person gets a fresh context (a separate cookie jar),
    closed when the test's call ends (see tests/e2e/conftest.py)."""
    shared = SharedBrowser()
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """One daphne process for the module, on the test database (the ``start_server`` recipe).

    Module-scoped to keep the browser tests fast: every test makes its own
    users and rooms, and the database is emptied after each one.
    """
    # A visitor registers through the page here; self-registration is off by default unless DEBUG.
    server_process = launch_server(tmp_path_factory.mktemp("server"), extra_env={"REGISTRATION_OPEN": "1"})
    try:
        yield server_process
    finally:
        server_process.stop()


class Person:
    """A signed-in browser context of one user, with its page and the page's console errors."""

    def __init__(self, browser, server, user, *, viewport=None) -> None:
        self.user = user
        self.server = server
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        browser.watch(server, user)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_in(self, then: str = "/") -> None:
        """Through the sign-in form, as a person would; lands on ``then``."""
        self.page.goto(f"{self.server.http_url}/accounts/login/?next={then}")
        self.page.fill("input[name=username]", self.user.username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.server.http_url}{then}")

    def open_room(self, room_id: int) -> None:
        self.sign_in(then=f"/rooms/{room_id}/")
        self.expect_online()

    def expect_online(self) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator('[data-testid="connection"]')).to_have_attribute("data-state", "online")

    def send(self, text: str) -> None:
        composer = self.page.locator('textarea[data-testid="composer"]')
        composer.fill(text)
        composer.press("Enter")

    def messages(self):
        return self.page.locator('[data-testid="message"]')

    def message(self, text: str):
        """The message whose body reads exactly ``text``."""
        body = self.page.locator('[data-testid="message-body"]', has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))
        return self.page.locator('[data-testid="message"]', has=body)

    def bodies(self) -> list[str]:
        return [body.strip() for body in self.page.locator('[data-testid="message-body"]').all_inner_texts()]

    def assert_no_script_errors(self) -> None:
        """No CSP violation, no uncaught exception, no failed module load."""
        assert self.errors == [], self.errors


@pytest.fixture
def people(group_room, ann, bob, server, chromium):
    """Ann and Bob signed in, each in their own context, both in the General room."""

    def open_people(*, viewport=None) -> tuple[Person, Person]:
        pair = (Person(chromium, server, ann, viewport=viewport), Person(chromium, server, bob, viewport=viewport))
        for someone in pair:
            someone.open_room(group_room.id)
        return pair

    return open_people


@pytest.fixture
def person(server, chromium):
    """Open a signed-in browser context for a user."""

    def open_person(user, *, then: str = "/") -> Person:
        someone = Person(chromium, server, user)
        someone.sign_in(then=then)
        someone.expect_online()
        return someone

    return open_person


def go_offline(person: Person) -> None:
    """Cut the network and the socket: the page must notice and say so."""
    from playwright.sync_api import expect

    person.context.set_offline(True)
    expect(person.page.locator('[data-testid="connection"]')).to_have_attribute("data-state", "offline")


def go_online(person: Person) -> None:
    person.context.set_offline(False)
    person.expect_online()


def test_a_message_ann_sends_appears_for_bob_without_reload(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Hello **Bob** <script>alert(1)</script>")

    expect(bob.message("Hello Bob <script>alert(1)</script>")).to_have_count(1)
    expect(ann.message("Hello Bob <script>alert(1)</script>")).to_have_count(1)
    # Markdown renders from the server's sanitised HTML; the tag stays text.
    assert bob.page.locator('[data-testid="message-body"] strong').inner_text() == "Bob"
    assert bob.page.locator('[data-testid="message-body"] script').count() == 0
    expect(bob.page.locator("#live-region")).to_contain_text("Ann: Hello Bob <script>alert(1)</script>")
    message = bob.messages().last
    assert message.get_attribute("data-seq") == "1"
    assert message.get_attribute("data-message-id").isdigit()
    bob.assert_no_script_errors()
    ann.assert_no_script_errors()


def test_enter_sends_and_shift_enter_starts_a_new_line(group_room, ann, person):
    from playwright.sync_api import expect

    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    composer = ann_page.page.locator('textarea[data-testid="composer"]')
    composer.press_sequentially("first line")
    composer.press("Shift+Enter")
    composer.press_sequentially("second line")
    expect(ann_page.messages()).to_have_count(0)
    composer.press("Enter")
    expect(ann_page.messages()).to_have_count(1)
    assert ann_page.bodies() == ["first line\nsecond line"]
    expect(composer).to_have_value("")
    expect(composer).to_be_focused()


def test_bob_reacts_and_ann_sees_the_count(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Lunch at noon?")
    message = bob.message("Lunch at noon?")
    expect(message).to_have_count(1)

    message.hover()
    message.locator('[data-testid="react-button"]').click()
    bob.page.locator('[data-testid="emoji-option"][data-emoji="👍"]').click()

    reaction = ann.message("Lunch at noon?").locator('[data-testid="reaction"][data-emoji="👍"]')
    expect(reaction.locator('[data-testid="reaction-count"]')).to_have_text("1")
    expect(reaction).to_have_attribute("aria-pressed", "false")
    expect(bob.message("Lunch at noon?").locator('[data-testid="reaction"][data-emoji="👍"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    # Ann adds hers by clicking the chip: both see 2.
    reaction.click()
    expect(bob.message("Lunch at noon?").locator('[data-testid="reaction-count"]')).to_have_text("2")


def test_bob_reports_anns_message_to_the_moderators(people, group_room):
    from playwright.sync_api import expect

    from moderation.models import Report

    ann, bob = people()
    ann.send("Buy cheap watches here")
    message = bob.message("Buy cheap watches here")
    expect(message).to_have_count(1)
    expect(ann.message("Buy cheap watches here").locator('[data-testid="report-button"]')).to_have_count(0)

    message.hover()
    message.locator('[data-testid="report-button"]').click()
    bob.page.locator('[data-testid="report-reason"]').fill("spam")
    bob.page.locator('[data-testid="confirm-report"]').click()

    expect(bob.page.locator(".toast")).to_contain_text("Reported")
    with outside_playwright_loop():
        report = Report.objects.get()
        assert (report.reporter.username, report.reason, report.message.body) == (
            "bob",
            "spam",
            "Buy cheap watches here",
        )


def test_an_edit_and_a_delete_show_on_both_sides(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("The meeting is at 3")
    ann.send("Second thought")
    expect(bob.messages()).to_have_count(2)

    first = ann.message("The meeting is at 3")
    first.hover()
    first.locator('[data-testid="edit-button"]').click()
    editor = ann.page.locator('[data-testid="edit-input"]')
    editor.fill("The meeting is at 4")
    editor.press("Enter")

    edited = bob.message("The meeting is at 4")
    expect(edited).to_have_count(1)
    expect(edited.locator('[data-testid="edited"]')).to_be_visible()
    expect(ann.message("The meeting is at 4")).to_have_count(1)

    second = ann.message("Second thought")
    second.hover()
    second.locator('[data-testid="delete-button"]').click()
    ann.page.locator('[data-testid="confirm-delete"]').click()

    expect(bob.message("This message was deleted.")).to_have_count(1)
    expect(ann.message("This message was deleted.")).to_have_count(1)
    expect(bob.messages().filter(has_text="Second thought")).to_have_count(0)
    assert bob.bodies() == ["The meeting is at 4", "This message was deleted."]


def test_typing_shows_on_the_other_side_and_clears(people):
    from playwright.sync_api import expect

    ann, bob = people()
    typing = bob.page.locator('[data-testid="typing"]')
    expect(typing).to_have_text("")

    ann.page.locator('textarea[data-testid="composer"]').press_sequentially("hel")
    expect(typing).to_have_text("Ann is typing")

    ann.page.locator('textarea[data-testid="composer"]').press("Enter")  # sending stops typing
    expect(bob.message("hel")).to_have_count(1)
    expect(typing).to_have_text("")


def _png(width: int = 640, height: int = 480) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (79, 70, 229))
    for x in range(0, width, 40):
        for y in range(0, height, 40):
            if (x // 40 + y // 40) % 2:
                image.paste((236, 72, 153), (x, y, x + 40, y + 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_an_uploaded_image_shows_a_thumbnail_on_both_sides(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.page.locator('[data-testid="file-input"]').set_input_files(
        files=[{"name": "checks.png", "mimeType": "image/png", "buffer": _png()}]
    )
    expect(ann.page.locator('[data-testid="upload-item"]')).to_have_attribute("data-state", "done")
    ann.send("Here is the mock-up")

    for person in (ann, bob):
        message = person.message("Here is the mock-up")
        expect(message).to_have_count(1)
        thumbnail = message.locator('img[data-testid="thumbnail"]')
        expect(thumbnail).to_have_count(1)
        assert re.search(r"/api/v1/uploads/\d+/thumbnail/$", thumbnail.get_attribute("src"))
        expect(thumbnail).to_have_js_property("complete", True)
        assert thumbnail.evaluate("img => img.naturalWidth") == 300  # 640 px wide, at most 300 px
    bob.message("Here is the mock-up").locator(".thumb").click()
    expect(bob.page.locator("#lightbox")).to_be_visible()
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_bob_offline_while_ann_sends_sees_every_missed_message_once_in_order(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("before")
    expect(bob.message("before")).to_have_count(1)

    go_offline(bob)
    missed = [f"missed {n}" for n in range(1, 6)]
    for text in missed:
        ann.send(text)
    expect(ann.messages()).to_have_count(6)
    assert bob.bodies() == ["before"]

    go_online(bob)
    expect(bob.messages()).to_have_count(6)
    assert bob.bodies() == ["before", *missed]
    seqs = [int(s) for s in bob.messages().evaluate_all("nodes => nodes.map(n => n.dataset.seq)")]
    assert seqs == [1, 2, 3, 4, 5, 6]
    # Live delivery goes on after the catch-up, still without duplicates.
    ann.send("after")
    expect(bob.messages()).to_have_count(7)
    assert bob.bodies()[-1] == "after"


def test_a_message_typed_while_offline_is_delivered_once_after_reconnect(people, group_room):
    from playwright.sync_api import expect

    from chat.models import Message

    ann, bob = people()
    go_offline(bob)
    bob.send("written on the train")
    pending = bob.page.locator('[data-testid="pending-message"]')
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Waiting for connection")

    stored = bob.page.evaluate("Object.values(sessionStorage).join()")
    assert "written on the train" in stored  # survives a reload of the tab

    go_online(bob)
    expect(ann.message("written on the train")).to_have_count(1)
    expect(bob.message("written on the train")).to_have_count(1)
    expect(pending).to_have_count(0)
    with outside_playwright_loop():
        assert Message.objects.filter(room=group_room, body="written on the train").count() == 1
    # The outbox in sessionStorage is empty again: a reload resends nothing.
    bob.page.reload()
    bob.expect_online()
    expect(bob.message("written on the train")).to_have_count(1)
    with outside_playwright_loop():
        assert Message.objects.filter(room=group_room).count() == 1


@pytest.fixture
def one_message(group_room, ann):
    from chat import actions

    actions.send_message(ann, group_room.id, body="rendered by the server")


def test_the_room_page_shows_its_history_before_any_script_runs(one_message, group_room, server, chromium):
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.http_url}/accounts/login/")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server.http_url}/rooms/{group_room.id}/")
        assert page.locator('[data-testid="message-body"]').all_inner_texts() == ["rendered by the server"]
        badge = page.locator(f'[data-testid="room"][data-room-id="{group_room.id}"] [data-testid="unread"]')
        assert badge.inner_text() == "1"
    finally:
        context.close()


def _mockup_png() -> bytes:
    """A small wireframe drawing, so the screenshots show a real-looking image attachment."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (960, 600), (238, 242, 255))
    draw = ImageDraw.Draw(image)
    for y in range(600):
        draw.line([(0, y), (960, y)], fill=(99 + y // 12, 102 + y // 20, 241 - y // 10))
    draw.rounded_rectangle((80, 70, 880, 530), radius=28, fill=(255, 255, 255))
    draw.rounded_rectangle((120, 110, 360, 490), radius=18, fill=(30, 33, 64))
    for row in range(5):
        draw.rounded_rectangle((140, 140 + row * 64, 340, 180 + row * 64), radius=10, fill=(63, 66, 110))
    for row in range(3):
        width = 420 if row % 2 else 300
        draw.rounded_rectangle((400, 130 + row * 90, 400 + width, 190 + row * 90), radius=16, fill=(224, 231, 255))
    draw.rounded_rectangle((400, 450, 840, 490), radius=14, fill=(79, 70, 229))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def conversation(group_room, ann, bob, cat):
    """A realistic conversation for the screenshots, written through the actions."""
    from chat import actions
    from uploads.actions import create_upload

    actions.add_member(ann, group_room.id, cat.id)

    def say(user, body, **extra):
        return actions.send_message(user, group_room.id, body=body, **extra)[0]

    first = say(ann, "Morning all! The **release candidate** is up on staging.")
    say(ann, "Could someone give the new upload flow a spin?")
    reply = say(bob, "On it. Uploads feel much snappier now.", reply_to=first["id"])
    say(cat, "Found one edge case with huge PNGs, here's the guard I'd add:")
    say(cat, "```python\nif image.width * image.height > MAX_PIXELS:\n    raise too_large('Image too large')\n```")
    mockup = create_upload(bob, io.BytesIO(_mockup_png()), "empty-state.png")
    say(bob, "Nice catch @cat :) And here's the new empty state:", attachments=[mockup.id])
    last = say(ann, "Love it. Shipping after lunch 🚀")
    actions.set_reaction(ann, reply["id"], "🎉", True)
    actions.set_reaction(cat, reply["id"], "🎉", True)
    actions.set_reaction(bob, first["id"], "👍", True)
    actions.set_reaction(cat, last["id"], "🙌", True)
    actions.set_pinned(ann, first["id"], True)
    other = actions.create_group_room(bob, name="design", topic="Pixels and people", members=[ann.id])
    actions.send_message(bob, other["id"], body="New mock-ups are in the drive")
    actions.get_or_create_direct_room(ann, cat.id)


def test_screenshots_of_the_room_view_at_desktop_and_phone_width(conversation, group_room, ann, bob, server, chromium):
    """Artifacts in tests/artifacts/; docs/screenshots/ (shown by the README) is written when missing,
    or on purpose with CONFAB_UPDATE_SCREENSHOTS=1, so test runs do not rewrite a committed file."""
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update_docs = os.environ.get("CONFAB_UPDATE_SCREENSHOTS") == "1"
    bob_page = Person(chromium, server, bob)
    try:
        bob_page.open_room(group_room.id)
        bob_composer = bob_page.page.locator('textarea[data-testid="composer"]')
        viewports = {"room-desktop": {"width": 1280, "height": 800}, "room-phone": {"width": 390, "height": 844}}
        for name, viewport in viewports.items():
            person = Person(chromium, server, ann, viewport=viewport)
            try:
                person.open_room(group_room.id)
                expect(person.messages()).to_have_count(8)  # seven sent, and the "Ann added Cat" line
                expect(person.page.locator('img[data-testid="thumbnail"]')).to_have_js_property("complete", True)
                bob_composer.fill("")  # stops typing, so the next keystroke starts it afresh
                bob_composer.press_sequentially("Sounds good")
                expect(person.page.locator('[data-testid="typing"]')).to_have_text("Bob is typing")
                person.page.locator("#timeline").evaluate("timeline => { timeline.scrollTop = timeline.scrollHeight; }")
                person.page.mouse.move(0, 0)
                person.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
                target = SCREENSHOTS / f"{name}.png"
                if update_docs or not target.exists():
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    person.page.screenshot(path=str(target))
                person.assert_no_script_errors()
            finally:
                person.context.close()
    finally:
        bob_page.context.close()


def test_a_dropped_socket_reconnects_by_itself_and_catches_up_once(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("one")
    expect(bob.messages()).to_have_count(1)
    # Not an offline browser: the connection just dies (a proxy timeout, a server restart).
    bob.page.evaluate(
        """() => {
            const client = window.confab.client;
            client.options.backoffBase = 1500; // long enough for Ann to send while Bob is away
            client.socket.close(4000, "test");
        }"""
    )
    expect(bob.page.locator('[data-testid="connection"]')).to_have_attribute("data-state", "offline")
    ann.send("two")
    ann.send("three")
    bob.expect_online()
    expect(bob.messages()).to_have_count(3)
    assert bob.bodies() == ["one", "two", "three"]


def test_the_room_list_counts_unread_live_and_moves_the_busiest_room_up(ann, bob, group_room, person):
    from playwright.sync_api import expect

    from chat import actions

    with outside_playwright_loop():
        design = actions.create_group_room(ann, name="design", members=[bob.id])
    bob_page = person(bob)  # on the room list
    entries = bob_page.page.locator('#room-list-group [data-testid="room"]')
    expect(entries.first).to_have_attribute("data-room-id", str(design["id"]))  # the newest room first

    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    ann_page.send("first")
    ann_page.send("second")

    general = bob_page.page.locator(f'[data-testid="room"][data-room-id="{group_room.id}"]')
    expect(general.locator('[data-testid="unread"]')).to_have_text("2")
    expect(entries.first).to_have_attribute("data-room-id", str(group_room.id))
    expect(general).to_contain_text("Ann: second")
    expect(bob_page.page).to_have_title("(2) Confab")
    expect(bob_page.page.locator(".toast")).to_have_count(2)

    general.locator("a").click()
    bob_page.expect_online()
    expect(general.locator('[data-testid="unread"]')).to_be_hidden()
    expect(bob_page.page).to_have_title("General · Confab")


def test_ann_starts_a_direct_chat_by_searching_and_sees_when_bob_has_read_it(ann, bob, person):
    from playwright.sync_api import expect

    bob_page = person(bob)
    ann_page = person(ann)
    ann_page.page.click('[data-testid="new-direct"]')
    ann_page.page.fill("#direct-search", "bob")  # they share no room: found by the exact username
    ann_page.page.get_by_role("button", name="Message Bob").click()
    ann_page.page.wait_for_url(re.compile(r"/rooms/\d+/$"))
    ann_page.expect_online()
    expect(ann_page.page.locator("#room-title")).to_have_text("Bob")
    ann_page.send("Got a minute?")
    expect(ann_page.page.locator('[data-testid="receipt"]')).to_have_text("Delivered")

    room_id = ann_page.page.url.rstrip("/").rsplit("/", 1)[1]
    entry = bob_page.page.locator(f'#room-list-direct [data-testid="room"][data-room-id="{room_id}"]')
    expect(entry).to_contain_text("Ann")
    expect(entry.locator('[data-testid="unread"]')).to_have_text("1")

    entry.locator("a").click()
    expect(bob_page.message("Got a minute?")).to_have_count(1)
    expect(ann_page.page.locator('[data-testid="receipt"]')).to_have_text("Seen by Bob")

    # Presence: Bob's dot and "last seen" in the header follow his connection.
    last_seen = ann_page.page.locator(f'#room-sub [data-last-seen-user="{bob.id}"]')
    dot = ann_page.page.locator(f'.room-head [data-presence-user="{bob.id}"]')
    expect(last_seen).to_have_text("Online")
    expect(dot).to_have_attribute("data-status", "online")
    bob_page.context.close()
    expect(last_seen).to_have_text("Last seen just now")
    expect(dot).to_have_attribute("data-status", "offline")


@pytest.fixture
def long_history(settings, group_room, ann, bob):
    """70 messages: the first 35 written yesterday, the rest today."""
    from datetime import timedelta

    from django.utils import timezone

    from chat import actions
    from chat.models import Message

    settings.RATE_LIMIT_MESSAGES = 0  # only for writing the fixture in this process
    for n in range(1, 71):
        actions.send_message(ann if n % 3 else bob, group_room.id, body=f"message {n}")
    yesterday = timezone.now() - timedelta(days=1)
    for message in Message.objects.filter(room=group_room, seq__lte=35):
        Message.objects.filter(pk=message.pk).update(created_at=yesterday + timedelta(seconds=message.seq))


def test_scrolling_up_loads_older_history_with_day_separators_and_grouping(long_history, group_room, bob, person):
    from playwright.sync_api import expect

    bob_page = person(bob, then=f"/rooms/{group_room.id}/")
    expect(bob_page.messages()).to_have_count(50)  # the newest page
    assert bob_page.bodies()[-1] == "message 70"

    bob_page.page.locator("#timeline").evaluate("timeline => { timeline.scrollTop = 0; }")
    expect(bob_page.messages()).to_have_count(70)
    assert bob_page.bodies() == [f"message {n}" for n in range(1, 71)]
    expect(bob_page.page.locator(".history-start")).to_be_visible()
    separators = bob_page.page.locator(".day-separator").all_inner_texts()
    assert separators == ["Yesterday", "Today"]
    # Consecutive messages of one sender are grouped (Ann wrote 1 and 2; Bob wrote 3).
    first, second, third = (bob_page.message(f"message {n}") for n in (1, 2, 3))
    expect(first).not_to_have_class(re.compile(r"\bgrouped\b"))
    expect(second).to_have_class(re.compile(r"\bgrouped\b"))
    expect(third).not_to_have_class(re.compile(r"\bgrouped\b"))


def test_files_dropped_on_the_room_or_pasted_into_the_composer_are_sent_together(people):
    from playwright.sync_api import expect

    ann, bob = people()
    dropped = ann.page.evaluate_handle(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["quarterly numbers"], "report.txt", {type: "text/plain"}));
            return transfer;
        }"""
    )
    ann.page.dispatch_event("#room", "dragenter", {"dataTransfer": dropped})
    expect(ann.page.locator("#drop-zone")).to_be_visible()
    ann.page.dispatch_event("#room", "drop", {"dataTransfer": dropped})
    expect(ann.page.locator("#drop-zone")).to_be_hidden()
    # A screenshot pasted from the clipboard.
    ann.page.locator('textarea[data-testid="composer"]').evaluate(
        """(composer, bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "pasted.png", {type: "image/png"}));
            const paste = new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true});
            composer.dispatchEvent(paste);
        }""",
        list(_png(120, 90)),
    )
    items = ann.page.locator('[data-testid="upload-item"]')
    expect(items).to_have_count(2)
    for n in range(2):
        expect(items.nth(n)).to_have_attribute("data-state", "done")
    ann.page.locator('textarea[data-testid="composer"]').press("Enter")  # attachments alone make a message

    for person in (ann, bob):
        message = person.messages()
        expect(message).to_have_count(1)
        card = message.locator('[data-testid="file-card"]')
        expect(card).to_contain_text("report.txt")
        assert re.search(r"/api/v1/uploads/\d+/download/$", card.get_attribute("href"))
        expect(message.locator('img[data-testid="thumbnail"]')).to_have_count(1)
    expect(items).to_have_count(0)


def test_a_reply_quotes_its_parent_on_both_sides_and_jumps_to_it(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Which **colour** for the button?")
    parent = bob.message("Which colour for the button?")
    expect(parent).to_have_count(1)
    parent.hover()
    parent.locator('[data-testid="reply-button"]').click()
    expect(bob.page.locator("#reply-bar")).to_contain_text("Replying to Ann")
    bob.send("Indigo")

    for person in (ann, bob):
        quote = person.message("Indigo").locator('[data-testid="reply-quote"]')
        expect(quote).to_have_text("AnnWhich colour for the button?")
    expect(bob.page.locator("#reply-bar")).to_be_hidden()
    ann.message("Indigo").locator('[data-testid="reply-quote"]').click()
    expect(ann.message("Which colour for the button?")).to_be_focused()


def test_a_pinned_message_is_marked_on_both_sides_and_listed_in_the_pins_panel(people):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.send("Deploy checklist: tests, migrate, smoke")
    message = bob.message("Deploy checklist: tests, migrate, smoke")
    message.hover()
    message.locator('[data-testid="pin-button"]').click()

    expect(ann.message("Deploy checklist: tests, migrate, smoke")).to_have_class(re.compile(r"\bpinned\b"))
    expect(message).to_contain_text("Pinned")
    ann.page.click("#pins-button")
    expect(ann.page.locator("#pins-list li")).to_have_count(1)
    expect(ann.page.locator("#pins-list")).to_contain_text("Deploy checklist: tests, migrate, smoke")


def test_a_mention_lights_the_bell_and_the_notification_centre_marks_it_read(ann, bob, group_room, person):
    from playwright.sync_api import expect

    ann_page = person(ann)  # on the room list, not reading General
    bob_page = person(bob, then=f"/rooms/{group_room.id}/")
    bob_page.send("@ann can you review the deck?")

    bell = ann_page.page.locator('[data-testid="notifications-unread"]')
    expect(bell).to_have_text("1")
    ann_page.page.click("#notif-button")
    item = ann_page.page.locator('[data-testid="notification"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Bob mentioned you in #General")
    expect(item).to_contain_text("@ann can you review the deck?")
    ann_page.page.click("#notif-read-all")
    expect(bell).to_be_hidden()
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))


def test_a_visitor_registers_through_the_page_and_lands_in_the_app_online(server, chromium):
    from playwright.sync_api import expect

    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.http_url}/")
        page.wait_for_url(re.compile(r"/accounts/login/\?next=/$"))  # signed-out visitors go to sign-in
        page.get_by_role("link", name="Create one").click()
        page.fill("input[name=username]", "dana")
        page.fill("input[name=display_name]", "Dana Scully")
        page.fill("input[name=password1]", "trust-no-one-1013")
        page.fill("input[name=password2]", "trust-no-one-1013")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{server.http_url}/")
        expect(page.get_by_role("heading", name="Hi Dana Scully")).to_be_visible()
        expect(page.locator('[data-testid="connection"]')).to_have_attribute("data-state", "online")
    finally:
        context.close()


def test_a_public_room_made_in_the_dialog_is_found_and_joined_by_someone_else(ann, bob, person):
    from playwright.sync_api import expect

    ann_page = person(ann)
    ann_page.page.click('[data-testid="new-room"]')
    ann_page.page.fill("#new-room-form input[name=name]", "book-club")
    ann_page.page.fill("#new-room-form input[name=topic]", "One chapter a week")
    ann_page.page.check("#new-room-form input[name=is_public]")
    ann_page.page.get_by_role("button", name="Create room").click()
    ann_page.page.wait_for_url(re.compile(r"/rooms/\d+/$"))
    ann_page.expect_online()
    expect(ann_page.page.locator("#room-title")).to_have_text("book-club")
    expect(ann_page.page.locator("#room-sub")).to_have_text("1 member · One chapter a week")

    bob_page = person(bob)
    bob_page.page.click('[data-testid="browse-rooms"]')
    bob_page.page.get_by_role("button", name="Join book-club").click()
    bob_page.page.wait_for_url(ann_page.page.url)
    bob_page.expect_online()
    expect(bob_page.page.locator('#room-list-group [data-testid="room"]')).to_contain_text(["book-club"])
    expect(ann_page.page.locator("#room-sub")).to_have_text("2 members · One chapter a week")  # live


def test_an_upload_in_progress_shows_its_progress_and_can_be_cancelled(people):
    from playwright.sync_api import expect

    ann, bob = people()
    held = []
    ann.page.route("**/api/v1/uploads/", lambda route: held.append(route))  # the server never answers
    ann.page.locator('[data-testid="file-input"]').set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": _png()}]
    )
    item = ann.page.locator('[data-testid="upload-item"]')
    expect(item).to_have_attribute("data-state", "uploading")
    expect(item.get_by_role("progressbar")).to_be_visible()
    ann.send("nothing attached")
    expect(ann.page.locator(".toast")).to_contain_text("Still uploading")  # not sent while uploading
    expect(ann.messages()).to_have_count(0)

    item.locator('[data-testid="upload-cancel"]').click()
    expect(item).to_have_count(0)
    ann.page.locator('textarea[data-testid="composer"]').press("Enter")
    expect(bob.message("nothing attached")).to_have_count(1)
    expect(bob.page.locator('[data-testid="message"] .attachments')).to_have_count(0)
    assert len(held) == 1


def test_a_hidden_tab_raises_a_desktop_notification_when_permitted(group_room, ann, bob, person):
    from playwright.sync_api import expect

    bob_page = person(bob, then=f"/rooms/{group_room.id}/")
    # The tab goes to the background; the browser's Notification is recorded instead of shown.
    bob_page.page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
            window.shown = [];
            window.Notification = class {
                static permission = "granted";
                constructor(title, options) { window.shown.push({ title, body: options.body, tag: options.tag }); }
                addEventListener() {}
            };
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    ann_page.send("Are you there?")
    expect(bob_page.message("Are you there?")).to_have_count(1)
    bob_page.page.wait_for_function("window.shown.length > 0")
    shown = bob_page.page.evaluate("window.shown")
    assert shown == [{"title": "Ann in #General", "body": "Are you there?", "tag": f"room-{group_room.id}"}]
    expect(bob_page.page).to_have_title("(1) General · Confab")  # unread while hidden, though the room is open

    bob_page.page.evaluate(
        """() => {
            Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    expect(bob_page.page).to_have_title("General · Confab")  # back in front: read


def test_the_keyboard_alone_reaches_a_message_and_reacts_to_it(group_room, ann, person):
    from playwright.sync_api import expect

    ann_page = person(ann, then=f"/rooms/{group_room.id}/")
    ann_page.send("first")
    ann_page.send("second")
    expect(ann_page.messages()).to_have_count(2)

    keyboard = ann_page.page.keyboard
    ann_page.page.locator("#timeline").focus()
    keyboard.press("ArrowUp")  # the newest message
    keyboard.press("ArrowUp")
    expect(ann_page.message("first")).to_be_focused()
    keyboard.press("Tab")
    expect(ann_page.message("first").locator('[data-testid="react-button"]')).to_be_focused()
    keyboard.press("Enter")
    expect(ann_page.page.locator('[data-testid="emoji-option"]').first).to_be_focused()
    keyboard.press("ArrowRight")
    keyboard.press("Enter")  # ❤️
    reaction = ann_page.message("first").locator('[data-testid="reaction"]')
    expect(reaction).to_have_attribute("data-emoji", "❤️")
    expect(reaction).to_have_attribute("aria-pressed", "true")
    expect(ann_page.message("first").locator('[data-testid="react-button"]')).to_be_focused()  # focus stays put
