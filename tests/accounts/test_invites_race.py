"""The last use of an invitation goes to exactly one of many concurrent registrations (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import ServerInvite, User

PASSWORD = "a-long-unusual-passphrase"
RACERS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_on_a_one_use_invitation_let_exactly_one_in(settings, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions need PostgreSQL")
    settings.REGISTRATION_OPEN = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    invite = ServerInvite.objects.create(created_by=make_user("boss", is_staff=True), max_uses=1)
    start = threading.Barrier(RACERS)
    statuses: list[int] = []

    def register(index: int) -> None:
        try:
            start.wait()
            response = APIClient().post(
                "/api/v1/auth/register/",
                {"username": f"racer{index}", "password": PASSWORD, "invite": invite.code},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] + [404] * (RACERS - 1)
    assert User.objects.filter(username__startswith="racer").count() == 1
    invite.refresh_from_db()
    assert invite.uses == 1
