"""Django admin as a moderator: finding messages, acting on them, members, users, uploads, reports, audit log.

Driven with Django's test client against the real admin views; every change
goes through moderation.actions, so each test checks the database and the
audit row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import actions as chat_actions
from chat.models import Message, RoomMember
from moderation import actions
from moderation.models import AuditLog, Report

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/chat/message/"


def run_action(client, url: str, action: str, ids, **form):
    """The changelist POST an admin makes by ticking rows and choosing an action."""
    data = {"action": action, "_selected_action": [str(i) for i in ids], "index": "0", **form}
    return client.post(url, data)


def apply_action(client, url: str, action: str, ids, **form):
    """The confirmation page's submit (reason and the like), as its form posts it."""
    data = {"action": action, "_selected_action": [str(i) for i in ids], "apply": "1", **form}
    return client.post(url, data)


def offered_actions(response) -> set[str]:
    form = response.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


def listed_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


# --- Finding messages ------------------------------------------------------------------------


def test_a_moderator_finds_messages_by_text_sender_and_room(moderator, admin_client_for, ann, bob, group_room, say):
    other = chat_actions.create_group_room(ann, name="Lounge")
    hello = say(bob, group_room, "hello there")
    spam = say(bob, group_room, "buy cheap pills")
    lounge = say(ann, type("R", (), {"id": other["id"]}), "pills are not for sale here")
    client = admin_client_for(moderator)
    assert listed_ids(client.get(MESSAGES, {"q": "pills"})) == {spam.id, lounge.id}
    assert listed_ids(client.get(MESSAGES, {"q": "bob"})) == {hello.id, spam.id}
    assert listed_ids(client.get(MESSAGES, {"q": "Lounge"})) == {lounge.id}
    assert listed_ids(client.get(MESSAGES, {"room__id__exact": group_room.id})) == {hello.id, spam.id}
    assert listed_ids(client.get(MESSAGES, {"sender__id__exact": ann.id})) == {lounge.id}


def test_a_moderator_finds_messages_by_date(moderator, admin_client_for, bob, group_room, say):
    old = say(bob, group_room, "last year")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    new = say(bob, group_room, "today")
    client = admin_client_for(moderator)
    today = timezone.now()
    by_day = client.get(
        MESSAGES, {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day}
    )
    assert listed_ids(by_day) == {new.id}
    since = client.get(MESSAGES, {"created_at__gte": (today - timedelta(days=7)).strftime("%Y-%m-%d 00:00:00+00:00")})
    assert listed_ids(since) == {new.id}


def test_message_admin_is_read_only_even_for_a_moderator(moderator, admin_client_for, bob, group_room, say):
    message = say(bob, group_room, "original")
    client = admin_client_for(moderator)
    assert offered_actions(client.get(MESSAGES)) == {"soft_delete", "restore", "pin", "unpin"}
    page = client.get(f"{MESSAGES}{message.id}/change/")
    assert page.status_code == 200
    assert b"original" in page.content
    client.post(f"{MESSAGES}{message.id}/change/", {"body": "rewritten"})
    message.refresh_from_db()
    assert message.body == "original"


# --- Actions on messages ----------------------------------------------------------------------


def test_soft_delete_asks_for_a_reason_then_deletes_and_audits(moderator, admin_client_for, bob, group_room, say):
    first, second = say(bob, group_room, "one"), say(bob, group_room, "two")
    client = admin_client_for(moderator)
    confirm = run_action(client, MESSAGES, "soft_delete", [first.id, second.id])
    assert confirm.status_code == 200
    assert b'name="reason"' in confirm.content
    assert not Message.objects.filter(deleted_at__isnull=False).exists()  # nothing yet
    done = apply_action(client, MESSAGES, "soft_delete", [first.id, second.id], reason="flood")
    assert done.status_code == 302
    assert set(Message.objects.filter(deleted_by=moderator).values_list("pk", flat=True)) == {first.id, second.id}
    assert set(AuditLog.objects.values_list("action", "target_id", "reason")) == {
        ("delete_message", first.id, "flood"),
        ("delete_message", second.id, "flood"),
    }


