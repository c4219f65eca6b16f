"""Sessions that can be ended: password change and reset, suspension, sign-out, over REST and the pages."""

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from moderation import actions as moderation

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
PASSWORD = "/api/v1/auth/password/"
ROOMS = "/api/v1/rooms/"
OLD = "correct-horse-battery"
NEW = "a-brand-new-passphrase"


def sign_in(username: str, password: str = OLD) -> dict:
    response = APIClient().post(TOKEN, {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def change_password(tokens: dict, old: str = OLD, new: str = NEW):
    return bearer(tokens["access"]).post(PASSWORD, {"old_password": old, "new_password": new}, format="json")


@pytest.fixture
def moderator(make_user):
    return make_user("mod", is_staff=True, is_superuser=True)


# --- Password change over the API ----------------------------------------------------------------


def test_a_password_change_answers_204_and_the_new_password_signs_in(bob):
    assert change_password(sign_in("bob")).status_code == 204

    assert sign_in("bob", NEW)["access"]


def test_after_a_password_change_old_access_tokens_are_refused(bob):
    tokens, other_device = sign_in("bob"), sign_in("bob")
    change_password(tokens)

    response = bearer(other_device["access"]).get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.json()["reason"] == "session_ended"


def test_after_a_password_change_old_refresh_tokens_are_refused(bob):
    tokens, other_device = sign_in("bob"), sign_in("bob")
    change_password(tokens)

    response = refresh(other_device["refresh"])

    assert response.status_code == 401
    assert response.json()["reason"] == "session_ended"


def test_a_wrong_old_password_is_400_invalid_and_changes_nothing(bob):
    tokens = sign_in("bob")

    response = change_password(tokens, old="not-my-password")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {"old_password": ["Your old password was entered incorrectly."]}
    assert User.objects.get(pk=bob.pk).check_password(OLD)
    assert bearer(tokens["access"]).get(ROOMS).status_code == 200


def test_a_weak_new_password_is_400_with_the_validators_messages_and_changes_nothing(bob):
    tokens = sign_in("bob")

    response = change_password(tokens, new="12345678")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"]["new_password"] == [
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert User.objects.get(pk=bob.pk).check_password(OLD)
    assert bearer(tokens["access"]).get(ROOMS).status_code == 200


def test_a_password_change_needs_both_fields(bob):
    response = bearer(sign_in("bob")["access"]).post(PASSWORD, {"old_password": OLD}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"new_password": ["Enter a new password."]}


def test_a_password_change_through_the_api_keeps_the_calling_page_session_and_ends_the_others(bob):
    caller, other = Client(), Client()
    caller.force_login(bob)
    other.force_login(bob)

    response = caller.post(PASSWORD, {"old_password": OLD, "new_password": NEW}, content_type="application/json")

    assert response.status_code == 204
    assert caller.get("/").status_code == 200
    assert other.get("/").status_code == 302


# --- Password change on the page -----------------------------------------------------------------


def test_the_password_page_keeps_this_browser_signed_in_and_ends_other_sessions_and_tokens(bob):
    page, other_browser = Client(), Client()
    page.force_login(bob)
    other_browser.force_login(bob)
    tokens = sign_in("bob")

    response = page.post("/accounts/password/", {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    assert page.get("/").status_code == 200
    assert other_browser.get("/").status_code == 302
    assert refresh(tokens["refresh"]).status_code == 401


def test_the_password_page_shows_a_wrong_old_password_on_its_field(bob):
    page = Client()
    page.force_login(bob)

    response = page.post("/accounts/password/", {"old_password": "nope", "new_password1": NEW, "new_password2": NEW})

    assert response.status_code == 200
    assert response.context["form"].errors == {"old_password": ["Your old password was entered incorrectly."]}
    assert User.objects.get(pk=bob.pk).check_password(OLD)


def test_the_rooms_page_links_to_the_password_page(bob):
    page = Client()
    page.force_login(bob)

    assert 'href="/accounts/password/"' in page.get("/").content.decode()


# --- Password reset by email ---------------------------------------------------------------------


def reset_link(outbox) -> str:
    return re.search(r"http://testserver(/accounts/password/reset/\S+/)", outbox[-1].body).group(1)


def test_a_password_reset_mails_a_link_that_sets_the_password_and_ends_every_session(make_user):
    make_user("dan", email="dan@example.com")
    tokens = sign_in("dan")
    browser = Client()
    browser.force_login(User.objects.get(username="dan"))

    assert Client().post("/accounts/password/reset/", {"email": "dan@example.com"}).status_code == 302
    stranger = Client()
    form_page = stranger.get(reset_link(mail.outbox), follow=True)
    response = stranger.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=False
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert User.objects.get(username="dan").check_password(NEW)
    assert refresh(tokens["refresh"]).status_code == 401
    assert browser.get("/").status_code == 302


def test_the_sign_in_page_links_to_the_password_reset():
    page = Client().get("/accounts/login/").content.decode()

    assert '<a href="/accounts/password/reset/">Forgot your password?</a>' in page


# --- Suspension ----------------------------------------------------------------------------------


def test_lifting_a_suspension_does_not_revive_old_refresh_tokens(moderator, bob):
    stolen = sign_in("bob")
    moderation.suspend_user(moderator, bob.id, "compromised")
    moderation.unsuspend_user(moderator, bob.id, "owner verified")

    response = refresh(stolen["refresh"])

    assert response.status_code == 401
    assert response.json()["reason"] == "session_ended"
    assert bearer(stolen["access"]).get(ROOMS).status_code == 401
    assert sign_in("bob")["access"]  # the owner signs in anew


def test_lifting_a_suspension_does_not_revive_old_page_sessions(moderator, bob):
    browser = Client()
    browser.force_login(bob)
    moderation.suspend_user(moderator, bob.id, "compromised")
    moderation.unsuspend_user(moderator, bob.id, "owner verified")

    assert browser.get("/").status_code == 302


def test_deactivating_by_a_plain_save_ends_the_tokens_for_good(bob):
    tokens = sign_in("bob")
    bob.is_active = False
    bob.save()
    bob.is_active = True
    bob.save()

    assert refresh(tokens["refresh"]).status_code == 401


def test_a_refresh_token_of_a_deleted_user_is_401_not_a_server_error(bob):
    tokens = sign_in("bob")
    bob.delete()

    response = refresh(tokens["refresh"])

    assert response.status_code == 401
    assert response.json()["reason"] == "user_not_found"


def test_a_password_hash_upgrade_at_sign_in_ends_no_session(make_user, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = make_user("eve")
    User.objects.filter(pk=user.pk).update(password=make_password(OLD, hasher="pbkdf2_sha256"))
    first = sign_in("eve")
    sign_in("eve")  # upgrades the hash to the first hasher

    assert refresh(first["refresh"]).status_code == 200


# --- Sign-out through the API --------------------------------------------------------------------


def test_signing_out_refuses_that_sessions_refresh_and_access_tokens(bob):
    tokens = sign_in("bob")

    response = APIClient().post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 204
    assert refresh(tokens["refresh"]).json()["reason"] == "signed_out"
    assert bearer(tokens["access"]).get(ROOMS).json()["reason"] == "signed_out"


def test_signing_out_keeps_the_users_other_devices(bob):
    phone, laptop = sign_in("bob"), sign_in("bob")

    APIClient().post(LOGOUT, {"refresh": phone["refresh"]}, format="json")

    assert refresh(laptop["refresh"]).status_code == 200
    assert bearer(laptop["access"]).get(ROOMS).status_code == 200


def test_signing_out_with_a_garbage_token_is_401(db):
    response = APIClient().post(LOGOUT, {"refresh": "garbage"}, format="json")

    assert response.status_code == 401
    assert response.json()["reason"] == "token_not_valid"


def test_signing_out_without_a_token_is_400(db):
    response = APIClient().post(LOGOUT, {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_signing_out_a_deleted_users_token_is_204_and_changes_nothing(bob):
    tokens = sign_in("bob")
    bob.delete()

    assert APIClient().post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
