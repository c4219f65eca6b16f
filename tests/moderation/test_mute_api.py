"""`rooms/{id}/members/{user}/mute/`: a moderator mutes and unmutes a member from the chat.

GET says whether the member is muted; POST {"minutes" | "until", "reason"?} mutes (the admin's own
``moderation.actions.mute_member``, audited); DELETE unmutes. The muted member is told the end and the
reason on every send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from chat.models import RoomMember
from moderation.models import AuditLog

pytestmark = pytest.mark.django_db


def url(room, user) -> str:
    return f"/api/v1/rooms/{room.id}/members/{user.id}/mute/"


def mute_of(room, user) -> tuple:
    return RoomMember.objects.filter(room=room, user=user).values_list("send_muted_until", "send_muted_reason")[0]


def logged():
    return list(AuditLog.objects.order_by("id").values_list("action", "actor_username", "reason", "details"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def send(client, room, body="hello"):
    return client.post(f"/api/v1/rooms/{room.id}/messages/", {"body": body}, format="json")


# --- Muting --------------------------------------------------------------------------------


def test_a_moderator_mutes_a_member_for_minutes_and_gets_the_mute_back(api_for, moderator, bob, group_room):
    response = api_for(moderator).post(url(group_room, bob), {"minutes": 60, "reason": "spam links"}, format="json")

    assert response.status_code == 200
    until, reason = mute_of(group_room, bob)
    assert timedelta(minutes=59) < until - timezone.now() <= timedelta(minutes=60)
    assert reason == "spam links"
    assert response.json() == {"room": group_room.id, "user": bob.id, "muted_until": iso(until), "reason": "spam links"}
    assert logged() == [("mute_member", "maud", "spam links", {"until": iso(until)})]


def test_a_moderator_mutes_a_member_until_a_time(api_for, moderator, bob, group_room):
    end = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    response = api_for(moderator).post(url(group_room, bob), {"until": iso(end)}, format="json")

    assert response.status_code == 200
    assert response.json()["muted_until"] == iso(end)
    assert mute_of(group_room, bob) == (end, "")


def test_the_muted_member_is_told_the_end_and_the_reason_on_every_send(api_for, moderator, bob, group_room):
    api_for(moderator).post(url(group_room, bob), {"minutes": 30, "reason": "Cool down, please."}, format="json")
    until, _ = mute_of(group_room, bob)

    for _attempt in range(2):
        response = send(api_for(bob), group_room)

        assert response.status_code == 403
        assert response.json()["message"] == (
            f"A moderator muted you in this room until {until:%Y-%m-%d %H:%M} UTC. Reason: Cool down, please."
        )


def test_a_mute_without_a_reason_tells_only_the_end(api_for, moderator, bob, group_room):
    api_for(moderator).post(url(group_room, bob), {"minutes": 30}, format="json")
    until, _ = mute_of(group_room, bob)

    response = send(api_for(bob), group_room)

    assert response.json()["message"] == f"A moderator muted you in this room until {until:%Y-%m-%d %H:%M} UTC."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "`minutes` must be a whole number from 1 to 525600."),
        ({"minutes": 0}, "`minutes` must be a whole number from 1 to 525600."),
        ({"minutes": 2.5}, "`minutes` must be a whole number from 1 to 525600."),
        ({"minutes": 10, "until": "2030-01-01T00:00:00Z"}, "Give `minutes` or `until`, not both."),
        ({"until": "tomorrow"}, "`until` must be an ISO 8601 time with its offset (or Z)."),
        ({"until": "2030-01-01T00:00:00"}, "`until` must be an ISO 8601 time with its offset (or Z)."),
        ({"until": "2001-01-01T00:00:00Z"}, "`until` must be in the future, at most 365 days ahead."),
        ({"minutes": 10, "reasons": "typo"}, "Unknown fields: reasons."),
    ],
)
def test_a_bad_mute_is_400_and_mutes_nobody(api_for, moderator, bob, group_room, body, message):
    response = api_for(moderator).post(url(group_room, bob), body, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == message
    assert mute_of(group_room, bob) == (None, "")
    assert logged() == []


def test_a_reason_over_500_characters_is_413(api_for, moderator, bob, group_room):
    response = api_for(moderator).post(url(group_room, bob), {"minutes": 5, "reason": "x" * 501}, format="json")

    assert response.status_code == 413
    assert mute_of(group_room, bob) == (None, "")


def test_a_room_owner_who_is_no_moderator_cannot_mute(api_for, ann, bob, group_room):
    for method, body in (("get", None), ("post", {"minutes": 5}), ("delete", None)):
        response = getattr(api_for(ann), method)(url(group_room, bob), body, format="json")

        assert response.status_code == 403
        assert response.json()["message"] == "Only moderators can do this."
    assert mute_of(group_room, bob) == (None, "")


def test_someone_who_is_not_a_member_is_404(api_for, moderator, cat, group_room):
    response = api_for(moderator).post(url(group_room, cat), {"minutes": 5}, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == "Member not found."


# --- Reading and unmuting ------------------------------------------------------------------------


def test_a_member_who_is_not_muted_reads_as_such(api_for, moderator, bob, group_room):
    response = api_for(moderator).get(url(group_room, bob))

    assert response.status_code == 200
    assert response.json() == {"room": group_room.id, "user": bob.id, "muted_until": None, "reason": ""}


def test_a_mute_reads_with_its_end_and_reason_until_it_ends(api_for, moderator, bob, group_room):
    api_for(moderator).post(url(group_room, bob), {"minutes": 5, "reason": "flooding"}, format="json")
    until, _ = mute_of(group_room, bob)

    assert api_for(moderator).get(url(group_room, bob)).json()["muted_until"] == iso(until)
    RoomMember.objects.filter(room=group_room, user=bob).update(send_muted_until=timezone.now() - timedelta(seconds=1))
    assert api_for(moderator).get(url(group_room, bob)).json() == {
        "room": group_room.id,
        "user": bob.id,
        "muted_until": None,
        "reason": "",
    }


def test_a_moderator_unmutes_and_the_member_sends_again(api_for, moderator, bob, group_room):
    api_for(moderator).post(url(group_room, bob), {"minutes": 60, "reason": "spam"}, format="json")

    response = api_for(moderator).delete(url(group_room, bob), {"reason": "apologised"}, format="json")

    assert response.status_code == 204
    assert mute_of(group_room, bob) == (None, "")
    assert send(api_for(bob), group_room).status_code == 201
    assert [entry[:3] for entry in logged()] == [
        ("mute_member", "maud", "spam"),
        ("unmute_member", "maud", "apologised"),
    ]


def test_an_unmute_takes_its_reason_from_the_query_too(api_for, moderator, bob, group_room):
    api_for(moderator).post(url(group_room, bob), {"minutes": 60}, format="json")

    response = api_for(moderator).delete(url(group_room, bob) + "?reason=served")

    assert response.status_code == 204
    assert logged()[-1][:3] == ("unmute_member", "maud", "served")


def test_unmuting_a_member_who_is_not_muted_is_a_conflict(api_for, moderator, bob, group_room):
    response = api_for(moderator).delete(url(group_room, bob))

    assert response.status_code == 409
    assert response.json()["message"] == "The member is not muted."
    assert logged() == []