def test_restore_brings_messages_back(moderator, admin_client_for, bob, group_room, say):
    message = say(bob, group_room, "back soon")
    actions.delete_message(moderator, message.id)
    client = admin_client_for(moderator)
    apply_action(client, MESSAGES, "restore", [message.id], reason="appeal granted")
    message.refresh_from_db()
    assert message.deleted_at is None
    assert AuditLog.objects.filter(action="restore_message", reason="appeal granted").count() == 1


def test_pin_and_unpin_are_one_click(moderator, admin_client_for, bob, group_room, say):
    message = say(bob, group_room)
    client = admin_client_for(moderator)
    assert run_action(client, MESSAGES, "pin", [message.id]).status_code == 302
    message.refresh_from_db()
    assert message.pinned and message.pinned_by == moderator
    run_action(client, MESSAGES, "unpin", [message.id])
    message.refresh_from_db()
    assert not message.pinned


def test_a_failing_row_is_reported_and_the_others_still_done(moderator, admin_client_for, bob, group_room, say):
    deleted, live = say(bob, group_room, "gone"), say(bob, group_room, "here")
    actions.delete_message(moderator, deleted.id)
    client = admin_client_for(moderator)
    response = apply_action(client, MESSAGES, "soft_delete", [deleted.id, live.id], reason="")
    texts = [str(m) for m in response.wsgi_request._messages]
    assert any("not found" in text for text in texts)
    assert any(text.startswith("1 message(s) deleted") for text in texts)
    live.refresh_from_db()
    assert live.deleted_at is not None


def test_non_moderator_staff_are_not_offered_and_cannot_run_moderation_actions(
    plain_staff, admin_client_for, bob, group_room, say
):
    message = say(bob, group_room)
    client = admin_client_for(plain_staff)
    page = client.get(MESSAGES)
    assert page.status_code == 200  # they may look
    assert offered_actions(page) == set()
    for action in ("soft_delete", "restore", "pin", "unpin"):
        run_action(client, MESSAGES, action, [message.id])
        apply_action(client, MESSAGES, action, [message.id], reason="x")
    message.refresh_from_db()
    assert message.deleted_at is None and not message.pinned
    assert not AuditLog.objects.exists()


def test_staff_without_any_permission_cannot_see_messages(make_user, admin_client_for):
    client = admin_client_for(make_user("nobody", is_staff=True))
    assert client.get(MESSAGES).status_code == 403


# --- Members ------------------------------------------------------------------------------------


def test_the_room_page_lists_members_with_mute_and_remove(moderator, admin_client_for, bob, group_room):
    page = admin_client_for(moderator).get(f"/admin/chat/room/{group_room.id}/change/")
    assert page.status_code == 200
    assert f"/admin/chat/room/{group_room.id}/members/{bob.id}/remove/".encode() in page.content
    assert f"/admin/chat/room/{group_room.id}/members/{bob.id}/mute/".encode() in page.content


def test_a_moderator_removes_a_member_with_a_reason(moderator, admin_client_for, bob, group_room):
    url = f"/admin/chat/room/{group_room.id}/members/{bob.id}/remove/"
    client = admin_client_for(moderator)
    assert b'name="reason"' in client.get(url).content
    response = client.post(url, {"reason": "harassment"})
    assert response.status_code == 302
    assert not RoomMember.objects.filter(room=group_room, user=bob).exists()
    assert AuditLog.objects.get().reason == "harassment"


def test_a_moderator_mutes_a_member_for_a_chosen_period(moderator, admin_client_for, bob, group_room):
    url = f"/admin/chat/room/{group_room.id}/members/{bob.id}/mute/"
    response = admin_client_for(moderator).post(url, {"minutes": "1440", "reason": "heated"})
    assert response.status_code == 302
    until = RoomMember.objects.get(room=group_room, user=bob).send_muted_until
    assert timedelta(hours=23, minutes=59) < until - timezone.now() <= timedelta(days=1)
    assert AuditLog.objects.get().action == "mute_member"


