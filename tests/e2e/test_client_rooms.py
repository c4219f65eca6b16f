"""Browser tests of "Rooms and people" in the room page: room settings for admins, the members panel.

Same machinery as test_chat_browser.py (its Person helper and fixtures): Ann owns the private
General room, Bob is a member; each test makes its own users and rooms.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import outside_playwright_loop
from tests.e2e.test_chat_browser import (  # noqa: F401 (fixtures)
    Person,
    _expect_timeout,
    chromium,
    people,
    server,
)
from tests.e2e.test_client_screenshots import shoot

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000


def room_fields(room_id: int) -> dict:
    from chat.models import Room

    with outside_playwright_loop():
        return Room.objects.filter(pk=room_id).values("name", "topic", "is_public", "members_can_pin", "archived")[0]


def test_a_room_admin_renames_the_room_and_the_other_member_sees_it_live(people, group_room):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.page.get_by_test_id("room-settings-button").click()
    dialog = ann.page.get_by_test_id("room-settings-dialog")
    expect(dialog.get_by_test_id("room-settings-name")).to_have_value("General")
    dialog.get_by_test_id("room-settings-name").fill("Hall")
    dialog.get_by_test_id("room-settings-topic").fill("Plans for the week")
    dialog.get_by_test_id("room-settings-save").click()
    expect(dialog).to_be_hidden()

    for someone in (ann, bob):
        expect(someone.page.locator("#room-title")).to_have_text("Hall")
        expect(someone.page.locator("#room-sub")).to_have_text("2 members · Plans for the week")
        expect(someone.messages().last).to_contain_text("Ann renamed the room to Hall")
    assert room_fields(group_room.id) == {
        "name": "Hall",
        "topic": "Plans for the week",
        "is_public": False,
        "members_can_pin": True,
        "archived": False,
    }
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_room_admin_makes_the_room_public_and_lets_only_admins_pin(people, group_room):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.page.get_by_test_id("room-settings-button").click()
    dialog = ann.page.get_by_test_id("room-settings-dialog")
    dialog.get_by_test_id("room-settings-public").check()
    dialog.get_by_test_id("room-settings-members-can-pin").uncheck()
    dialog.get_by_test_id("room-settings-save").click()
    expect(dialog).to_be_hidden()
    expect(ann.page.locator(".toast", has_text="Room settings saved")).to_be_visible()

    assert room_fields(group_room.id) == {
        "name": "General",
        "topic": "",
        "is_public": True,
        "members_can_pin": False,
        "archived": False,
    }
    # Bob's page holds the new rule from room_updated.
    bob.page.wait_for_function(f"() => window.confab.store.getState().rooms[{group_room.id}].members_can_pin === false")
    ann.page.get_by_test_id("room-settings-button").click()
    expect(dialog.get_by_test_id("room-settings-public")).to_be_checked()
    expect(dialog.get_by_test_id("room-settings-members-can-pin")).not_to_be_checked()
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_member_who_is_not_an_admin_has_no_room_settings(people):
    from playwright.sync_api import expect

    ann, bob = people()
    expect(ann.page.get_by_test_id("room-settings-button")).to_be_visible()
    expect(ann.page.get_by_test_id("invite-links")).to_be_visible()
    expect(bob.page.get_by_test_id("room-settings-button")).to_be_hidden()
    expect(bob.page.get_by_test_id("invite-links")).to_be_hidden()
    expect(bob.page.get_by_test_id("room-settings-dialog")).to_be_hidden()
    bob.assert_no_script_errors()


def test_an_empty_name_is_refused_with_the_servers_message_and_nothing_changes(people, group_room):
    from playwright.sync_api import expect

    ann, _bob = people()
    ann.page.get_by_test_id("room-settings-button").click()
    dialog = ann.page.get_by_test_id("room-settings-dialog")
    # Spaces pass the browser's `required` check; the server names the rule.
    dialog.get_by_test_id("room-settings-name").fill("   ")
    dialog.get_by_test_id("room-settings-save").click()
    expect(dialog.get_by_test_id("room-settings-error")).to_have_text("`name` must not be empty.")
    expect(dialog).to_be_visible()
    assert room_fields(group_room.id)["name"] == "General"
    # Chromium logs the refused request itself; nothing else went wrong.
    assert ann.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]


def test_the_owner_archives_the_room_and_both_leave_it(people, group_room):
    from playwright.sync_api import expect

    ann, bob = people()
    ann.page.get_by_test_id("room-settings-button").click()
    dialog = ann.page.get_by_test_id("room-settings-dialog")
    expect(dialog.get_by_test_id("room-archive")).to_be_hidden()
    dialog.get_by_test_id("room-archive-ask").click()
    dialog.get_by_test_id("room-archive").click()

    ann.page.wait_for_url(f"{ann.server.http_url}/")
    expect(bob.page.locator(".toast", has_text="You are no longer in this room")).to_be_visible()
    bob.page.wait_for_url(f"{bob.server.http_url}/")
    assert room_fields(group_room.id)["archived"] is True
    expect(bob.page.locator(f'[data-room-id="{group_room.id}"]')).to_have_count(0)
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def open_members(someone: Person):
    from playwright.sync_api import expect

    someone.page.get_by_test_id("members-button").click()
    expect(someone.page.locator("#members-panel")).to_be_visible()
    return someone.page.locator("#members-panel")


def member_names(panel) -> list[str]:
    return [text.strip() for text in panel.locator('[data-testid="member"] strong').all_inner_texts()]


def test_an_admin_adds_someone_found_by_name_and_the_other_member_sees_them_join(people, cat, group_room):
    from playwright.sync_api import expect

    ann, bob = people()
    ann_panel, bob_panel = open_members(ann), open_members(bob)
    ann_panel.get_by_test_id("member-add-search").fill("cat")
    ann_panel.get_by_role("button", name="Add Cat").click()

    expect(ann_panel.get_by_test_id("member-add-search")).to_have_value("")
    for panel in (ann_panel, bob_panel):
        expect(panel.locator('[data-testid="member"]', has_text="Cat")).to_have_count(1)
    expect(bob.page.locator("#room-sub")).to_have_text("3 members")
    expect(bob.messages().last).to_contain_text("Ann added Cat")
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_member_of_a_private_room_cannot_add_or_remove_people(people):
    from playwright.sync_api import expect

    ann, bob = people()
    bob_panel = open_members(bob)
    expect(bob_panel.locator('[data-testid="member"]')).to_have_count(2)
    expect(bob_panel.get_by_test_id("member-add-search")).to_be_hidden()
    expect(bob_panel.get_by_test_id("member-remove")).to_have_count(0)
    ann_panel = open_members(ann)
    # The owner may remove Bob, and nobody removes themself.
    expect(ann_panel.get_by_test_id("member-remove")).to_have_count(1)
    expect(ann_panel.get_by_role("button", name="Remove Bob from the room")).to_be_visible()
    bob.assert_no_script_errors()


def test_an_admin_removes_a_member_who_is_taken_out_of_the_room(people, group_room):
    from playwright.sync_api import expect

    ann, bob = people()
    ann_panel = open_members(ann)
    ann_panel.get_by_role("button", name="Remove Bob from the room").click()

    expect(ann_panel.locator('[data-testid="member"]')).to_have_count(1)
    assert member_names(ann_panel) == ["Ann (you)"]
    expect(ann.messages().last).to_contain_text("Ann removed Bob")
    expect(bob.page.locator(".toast", has_text="You are no longer in this room")).to_be_visible()
    bob.page.wait_for_url(f"{bob.server.http_url}/")
    ann.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_the_owner_leaves_and_the_room_passes_to_the_remaining_member(people, group_room, bob):
    from playwright.sync_api import expect

    from chat.models import RoomMember

    ann, bob_page = people()
    ann_panel = open_members(ann)
    ann_panel.get_by_test_id("leave-room").click()
    expect(ann_panel.locator("#leave-note")).to_have_text(
        "You own this room: an admin, else its longest-standing member, becomes its owner when you leave."
    )
    ann_panel.get_by_test_id("leave-room-confirm").click()

    ann.page.wait_for_url(f"{ann.server.http_url}/")
    expect(ann.page.locator(f'[data-room-id="{group_room.id}"]')).to_have_count(0)
    bob_panel = open_members(bob_page)
    expect(bob_panel.locator('[data-testid="member"]')).to_have_count(1)
    expect(bob_page.messages().last).to_contain_text("Ann left")
    with outside_playwright_loop():
        assert list(RoomMember.objects.filter(room=group_room).values_list("user_id", "role")) == [(bob.id, "owner")]
    ann.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_the_owner_makes_bob_an_admin_and_bobs_panel_grows_the_admin_controls(people, ann, bob, cat, group_room):
    from playwright.sync_api import expect

    from chat import actions
    from chat.models import RoomMember

    with outside_playwright_loop():
        actions.add_member(ann, group_room.id, cat.id)
    ann_page, bob_page = people()
    bob_panel, ann_panel = open_members(bob_page), open_members(ann_page)
    expect(bob_panel.get_by_test_id("member-add-search")).to_be_hidden()
    expect(bob_panel.get_by_test_id("member-role")).to_have_count(0)
    expect(ann_panel.get_by_test_id("member-role")).to_have_count(2)  # Bob and Cat; never the owner
    shoot(ann_page, "member-roles-desktop")

    ann_panel.get_by_role("button", name="Make Bob an admin").click()

    bob_row = bob_panel.locator('[data-testid="member"]', has_text="Bob (you)")
    expect(bob_row.get_by_test_id("role-badge")).to_have_text("admin")
    expect(bob_panel.get_by_test_id("member-add-search")).to_be_visible()
    expect(bob_panel.get_by_role("button", name="Remove Cat from the room")).to_be_visible()
    expect(bob_panel.get_by_role("button", name="Make Cat an admin")).to_be_visible()
    expect(bob_row.get_by_role("button", name="Step down as admin")).to_be_visible()
    expect(bob_panel.get_by_role("button", name="Remove Ann from the room")).to_have_count(0)
    expect(bob_page.messages().last).to_contain_text("Ann made Bob an admin")
    # The header's admin tools appear without a reload, and the settings open.
    expect(bob_page.page.get_by_test_id("invite-links")).to_be_visible()
    bob_page.page.get_by_test_id("room-settings-button").click()
    expect(bob_page.page.get_by_test_id("room-settings-dialog")).to_be_visible()
    bob_page.page.keyboard.press("Escape")
    # An admin deletes anyone's message: the toolbar follows the new role without a reload.
    expect(bob_page.messages().last.locator(".message-actions")).to_have_count(0)  # a timeline line has none
    with outside_playwright_loop():
        actions.send_message(cat, group_room.id, body="cat was here")
    expect(bob_page.message("cat was here").get_by_test_id("delete-button")).to_have_count(1)

    ann_panel.get_by_role("button", name="Make Bob a member again").click()
    expect(bob_row.get_by_test_id("role-badge")).to_have_count(0)
    expect(bob_panel.get_by_test_id("member-add-search")).to_be_hidden()
    expect(bob_panel.get_by_test_id("member-role")).to_have_count(0)
    expect(bob_page.message("cat was here").get_by_test_id("delete-button")).to_have_count(0)
    expect(bob_page.messages().last).to_contain_text("Ann removed Bob as admin")
    expect(bob_page.page.get_by_test_id("room-settings-button")).to_be_hidden()
    expect(bob_page.page.get_by_test_id("invite-links")).to_be_hidden()
    with outside_playwright_loop():
        assert dict(RoomMember.objects.filter(room=group_room).values_list("user__username", "role")) == {
            "ann": "owner",
            "bob": "member",
            "cat": "member",
        }
    ann_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def side_room(ann, bob) -> int:
    from chat import actions

    with outside_playwright_loop():
        return actions.create_group_room(ann, name="Side", members=[bob.id])["id"]


def membership_settings(room_id: int, user) -> tuple[bool, str]:
    from chat.models import RoomMember

    with outside_playwright_loop():
        member = RoomMember.objects.get(room_id=room_id, user=user)
        return member.muted, member.notify_level


def test_a_room_muted_from_the_sidebar_has_a_grey_badge_and_leaves_the_titles_count(people, ann, bob):
    from playwright.sync_api import expect

    from chat import actions

    side = side_room(ann, bob)
    ann_page, _bob_page = people()
    entry = ann_page.page.locator(f'.room-list [data-room-id="{side}"]')
    entry.hover()
    entry.get_by_test_id("room-notify-menu").click()
    menu = ann_page.page.get_by_test_id("notify-menu")
    expect(menu.get_by_test_id("notify-level-all")).to_have_attribute("aria-checked", "true")
    menu.get_by_test_id("notify-mute").click()
    expect(menu).to_be_hidden()
    expect(entry).to_have_class(re.compile(r"\bmuted\b"))
    assert membership_settings(side, ann) == (True, "all")

    with outside_playwright_loop():
        actions.send_message(bob, side, body="quiet news")
    badge = entry.get_by_test_id("unread")
    expect(badge).to_have_text("1")
    expect(ann_page.page).to_have_title("General · Confab")
    sidebar_muted = ann_page.page.evaluate(
        "() => getComputedStyle(document.body).getPropertyValue('--sidebar-muted').trim()"
    )
    assert sidebar_muted == "#8a8db0"
    expect(badge).to_have_css("background-color", "rgb(138, 141, 176)")

    # Unmuted, the room counts again.
    entry.get_by_test_id("room-notify-menu").click()
    expect(menu.get_by_test_id("notify-mute")).to_have_attribute("aria-checked", "true")
    menu.get_by_test_id("notify-mute").click()
    expect(ann_page.page).to_have_title("(1) General · Confab")
    assert membership_settings(side, ann) == (False, "all")
    ann_page.assert_no_script_errors()


def test_a_room_muted_in_one_tab_goes_grey_in_the_users_other_tab_without_reload(people, ann, bob, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    from chat import actions

    side = side_room(ann, bob)
    tab_a, _bob_page = people()
    tab_b = Person(chromium, server, ann)
    tab_b.open_room(side)
    with outside_playwright_loop():
        actions.send_message(bob, side, body="news from the side")
    entry_a = tab_a.page.locator(f'.room-list [data-room-id="{side}"]')
    entry_b = tab_b.page.locator(f'.room-list [data-room-id="{side}"]')
    expect(entry_a.get_by_test_id("unread")).to_have_text("1")
    expect(tab_a.page).to_have_title("(1) General · Confab")

    tab_b.page.get_by_test_id("room-header-notify-menu").click()
    tab_b.page.get_by_test_id("notify-menu").get_by_test_id("notify-mute").click()

    expect(entry_a).to_have_class(re.compile(r"\bmuted\b"))
    expect(tab_a.page).to_have_title("General · Confab")
    # Waited for, not read once: the sidebar redraws the badge as the event lands.
    expect(entry_a.get_by_test_id("unread")).to_have_css("background-color", "rgb(138, 141, 176)")
    expect(entry_b).to_have_class(re.compile(r"\bmuted\b"))
    # And back, from the other tab's sidebar this time.
    entry_a.hover()
    entry_a.get_by_test_id("room-notify-menu").click()
    tab_a.page.get_by_test_id("notify-menu").get_by_test_id("notify-mute").click()
    expect(tab_b.page.get_by_test_id("room-header-notify-menu")).not_to_have_class(re.compile(r"\bmuted\b"))
    expect(entry_b).not_to_have_class(re.compile(r"\bmuted\b"))
    assert membership_settings(side, ann) == (False, "all")
    tab_a.assert_no_script_errors()
    tab_b.assert_no_script_errors()


def test_the_notification_level_is_chosen_from_the_room_header(people, group_room, ann):
    from playwright.sync_api import expect

    ann_page, _bob_page = people()
    ann_page.page.get_by_test_id("room-header-notify-menu").click()
    menu = ann_page.page.get_by_test_id("notify-menu")
    menu.get_by_test_id("notify-level-mentions").click()
    expect(menu).to_be_hidden()
    ann_page.page.wait_for_function(
        f"() => window.confab.store.getState().rooms[{group_room.id}].notify_level === 'mentions'"
    )
    assert membership_settings(group_room.id, ann) == (False, "mentions")

    ann_page.page.get_by_test_id("room-header-notify-menu").click()
    expect(menu.get_by_test_id("notify-level-mentions")).to_have_attribute("aria-checked", "true")
    expect(menu.get_by_test_id("notify-level-all")).to_have_attribute("aria-checked", "false")
    menu.get_by_test_id("notify-mute").click()
    expect(ann_page.page.get_by_test_id("room-header-notify-menu")).to_have_class(re.compile(r"\bmuted\b"))
    assert membership_settings(group_room.id, ann) == (True, "mentions")
    ann_page.assert_no_script_errors()


@pytest.fixture
def maud(make_user, group_room, ann):
    """A moderator (staff with `chat.moderate_messages`) who is a plain member of General."""
    from django.contrib.auth.models import Permission

    from chat import actions

    user = make_user("maud", display_name="Maud", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="moderate_messages", content_type__app_label="chat"))
    actions.add_member(ann, group_room.id, user.id)
    return user


def test_a_moderator_deletes_someone_elses_message_and_removes_a_member(group_room, bob, maud, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    maud_page = Person(chromium, server, maud)
    maud_page.open_room(group_room.id)
    expect(maud_page.page.get_by_test_id("admin-link")).to_have_attribute("href", "/admin/")
    expect(bob_page.page.get_by_test_id("admin-link")).to_have_count(0)

    bob_page.send("something out of line")
    message = maud_page.message("something out of line")
    message.hover()
    message.get_by_test_id("delete-button").click()
    maud_page.page.get_by_test_id("confirm-delete").click()
    expect(bob_page.page.locator(".deleted-note")).to_have_text("This message was deleted.")
    # A plain member has no delete on others' messages, and no moderation tools.
    maud_page.send("moderators watch")
    expect(bob_page.message("moderators watch").get_by_test_id("delete-button")).to_have_count(0)
    expect(bob_page.message("moderators watch").get_by_test_id("mute-sender-button")).to_have_count(0)
    expect(maud_page.message("moderators watch").get_by_test_id("mute-sender-button")).to_have_count(0)  # her own
    bob_page.send("one more thing")
    bobs = maud_page.message("one more thing")
    bobs.hover()
    bobs.get_by_test_id("mute-sender-button").click()
    expect(maud_page.page.locator("#mute-title")).to_have_text("Mute Bob in this room")  # in the chat, no new tab
    maud_page.page.keyboard.press("Escape")
    expect(maud_page.page.locator("#mute-title")).to_be_hidden()

    panel = open_members(maud_page)
    expect(panel.get_by_role("button", name="Mute or unmute Bob in this room (moderation)")).to_be_visible()
    expect(panel.get_by_role("button", name="Mute or unmute Ann in this room (moderation)")).to_have_count(0)
    expect(panel.get_by_role("button", name="Remove Ann from the room")).to_have_count(0)  # the owner
    panel.get_by_role("button", name="Remove Bob from the room").click()
    expect(bob_page.page.locator(".toast", has_text="You are no longer in this room")).to_be_visible()
    expect(panel.locator('[data-testid="member"]')).to_have_count(2)
    maud_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_a_moderator_restores_a_deleted_message_and_bob_sees_it_return(group_room, bob, maud, server, chromium):  # noqa: F811
    from playwright.sync_api import expect

    from chat import actions
    from moderation.models import AuditLog

    with outside_playwright_loop():
        sent, _ = actions.send_message(bob, group_room.id, body="the plan, on second thought")
        actions.delete_message(bob, sent["id"])
    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    maud_page = Person(chromium, server, maud)
    maud_page.open_room(group_room.id)
    gone = f'[data-testid="message"][data-message-id="{sent["id"]}"]'
    expect(bob_page.page.locator(gone).locator(".deleted-note")).to_have_text("This message was deleted.")
    expect(bob_page.page.locator(gone).get_by_test_id("restore-button")).to_have_count(0)  # not a moderator

    tombstone = maud_page.page.locator(gone)
    tombstone.hover()
    expect(tombstone.locator(".message-actions button")).to_have_count(1)  # Restore, and nothing else
    tombstone.get_by_test_id("restore-button").click()
    maud_page.page.get_by_test_id("restore-reason").fill("Deleted by mistake, Bob asked")
    shoot(maud_page, "restore-message-desktop")
    maud_page.page.get_by_test_id("confirm-restore").click()

    for someone in (bob_page, maud_page):
        expect(someone.message("the plan, on second thought")).to_have_count(1)
        expect(someone.page.locator(gone).locator(".deleted-note")).to_have_count(0)
    expect(bob_page.page.locator(gone).get_by_test_id("react-button")).to_have_count(1)  # a live message again
    with outside_playwright_loop():
        assert list(AuditLog.objects.values_list("action", "target_id", "reason")) == [
            ("restore_message", sent["id"], "Deleted by mistake, Bob asked")
        ]
    maud_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()


def test_a_moderator_mutes_bob_with_a_reason_bobs_send_says_why_and_an_unmute_lets_him_send(
    group_room,
    bob,
    maud,
    server,
    chromium,  # noqa: F811
):
    from playwright.sync_api import expect

    from moderation.models import AuditLog

    bob_page = Person(chromium, server, bob)
    bob_page.open_room(group_room.id)
    maud_page = Person(chromium, server, maud)
    maud_page.open_room(group_room.id)
    panel = open_members(maud_page)
    panel.get_by_role("button", name="Mute or unmute Bob in this room (moderation)").click()
    dialog = maud_page.page.locator("dialog", has=maud_page.page.locator("#mute-title"))
    expect(dialog.get_by_test_id("mute-status")).to_have_text("Bob may send messages here.")
    expect(dialog.get_by_test_id("confirm-unmute")).to_be_hidden()
    dialog.get_by_test_id("mute-duration").select_option("1440")
    dialog.get_by_test_id("mute-reason").fill("Please stop posting the same link.")
    shoot(maud_page, "mute-member-desktop")
    dialog.get_by_test_id("confirm-mute").click()
    expect(dialog).to_be_hidden()
    expect(maud_page.page.locator(".toast", has_text="Bob is muted")).to_be_visible()

    bob_page.send("one more link")
    refused = bob_page.page.get_by_test_id("pending-message")
    expect(refused).to_contain_text("Not sent: A moderator muted you in this room until")
    expect(refused).to_contain_text("Reason: Please stop posting the same link.")
    expect(bob_page.page.locator(".toast", has_text="Message not sent")).to_contain_text(
        "Reason: Please stop posting the same link."
    )

    panel.get_by_role("button", name="Mute or unmute Bob in this room (moderation)").click()
    expect(dialog.get_by_test_id("mute-status")).to_contain_text("Reason: Please stop posting the same link.")
    dialog.get_by_test_id("mute-reason").fill("Talked it through.")
    dialog.get_by_test_id("confirm-unmute").click()
    expect(dialog).to_be_hidden()
    expect(maud_page.page.locator(".toast", has_text="Bob may send again")).to_be_visible()
    bob_page.send("sorry, all good now")
    expect(maud_page.message("sorry, all good now")).to_have_count(1)
    with outside_playwright_loop():
        assert list(AuditLog.objects.order_by("id").values_list("action", "target_id", "reason")) == [
            ("mute_member", bob.id, "Please stop posting the same link."),
            ("unmute_member", bob.id, "Talked it through."),
        ]
    maud_page.assert_no_script_errors()
    bob_page.assert_no_script_errors()
