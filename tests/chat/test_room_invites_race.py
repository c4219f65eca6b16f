"""The last use of a room invitation goes to exactly one of many concurrent accepts (PostgreSQL, real connections)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from chat.models import Message, RoomInvite, RoomMember

RACERS = 6


def accept_all_at_once(users, code: str) -> list[int]:
    """Each user accepts ``code`` from a thread of its own (its own database connection), all released together."""
    start = threading.Barrier(len(users))
    statuses: list[int] = []

    def accept(user) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
            start.wait()
            statuses.append(client.post(f"/api/v1/invites/{code}/accept/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_of_a_one_use_invitation_add_exactly_one_member(postgres, settings, make_user, group_room):
    settings.RATE_LIMIT_MESSAGES = 0
    invite = RoomInvite.objects.create(
        room=group_room, created_by=group_room.created_by, max_uses=1, expires_at=timezone.now() + timedelta(days=1)
    )
    racers = [make_user(f"racer{index}") for index in range(RACERS)]

    statuses = accept_all_at_once(racers, invite.code)

    assert sorted(statuses) == [200] + [404] * (RACERS - 1)
    assert RoomMember.objects.filter(room=group_room, user__in=racers).count() == 1
    assert Message.objects.filter(room=group_room, system__event="joined").count() == 1
    invite.refresh_from_db()
    assert invite.uses == 1


@pytest.mark.django_db(transaction=True)
def test_one_person_accepting_from_several_tabs_at_once_uses_one_use(postgres, settings, make_user, group_room):
    invite = RoomInvite.objects.create(
        room=group_room, created_by=group_room.created_by, max_uses=10, expires_at=timezone.now() + timedelta(days=1)
    )
    dan = make_user("dan")

    statuses = accept_all_at_once([dan] * 4, invite.code)

    assert statuses == [200] * 4
    assert RoomMember.objects.filter(room=group_room, user=dan).count() == 1
    invite.refresh_from_db()
    assert invite.uses == 1