def test_an_invalid_mute_period_changes_nothing(moderator, admin_client_for, bob, group_room):
    url = f"/admin/chat/room/{group_room.id}/members/{bob.id}/mute/"
    response = admin_client_for(moderator).post(url, {"minutes": "12345"})
    assert response.status_code == 200  # the form again, with its error
    assert RoomMember.objects.get(room=group_room, user=bob).send_muted_until is None


def test_non_moderator_staff_cannot_remove_or_mute(plain_staff, admin_client_for, bob, group_room):
    client = admin_client_for(plain_staff)
    for what in ("remove", "mute", "unmute"):
        url = f"/admin/chat/room/{group_room.id}/members/{bob.id}/{what}/"
        assert client.get(url).status_code == 403
        assert client.post(url, {"minutes": "60"}).status_code == 403
    member = RoomMember.objects.get(room=group_room, user=bob)
    assert member.send_muted_until is None


# --- Users and their uploads -------------------------------------------------------------------------


def test_suspend_action_deactivates_the_user(moderator, admin_client_for, bob):
    client = admin_client_for(moderator)
    confirm = run_action(client, "/admin/accounts/user/", "suspend", [bob.id])
    assert b'name="reason"' in confirm.content
    apply_action(client, "/admin/accounts/user/", "suspend", [bob.id], reason="spam bot")
    bob.refresh_from_db()
    assert bob.is_active is False
    assert AuditLog.objects.get().action == "suspend_user"
    apply_action(client, "/admin/accounts/user/", "unsuspend", [bob.id], reason="")
    bob.refresh_from_db()
    assert bob.is_active is True


def test_a_moderator_cannot_edit_users(moderator, admin_client_for, bob):
    client = admin_client_for(moderator)
    client.post(f"/admin/accounts/user/{bob.id}/change/", {"username": "bob", "is_superuser": "on"})
    bob.refresh_from_db()
    assert not bob.is_superuser


def test_non_moderator_staff_cannot_suspend(plain_staff, admin_client_for, bob):
    client = admin_client_for(plain_staff)
    apply_action(client, "/admin/accounts/user/", "suspend", [bob.id], reason="x")
    bob.refresh_from_db()
    assert bob.is_active is True


def test_a_users_page_lists_their_uploads_and_a_moderator_removes_one(
    moderator, admin_client_for, bob, group_room, upload_for, django_capture_on_commit_callbacks
):
    upload = upload_for(bob, "minutes.txt")
    chat_actions.send_message(bob, group_room.id, body="see attached", attachments=[upload.id])
    stored = upload.file.name
    client = admin_client_for(moderator)
    page = client.get(f"/admin/accounts/user/{bob.id}/change/")
    assert b"minutes.txt" in page.content
    remove_url = f"/admin/accounts/user/{bob.id}/uploads/{upload.id}/remove/"
    assert remove_url.encode() in page.content
    with django_capture_on_commit_callbacks(execute=True):  # files go after the commit
        response = client.post(remove_url, {"reason": "copyright"})
    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.removed_at is not None
    from django.core.files.storage import default_storage

    assert not default_storage.exists(stored)
    entry = AuditLog.objects.get()
    assert (entry.action, entry.target_id, entry.room_id, entry.reason) == (
        "remove_upload",
        upload.id,
        group_room.id,
        "copyright",
    )
    assert b"removed" in client.get(f"/admin/accounts/user/{bob.id}/change/").content


def test_non_moderator_staff_cannot_remove_uploads(plain_staff, admin_client_for, bob, upload_for):
    upload = upload_for(bob)
    response = admin_client_for(plain_staff).post(f"/admin/accounts/user/{bob.id}/uploads/{upload.id}/remove/")
    assert response.status_code == 403
    upload.refresh_from_db()
    assert upload.removed_at is None


