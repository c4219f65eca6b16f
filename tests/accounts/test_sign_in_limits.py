"""Sign-in and registration throttling: per username and per address, on the API, the pages and the admin."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registration_open(settings):
    """The registration limits are about open registration (closed unless DEBUG: see test_invites)."""
    settings.REGISTRATION_OPEN = True

TOKEN = "/api/v1/auth/token/"
GOOD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 2
    settings.LOGIN_FAILURES_PER_IP = 3
    settings.LOGIN_FAILURE_WINDOW = 300
    settings.REGISTRATIONS_PER_IP_PER_HOUR = 1


def api_sign_in(username: str, password: str, **extra):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def test_past_the_username_limit_even_the_right_password_is_429_with_retry_after(ann):
    assert [api_sign_in("ann", "wrong").status_code for _ in range(2)] == [401, 401]

    response = api_sign_in("ann", GOOD)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= response.json()["retry_after"] <= 300
    assert response["Retry-After"] == str(response.json()["retry_after"])


def test_the_username_limit_ignores_case(ann):
    api_sign_in("ann", "wrong")
    api_sign_in("ANN", "wrong")

    assert api_sign_in("Ann", GOOD).status_code == 429


def test_past_the_address_limit_every_username_is_429(ann, bob):
    for username in ("x1", "x2", "x3"):
        assert api_sign_in(username, "wrong").status_code == 401

    assert api_sign_in("bob", GOOD).status_code == 429


def test_another_address_may_still_sign_in_to_a_username_under_its_limit(ann):
    api_sign_in("ann", "wrong", REMOTE_ADDR="10.0.0.1")

    assert api_sign_in("ann", GOOD, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_a_success_does_not_refill_the_address_budget(ann, bob):
    api_sign_in("x1", "wrong")
    api_sign_in("x2", "wrong")
    assert api_sign_in("ann", GOOD).status_code == 200
    api_sign_in("x3", "wrong")

    assert api_sign_in("bob", GOOD).status_code == 429


def test_x_forwarded_for_is_ignored_unless_trusted(ann):
    for address in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        api_sign_in(f"x-{address}", "wrong", HTTP_X_FORWARDED_FOR=address)

    assert api_sign_in("ann", GOOD, HTTP_X_FORWARDED_FOR="4.4.4.4").status_code == 429


def test_a_trusted_x_forwarded_for_counts_per_client(settings, ann):
    settings.TRUST_X_FORWARDED_FOR = True
    for username in ("x1", "x2", "x3"):
        api_sign_in(username, "wrong", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.1.1.1")

    assert api_sign_in("ann", GOOD, HTTP_X_FORWARDED_FOR="6.6.6.6, 2.2.2.2").status_code == 200
    assert api_sign_in("ann", GOOD, HTTP_X_FORWARDED_FOR="9.9.9.9, 1.1.1.1").status_code == 429


def test_the_sign_in_page_answers_429_with_the_wait_on_the_form(ann):
    browser = Client()
    for _ in range(2):
        assert browser.post("/accounts/login/", {"username": "ann", "password": "wrong"}).status_code == 200

    response = browser.post("/accounts/login/", {"username": "ann", "password": GOOD})

    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert f"Too many failed sign-ins. Try again in {wait} s." in response.content.decode()
    assert "_auth_user_id" not in browser.session


def test_the_admin_sign_in_answers_429_past_the_limit(make_user):
    make_user("root", is_staff=True, is_superuser=True)
    admin = Client()
    for _ in range(2):
        admin.post("/admin/login/", {"username": "root", "password": "wrong"})

    response = admin.post("/admin/login/", {"username": "root", "password": GOOD})

    assert response.status_code == 429
    assert "Too many failed sign-ins." in response.content.decode()


def test_failures_on_the_page_count_against_the_api(ann):
    for _ in range(2):
        Client().post("/accounts/login/", {"username": "ann", "password": "wrong"})

    assert api_sign_in("ann", GOOD).status_code == 429


def test_wrong_old_passwords_count_as_sign_in_failures(ann, api_for):
    client = api_for(ann)
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/password/", {"old_password": "guess", "new_password": "a-new-passphrase"}, format="json"
        )
        assert response.status_code == 400

    response = client.post(
        "/api/v1/auth/password/", {"old_password": GOOD, "new_password": "a-new-passphrase"}, format="json"
    )

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_registration_past_the_address_limit_is_429_over_the_api(db):
    first = APIClient().post("/api/v1/auth/register/", {"username": "one", "password": GOOD}, format="json")
    assert first.status_code == 201

    response = APIClient().post("/api/v1/auth/register/", {"username": "two", "password": GOOD}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response["Retry-After"] == str(response.json()["retry_after"])


def test_registration_past_the_address_limit_is_429_on_the_page(db):
    form = {"username": "one", "password1": GOOD, "password2": GOOD}
    assert Client().post("/accounts/register/", form).status_code == 302

    response = Client().post("/accounts/register/", {**form, "username": "two"})

    assert response.status_code == 429
    assert "Too many accounts created from your address." in response.content.decode()


def test_refused_registrations_do_not_use_the_address_budget(db):
    refused = APIClient().post("/api/v1/auth/register/", {"username": "one", "password": "123"}, format="json")
    assert refused.status_code == 400

    assert (
        APIClient().post("/api/v1/auth/register/", {"username": "one", "password": GOOD}, format="json").status_code
        == 201
    )
