"""The report admin asks before it acts (a confirmation page with a reason), and names messages by their id."""

from __future__ import annotations

import pytest

from chat.models import Message
from moderation import actions
from moderation.models import AuditLog, Report

pytestmark = pytest.mark.django_db

QUEUE = "/admin/moderation/report/"


@pytest.fixture
def reported(ann, bob, group_room, say):
    """Bob's insult, reported by Ann, with a line before it so its seq and id differ."""
    say(ann, group_room, "what do you all think?")
    message = say(bob, group_room, "you are all idiots")
    report = Report.objects.get(pk=actions.report_message(ann, message.id, "insult")["id"])
    return report, message


def report_url(report: Report, action: str) -> str:
    return f"{QUEUE}{report.id}/{action}/"


# --- One numbering --------------------------------------------------------------------------------------


def test_the_report_page_names_the_message_by_its_id_only(moderator, admin_client_for, reported, group_room):
    report, message = reported
    Message.objects.filter(pk=message.pk).update(seq=message.id + 5)  # a seq no page may show as its name

    page = admin_client_for(moderator).get(f"{QUEUE}{report.id}/change/").content.decode()

    assert f"Message {message.id}</a>" in page
    assert f"#{message.id + 5}" not in page
    assert f"Report {report.id} on message {message.id}" in page


def test_the_queue_and_the_context_name_messages_by_id(moderator, admin_client_for, reported):
    report, message = reported

    queue = admin_client_for(moderator).get(QUEUE).content.decode()

    assert f">Message {message.id}</a>" in queue


def test_a_messages_own_admin_page_is_titled_by_its_id(moderator, admin_client_for, reported):
    _, message = reported

    page = admin_client_for(moderator).get(f"/admin/chat/message/{message.id}/change/").content.decode()

    assert f"Message {message.id}" in page


def test_the_audit_log_names_the_message_by_its_id(moderator, reported):
    report, message = reported

    actions.close_report(moderator, report.id, resolution="dismissed", reason="banter")

    assert AuditLog.objects.get().target_repr.startswith(f"report by ann on Message {message.id} by bob")


# --- Asking first ---------------------------------------------------------------------------------------


def test_the_report_page_links_to_the_confirmation_pages_instead_of_acting(moderator, admin_client_for, reported):
    report, _ = reported

    page = admin_client_for(moderator).get(f"{QUEUE}{report.id}/change/").content.decode()

    for action, label in (("resolve", "Resolve"), ("dismiss", "Dismiss"), ("delete-message", "Delete the message")):
        assert f'<a href="{report_url(report, action)}">{label}</a>' in page


@pytest.mark.parametrize(
    ("action", "subject"),
    [
        ("resolve", "Resolve report {report} on Message {message}?"),
        ("dismiss", "Dismiss report {report} on Message {message}?"),
        ("delete-message", "Delete Message {message}, reported in report {report}?"),
    ],
)
def test_each_action_first_shows_a_page_with_a_reason_and_changes_nothing(
    moderator, admin_client_for, reported, action, subject
):
    report, message = reported

    page = admin_client_for(moderator).get(report_url(report, action))

    assert page.status_code == 200
    content = page.content.decode()
    assert subject.format(report=report.id, message=message.id) in content
    assert 'name="reason"' in content
    report.refresh_from_db()
    message.refresh_from_db()
    assert (report.status, message.deleted_at, AuditLog.objects.count()) == ("open", None, 0)


@pytest.mark.parametrize(("action", "status"), [("resolve", "resolved"), ("dismiss", "dismissed")])
def test_confirming_closes_the_report_with_the_reason_in_the_audit_log(
    moderator, admin_client_for, reported, action, status
):
    report, _ = reported

    response = admin_client_for(moderator).post(report_url(report, action), {"reason": "handled in DM"})

    assert (response.status_code, response["Location"]) == (302, QUEUE)
    report.refresh_from_db()
    assert (report.status, report.resolved_by) == (status, moderator)
    assert AuditLog.objects.get().reason == "handled in DM"


def test_confirming_the_delete_deletes_the_message_with_the_reason(moderator, admin_client_for, reported):
    report, message = reported

    admin_client_for(moderator).post(report_url(report, "delete-message"), {"reason": "abuse"})

    message.refresh_from_db()
    report.refresh_from_db()
    assert (message.deleted_by, report.status) == (moderator, "resolved")
    assert set(AuditLog.objects.values_list("action", "reason")) == {
        ("delete_message", "abuse"),
        ("resolve_report", "abuse"),
    }


def test_a_reason_over_the_audit_limit_is_refused_on_the_page_and_changes_nothing(
    moderator, admin_client_for, reported
):
    report, _ = reported

    response = admin_client_for(moderator).post(report_url(report, "resolve"), {"reason": "x" * 501})

    assert response.status_code == 200
    assert "Ensure this value has at most 500 characters" in response.content.decode()
    report.refresh_from_db()
    assert report.status == "open"


def test_confirming_a_closed_report_says_so_and_changes_nothing(moderator, admin_client_for, reported):
    report, _ = reported
    actions.close_report(moderator, report.id, resolution="resolved")
    client = admin_client_for(moderator)

    client.post(report_url(report, "dismiss"), {"reason": "late"})

    report.refresh_from_db()
    assert report.status == "resolved"
    assert "The report is already closed." in client.get(QUEUE).content.decode()


def test_non_moderator_staff_get_no_confirmation_page(plain_staff, admin_client_for, reported):
    report, _ = reported
    client = admin_client_for(plain_staff)

    for action in ("resolve", "dismiss", "delete-message"):
        assert client.get(report_url(report, action)).status_code == 403


def test_an_unknown_report_is_404(moderator, admin_client_for):
    assert admin_client_for(moderator).get(f"{QUEUE}999999/resolve/").status_code == 404


def test_the_queues_delete_action_asks_then_deletes_with_the_reason(moderator, admin_client_for, reported):
    report, message = reported
    client = admin_client_for(moderator)
    selected = {"action": "delete_messages", "_selected_action": [str(report.id)], "index": "0"}

    asked = client.post(QUEUE, selected)
    message.refresh_from_db()
    assert (asked.status_code, message.deleted_at) == (200, None)
    client.post(QUEUE, {**selected, "apply": "1", "reason": "abuse"})

    message.refresh_from_db()
    assert message.deleted_by == moderator
    assert AuditLog.objects.get(action="delete_message").reason == "abuse"
