"""Sign-in, sign-out and registration pages, with CSRF checks on as in production."""

import re

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
REGISTER = "/accounts/register/"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def registration_open(settings):
    """These tests are about self-registration, which is off by default when DEBUG is."""
    settings.REGISTRATION_OPEN = True


@pytest.fixture
def visitor() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_from(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "the form carries no CSRF token"
    return match.group(1)


def signed_in_user_id(client: Client):
    return client.session.get("_auth_user_id")


# --- Sign in -----------------------------------------------------------------------------------


def test_login_page_shows_a_form_with_username_password_and_a_csrf_token(visitor):
    response = visitor.get(LOGIN)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert csrf_from(response)


def test_login_with_the_csrf_token_signs_in_and_goes_home(visitor, ann):
    token = csrf_from(visitor.get(LOGIN))

    response = visitor.post(LOGIN, {"username": "ann", "password": PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(visitor) == str(ann.id)
    assert visitor.get("/").status_code == 200


def test_login_follows_a_safe_next_url(visitor, ann):
    token = csrf_from(visitor.get(f"{LOGIN}?next=/rooms/1/"))

    response = visitor.post(
        LOGIN, {"username": "ann", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/rooms/1/"}
    )

    assert response["Location"] == "/rooms/1/"


def test_login_does_not_follow_a_next_url_to_another_site(visitor, ann):
    token = csrf_from(visitor.get(LOGIN))

    response = visitor.post(
        LOGIN, {"username": "ann", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "https://evil.example/"}
    )

    assert response["Location"] == "/"


def test_login_without_the_csrf_token_is_refused(visitor, ann):
    visitor.get(LOGIN)

    response = visitor.post(LOGIN, {"username": "ann", "password": PASSWORD})

    assert response.status_code == 403
    assert signed_in_user_id(visitor) is None


def test_login_with_a_wrong_password_shows_the_form_again(visitor, ann):
    token = csrf_from(visitor.get(LOGIN))

    response = visitor.post(LOGIN, {"username": "ann", "password": "wrong", "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert signed_in_user_id(visitor) is None
    assert 'name="password"' in response.content.decode()


def test_login_of_an_inactive_user_is_refused(visitor, make_user):
    make_user("gone", is_active=False)
    token = csrf_from(visitor.get(LOGIN))

    response = visitor.post(LOGIN, {"username": "gone", "password": PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert signed_in_user_id(visitor) is None


def test_signed_out_visitors_of_home_are_sent_to_the_login_page(visitor):
    response = visitor.get("/")

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/"


# --- Sign out ------------------------------------------------------------------------------------


def test_logout_with_the_csrf_token_signs_out(visitor, ann):
    visitor.force_login(ann)
    token = "k" * 32  # a CSRF secret, as the csrftoken cookie carries it
    visitor.cookies["csrftoken"] = token

    response = visitor.post(LOGOUT, {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert signed_in_user_id(visitor) is None


def test_logout_without_the_csrf_token_is_refused(visitor, ann):
    visitor.force_login(ann)

    response = visitor.post(LOGOUT)

    assert response.status_code == 403
    assert signed_in_user_id(visitor) == str(ann.id)


# --- Register ------------------------------------------------------------------------------------


def test_register_page_shows_a_form_with_a_csrf_token(visitor):
    response = visitor.get(REGISTER)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="display_name"' in html
    assert 'name="password1"' in html
    assert csrf_from(response)


def test_register_with_the_csrf_token_creates_the_user_signs_in_and_goes_home(visitor):
    token = csrf_from(visitor.get(REGISTER))

    response = visitor.post(
        REGISTER,
        {
            "username": "dora",
            "display_name": "Dora M",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(username="dora")
    assert user.display_name == "Dora M"
    assert user.check_password("a-long-unusual-passphrase")
    assert signed_in_user_id(visitor) == str(user.id)


def test_register_without_the_csrf_token_is_refused(visitor):
    visitor.get(REGISTER)

    response = visitor.post(
        REGISTER,
        {"username": "dora", "password1": "a-long-unusual-passphrase", "password2": "a-long-unusual-passphrase"},
    )

    assert response.status_code == 403
    assert not User.objects.exists()


def test_register_with_mismatched_passwords_shows_the_form_again(visitor):
    token = csrf_from(visitor.get(REGISTER))

    response = visitor.post(
        REGISTER,
        {
            "username": "dora",
            "password1": "a-long-unusual-passphrase",
            "password2": "another-long-passphrase",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 200
    assert not User.objects.exists()


def test_register_with_a_taken_username_in_another_case_shows_the_form_again(visitor, ann):
    token = csrf_from(visitor.get(REGISTER))

    response = visitor.post(
        REGISTER,
        {
            "username": "ANN",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 200
    assert User.objects.count() == 1


@pytest.mark.parametrize("username", ["a@b", "ann."])
def test_register_with_a_username_a_mention_cannot_name_shows_the_form_again(visitor, username):
    token = csrf_from(visitor.get(REGISTER))

    response = visitor.post(
        REGISTER,
        {
            "username": username,
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 200
    assert not User.objects.exists()


def test_register_with_a_weak_password_shows_the_form_again(visitor):
    token = csrf_from(visitor.get(REGISTER))

    response = visitor.post(
        REGISTER, {"username": "dora", "password1": "12345678", "password2": "12345678", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 200
    assert not User.objects.exists()


def test_register_page_when_registration_is_closed_is_403(visitor, settings):
    settings.REGISTRATION_OPEN = False

    assert visitor.get(REGISTER).status_code == 403


def test_register_page_sends_a_signed_in_user_home(visitor, ann):
    visitor.force_login(ann)

    response = visitor.get(REGISTER)

    assert response.status_code == 302
    assert response["Location"] == "/"