# --- Reports --------------------------------------------------------------------------------------------


@pytest.fixture
def reported(ann, bob, group_room, say):
    before = say(ann, group_room, "what do you all think?")
    message = say(bob, group_room, "you are all idiots")
    after = say(ann, group_room, "that was uncalled for")
    report = actions.report_message(ann, message.id, "insult")
    return Report.objects.get(pk=report["id"]), (before, message, after)


def test_the_report_queue_shows_open_reports_with_the_message(moderator, admin_client_for, reported):
    report, _ = reported
    page = admin_client_for(moderator).get("/admin/moderation/report/")
    assert listed_ids(page) == {report.id}
    assert b"you are all idiots" in page.content and b"insult" in page.content


def test_a_report_page_shows_the_conversation_around_the_message(moderator, admin_client_for, reported):
    report, (before, message, after) = reported
    page = admin_client_for(moderator).get(f"/admin/moderation/report/{report.id}/change/")
    for text in (before.body, message.body, after.body):
        assert text.encode() in page.content
    for action in ("resolve", "dismiss", "delete-message"):
        assert f"/admin/moderation/report/{report.id}/{action}/".encode() in page.content


def test_one_click_resolve_closes_the_report(moderator, admin_client_for, reported):
    report, _ = reported
    client = admin_client_for(moderator)
    assert client.post(f"/admin/moderation/report/{report.id}/resolve/").status_code == 302
    report.refresh_from_db()
    assert (report.status, report.resolved_by) == ("resolved", moderator)
    assert report.resolved_at is not None
    assert listed_ids(client.get("/admin/moderation/report/")) == set()  # the queue shows open ones
    assert listed_ids(client.get("/admin/moderation/report/", {"status": "all"})) == {report.id}


def test_one_click_delete_message_deletes_it_and_resolves_the_report(moderator, admin_client_for, reported):
    report, (_, message, _) = reported
    admin_client_for(moderator).post(f"/admin/moderation/report/{report.id}/delete-message/")
    message.refresh_from_db()
    report.refresh_from_db()
    assert message.deleted_by == moderator and report.status == "resolved"
    assert set(AuditLog.objects.values_list("action", flat=True)) == {"delete_message", "resolve_report"}


def test_queue_actions_dismiss_several_reports(moderator, admin_client_for, reported, cat, group_room):
    report, (_, message, _) = reported
    chat_actions.add_member(group_room.created_by, group_room.id, cat.id)
    other = Report.objects.get(pk=actions.report_message(cat, message.id, "rude")["id"])
    client = admin_client_for(moderator)
    asked = run_action(client, "/admin/moderation/report/", "dismiss", [report.id, other.id])
    assert (asked.status_code, set(Report.objects.values_list("status", flat=True))) == (200, {"open"})
    apply_action(client, "/admin/moderation/report/", "dismiss", [report.id, other.id], reason="banter")
    assert set(Report.objects.values_list("status", flat=True)) == {"dismissed"}


def test_non_moderator_staff_cannot_close_reports(plain_staff, admin_client_for, reported):
    report, (_, message, _) = reported
    client = admin_client_for(plain_staff)
    assert client.get("/admin/moderation/report/").status_code == 200
    for action in ("resolve", "dismiss", "delete-message"):
        assert client.post(f"/admin/moderation/report/{report.id}/{action}/").status_code == 403
    run_action(client, "/admin/moderation/report/", "resolve", [report.id])
    report.refresh_from_db()
    message.refresh_from_db()
    assert report.status == "open" and message.deleted_at is None


# --- Audit log -------------------------------------------------------------------------------------------


def test_the_audit_log_is_listed_and_read_only(moderator, admin_client_for, make_user, bob):
    actions.suspend_user(moderator, bob.id, "spam")
    entry = AuditLog.objects.get()
    for user in (moderator, make_user("root", is_superuser=True, is_staff=True)):
        client = admin_client_for(user)
        listing = client.get("/admin/moderation/auditlog/")
        assert listing.status_code == 200 and b"spam" in listing.content
        assert client.get("/admin/moderation/auditlog/add/").status_code == 403
        client.post(f"/admin/moderation/auditlog/{entry.id}/change/", {"reason": "nothing"})
        client.post(f"/admin/moderation/auditlog/{entry.id}/delete/", {"post": "yes"})
        entry.refresh_from_db()
        assert entry.reason == "spam"


