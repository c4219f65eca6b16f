"""A status that clears itself: ``clear_after`` / ``status_expires_at``, lazy on read, written by the presence tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from presence import realtime
from presence.actions import clear_expired_statuses, update_status
from presence.models import Presence
from tests.conftest import receive_until

pytestmark = pytest.mark.django_db


def patch(api, body):
    return api.patch("/api/v1/presence/me/", body, format="json")


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expire_now(user) -> None:
    Presence.objects.filter(user=user).update(status_expires_at=timezone.now() - timedelta(seconds=1))


# --- Setting it ---------------------------------------------------------------------------------------


def test_clear_after_seconds_sets_the_expiry_that_far_ahead(api_for, ann):
    before = timezone.now()

    body = patch(api_for(ann), {"status": "busy", "status_text": "Focus", "clear_after": 3600}).json()

    expires = parsed(body["status_expires_at"])
    assert before + timedelta(hours=1) <= expires <= timezone.now() + timedelta(hours=1)
    assert Presence.objects.get(user=ann).status_expires_at == expires


def test_clear_after_today_is_the_next_midnight_of_the_servers_time_zone(settings, api_for, ann):
    settings.TIME_ZONE = "UTC"
    tomorrow = (timezone.now() + timedelta(days=1)).date()

    body = patch(api_for(ann), {"status": "away", "clear_after": "today"}).json()

    assert parsed(body["status_expires_at"]) == datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC)


def test_status_expires_at_takes_a_time_with_its_offset(api_for, ann):
    at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)

    body = patch(api_for(ann), {"status_text": "Lunch", "status_expires_at": at.isoformat()}).json()

    assert parsed(body["status_expires_at"]) == at


def test_a_change_without_an_expiry_keeps_the_new_status_until_changed(api_for, ann):
    api = api_for(ann)
    patch(api, {"status": "busy", "clear_after": 600})

    body = patch(api, {"status_text": "Deep work"}).json()

    assert (body["status"], body["status_text"], body["status_expires_at"]) == ("busy", "Deep work", None)


def test_clear_after_alone_puts_an_expiry_on_the_current_status(api_for, ann):
    api = api_for(ann)
    patch(api, {"status": "busy"})

    body = patch(api, {"clear_after": 600}).json()

    assert body["status"] == "busy" and body["status_expires_at"] is not None


CLEAR_AFTER = '`clear_after` must be "today" or a whole number of seconds from 60 to 604800.'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "busy", "clear_after": 59}, CLEAR_AFTER),
        ({"status": "busy", "clear_after": 604801}, CLEAR_AFTER),
        ({"status": "busy", "clear_after": 1.5}, CLEAR_AFTER),
        ({"status": "busy", "clear_after": "tomorrow"}, CLEAR_AFTER),
        ({"status": "busy", "clear_after": 600, "status_expires_at": "2030-01-01T00:00:00Z"},
         "Give `clear_after` or `status_expires_at`, not both."),
        ({"status": "busy", "status_expires_at": "soon"},
         "`status_expires_at` must be an ISO 8601 time with its offset (or Z)."),
        ({"status": "busy", "status_expires_at": "2030-01-01T00:00:00"},
         "`status_expires_at` must be an ISO 8601 time with its offset (or Z)."),
        ({"status": "busy", "status_expires_at": "2000-01-01T00:00:00Z"},
         "`status_expires_at` must be in the future, at most 604800 seconds ahead."),
        ({"status": "busy", "status_expires_at": "2999-01-01T00:00:00Z"},
         "`status_expires_at` must be in the future, at most 604800 seconds ahead."),
        ({"status": "busy", "until": 5}, "Unknown fields: until."),
    ],
)  # fmt: skip
def test_a_bad_expiry_is_refused_and_changes_nothing(api_for, ann, body, message):
    response = patch(api_for(ann), body)

    assert (response.status_code, response.json()["code"], response.json()["message"]) == (400, "invalid", message)
    assert not Presence.objects.filter(user=ann).exists()


# --- Clearing -----------------------------------------------------------------------------------------


def test_an_expired_status_reads_as_online_without_text_at_once(api_for, ann):
    api = api_for(ann)
    patch(api, {"status": "busy", "status_text": "Focus", "clear_after": 600})
    expire_now(ann)

    body = api.get("/api/v1/presence/me/").json()

    assert (body["status"], body["status_text"], body["status_expires_at"]) == ("online", "", None)


def test_the_sweep_clears_expired_rows_and_leaves_the_others(ann, bob):
    update_status(ann, {"status": "busy", "status_text": "Focus", "clear_after": 600})
    update_status(bob, {"status": "away", "status_text": "Lunch", "clear_after": 600})
    expire_now(ann)

    messages = clear_expired_statuses()

    assert Presence.objects.filter(user=ann).values_list("status", "status_text", "status_expires_at").get() == (
        "online",
        "",
        None,
    )
    assert Presence.objects.get(user=bob).status == "away"
    assert [group for group, _ in messages] == [f"user.{ann.id}"]  # in no room: only their own connections
    assert clear_expired_statuses() == []


def test_the_sweep_announces_once_per_room_of_the_user(ann, group_room, django_assert_num_queries):
    update_status(ann, {"status": "busy", "clear_after": 600})
    expire_now(ann)

    with django_assert_num_queries(6):  # savepoint, claim, update, release; the users; their rooms
        messages = clear_expired_statuses()

    assert [group for group, _ in messages] == [f"room.{group_room.id}", f"user.{ann.id}"]
    assert len({message["eid"] for _, message in messages}) == 1


def test_setting_a_status_after_expiry_starts_from_online(api_for, ann):
    api = api_for(ann)
    patch(api, {"status": "busy", "status_text": "Focus", "clear_after": 600})
    expire_now(ann)

    body = patch(api, {"status": "away"}).json()

    assert (body["status"], body["status_text"]) == ("away", "")


@pytest.mark.django_db(transaction=True)
async def test_the_presence_tick_announces_the_cleared_status_to_co_members(ws_connect, ann, bob, group_room):
    bob_ws = await ws_connect(bob)
    await ws_connect(ann)
    await database_sync_to_async(update_status)(ann, {"status": "busy", "status_text": "Focus", "clear_after": 60})
    await receive_until(bob_ws, "status_changed")
    await database_sync_to_async(expire_now)(ann)

    await realtime.tick()

    event = await receive_until(bob_ws, "status_changed")
    assert event["data"]["user"]["id"] == ann.id
    assert (event["data"]["status"], event["data"]["status_text"], event["data"]["status_expires_at"]) == (
        "online",
        "",
        None,
    )


@pytest.mark.django_db(transaction=True)
async def test_the_socket_request_takes_clear_after_too(ws_connect, ann):
    ws = await ws_connect(ann)
    before = timezone.now()

    await ws.send_json_to({"type": "update_status", "id": "s1", "data": {"status": "busy", "clear_after": 1800}})

    ack = await receive_until(ws, "ack", request_id="s1")
    expires = parsed(ack["data"]["status_expires_at"])
    assert before + timedelta(minutes=30) <= expires <= timezone.now() + timedelta(minutes=30)


# --- The profile page's status form ----------------------------------------------------------------


def test_the_profile_page_sets_a_status_that_clears_after_an_hour(ann):
    client = Client()
    client.force_login(ann)
    before = timezone.now()

    response = client.post(
        "/profile/", {"action": "status", "status": "busy", "status_text": "Focus", "clear_after": "3600"}
    )

    assert response.status_code == 302
    row = Presence.objects.get(user=ann)
    assert (row.status, row.status_text) == ("busy", "Focus")
    assert before + timedelta(hours=1) <= row.status_expires_at <= timezone.now() + timedelta(hours=1)
    assert 'data-testid="profile-status-expiry"' in client.get("/profile/").content.decode()


def test_the_profile_page_shows_a_bad_status_as_an_error(ann):
    client = Client()
    client.force_login(ann)

    response = client.post("/profile/", {"action": "status", "status": "asleep", "status_text": ""})

    assert response.status_code == 400
    assert "`status` must be one of: online, away, busy." in response.content.decode()


def test_the_user_menu_offers_the_status_form_on_the_chat_pages(ann):
    client = Client()
    client.force_login(ann)

    page = client.get("/").content.decode()

    assert 'data-testid="status-menu"' in page
    assert 'action="/profile/"' in page and '<input type="hidden" name="next" value="/">' in page


def test_the_user_menu_form_sets_the_status_and_returns_to_the_page_it_was_on(ann, group_room):
    client = Client()
    client.force_login(ann)

    response = client.post(
        "/profile/",
        {
            "action": "status",
            "status": "away",
            "status_text": "",
            "clear_after": "today",
            "next": f"/rooms/{group_room.id}/",
        },
    )

    assert (response.status_code, response["Location"]) == (302, f"/rooms/{group_room.id}/")
    assert Presence.objects.get(user=ann).status == "away"


def test_the_user_menu_form_never_redirects_off_the_site(ann):
    client = Client()
    client.force_login(ann)

    response = client.post("/profile/", {"action": "status", "status": "busy", "next": "https://evil.example/"})

    assert response["Location"] == "/"
