"""The user model's rules the database itself enforces."""

import threading

import pytest
from django.db import IntegrityError, connection
from rest_framework.test import APIClient

from accounts.models import User


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def registration_open(settings):
    """These tests are about self-registration, which is off by default when DEBUG is."""
    settings.REGISTRATION_OPEN = True


@pytest.mark.django_db
def test_the_database_rejects_a_username_that_differs_only_in_case():
    User.objects.create_user(username="ann", password="x")

    with pytest.raises(IntegrityError):
        User.objects.create_user(username="ANN", password="x")


@pytest.mark.django_db
def test_display_name_falls_back_to_the_username():
    assert User(username="ann").get_display_name() == "ann"
    assert User(username="ann", display_name="Ann A").get_display_name() == "Ann A"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("names", [("dora", "dora"), ("dora", "DORA")])
def test_racing_registrations_of_one_username_give_one_account_and_one_400(names):
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def register(username: str) -> None:
        try:
            barrier.wait(timeout=10)
            response = APIClient().post(
                "/api/v1/auth/register/", {"username": username, "password": "a-long-unusual-passphrase"}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [201, 400]
    assert User.objects.filter(username__iexact="dora").count() == 1