# --- Links and query counts ---------------------------------------------------------------------------


def test_room_and_user_pages_link_to_their_messages_and_uploads(
    moderator, admin_client_for, bob, group_room, upload_for
):
    upload_for(bob)
    client = admin_client_for(moderator)
    room_page = client.get(f"/admin/chat/room/{group_room.id}/change/")
    assert f"/admin/chat/message/?room__id__exact={group_room.id}".encode() in room_page.content
    user_page = client.get(f"/admin/accounts/user/{bob.id}/change/")
    assert f"/admin/chat/message/?sender__id__exact={bob.id}".encode() in user_page.content
    assert f"/admin/uploads/upload/?owner__id__exact={bob.id}".encode() in user_page.content
    uploads = client.get("/admin/uploads/upload/", {"owner__id__exact": bob.id})
    assert uploads.status_code == 200


@pytest.mark.parametrize("count", [5, 60])
def test_the_message_changelist_costs_the_same_queries_for_any_page_size(
    moderator, admin_client_for, ann, bob, group_room, count, django_assert_max_num_queries
):
    Message.objects.bulk_create(
        [
            Message(room=group_room, seq=seq, sender=bob if seq % 2 else ann, body=f"m{seq}")
            for seq in range(1, count + 1)
        ]
    )
    client = admin_client_for(moderator)
    client.get(MESSAGES)  # warm the session and permission caches
    with django_assert_max_num_queries(12):
        assert client.get(MESSAGES).status_code == 200


@pytest.mark.parametrize("count", [2, 30])
def test_the_report_queue_costs_the_same_queries_for_any_length(
    moderator, admin_client_for, make_user, bob, group_room, say, count, django_assert_max_num_queries
):
    message = say(bob, group_room, "reported a lot")
    reporters = [make_user(f"r{n}") for n in range(count)]
    RoomMember.objects.bulk_create([RoomMember(room=group_room, user=user) for user in reporters])
    Report.objects.bulk_create([Report(message=message, reporter=user, reason="spam") for user in reporters])
    client = admin_client_for(moderator)
    client.get("/admin/moderation/report/")
    with django_assert_max_num_queries(12):
        assert listed_ids(client.get("/admin/moderation/report/")) == set(Report.objects.values_list("pk", flat=True))


def test_a_superuser_unticking_active_in_the_user_form_suspends_for_real(
    make_user, admin_client_for, bob, django_capture_on_commit_callbacks
):
    root = make_user("root", is_superuser=True, is_staff=True)
    client = admin_client_for(root)
    form = client.get(f"/admin/accounts/user/{bob.id}/change/").context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "date_joined_0": bob.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": bob.date_joined.strftime("%H:%M:%S"),
            "groups": [],
            "user_permissions": [],
        }
    )
    data.pop("date_joined")
    data.pop("last_login", None)
    data["is_active"] = ""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/admin/accounts/user/{bob.id}/change/", {k: v for k, v in data.items() if v != ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    bob.refresh_from_db()
    assert bob.is_active is False
    entry = AuditLog.objects.get()
    assert (entry.action, entry.actor, entry.target_id) == ("suspend_user", root, bob.id)
    assert len(callbacks) == 1  # the chat.disconnect to the user's sockets


def test_a_moderator_sees_the_admin_index_with_what_they_moderate(moderator, admin_client_for):
    page = admin_client_for(moderator).get("/admin/")
    assert page.status_code == 200
    for url in ("/admin/chat/message/", "/admin/chat/room/", "/admin/accounts/user/", "/admin/moderation/report/"):
        assert url.encode() in page.content
