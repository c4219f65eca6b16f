"""REST auth: JWT obtain and refresh, registration, inactive users, bad tokens."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
REGISTER = "/api/v1/auth/register/"
ROOMS = "/api/v1/rooms/"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def registration_open(settings):
    """These tests are about self-registration, which is off by default when DEBUG is."""
    settings.REGISTRATION_OPEN = True


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- Tokens ------------------------------------------------------------------------------------


def test_token_obtain_gives_an_access_and_a_refresh_token(ann):
    response = APIClient().post(TOKEN, {"username": "ann", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert bearer(response.json()["access"]).get(ROOMS).status_code == 200


def test_token_obtain_with_a_wrong_password_is_401(ann):
    response = APIClient().post(TOKEN, {"username": "ann", "password": "wrong"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "access" not in response.json()


def test_token_obtain_without_fields_is_400(db):
    response = APIClient().post(TOKEN, {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()) == {"username", "password", "code"}


def test_token_obtain_for_an_inactive_user_is_401(make_user):
    make_user("gone", is_active=False)

    response = APIClient().post(TOKEN, {"username": "gone", "password": PASSWORD}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_token_refresh_gives_a_new_access_token_that_works(ann):
    refresh = str(RefreshToken.for_user(ann))

    response = APIClient().post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"access"}
    assert bearer(response.json()["access"]).get(ROOMS).status_code == 200


def test_token_refresh_with_a_garbage_token_is_401_with_the_contract_code(db):
    response = APIClient().post(REFRESH, {"refresh": "garbage"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.json()["reason"] == "token_not_valid"


def test_token_refresh_does_not_accept_an_access_token(ann):
    response = APIClient().post(REFRESH, {"refresh": str(AccessToken.for_user(ann))}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_refresh_token_is_not_accepted_as_an_access_token(ann):
    response = bearer(str(RefreshToken.for_user(ann))).get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_an_inactive_users_token_is_refused(ann):
    token = str(AccessToken.for_user(ann))
    User.objects.filter(pk=ann.pk).update(is_active=False)

    response = bearer(token).get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_deleted_users_token_is_refused(ann):
    token = str(AccessToken.for_user(ann))
    ann.delete()

    response = bearer(token).get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_garbage_bearer_token_is_401_and_says_how_to_authenticate(db):
    response = bearer("not-a-jwt").get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_signed_with_another_key_is_refused(ann):
    import jwt

    forged = jwt.encode({"token_type": "access", "user_id": str(ann.id), "exp": 4_102_444_800, "jti": "x"}, "k" * 50)

    response = bearer(forged).get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


# --- Registration ----------------------------------------------------------------------------


def test_register_creates_a_user_and_answers_201_with_the_user_object(db):
    response = APIClient().post(
        REGISTER, {"username": "dora", "password": "a-long-unusual-passphrase", "display_name": "Dora M"}, format="json"
    )

    assert response.status_code == 201
    user = User.objects.get(username="dora")
    assert response.json() == {
        "id": user.id,
        "username": "dora",
        "display_name": "Dora M",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }
    assert user.check_password("a-long-unusual-passphrase")


def test_a_registered_user_can_obtain_a_token(db):
    APIClient().post(REGISTER, {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json")

    response = APIClient().post(TOKEN, {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json")

    assert response.status_code == 200


def test_register_without_a_display_name_shows_the_username(db):
    response = APIClient().post(REGISTER, {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json")

    assert response.json()["display_name"] == "dora"


@pytest.mark.parametrize("username", ["ann", "ANN"])
def test_register_a_taken_username_is_400_whatever_its_case(ann, username):
    response = APIClient().post(
        REGISTER, {"username": username, "password": "a-long-unusual-passphrase"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "username" in response.json()
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "12345678901", "password123", "doraexplorer"])
def test_register_with_a_weak_password_is_400(db, password):
    response = APIClient().post(REGISTER, {"username": "doraexplorer", "password": password}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["", "has space", "semi;colon", "x" * 151, "a@b", "ann."])
def test_register_with_a_bad_username_is_400(db, username):
    response = APIClient().post(
        REGISTER, {"username": username, "password": "a-long-unusual-passphrase"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["ann.lee", "a+b", "a-b", "a_b", "zoë", "x" * 150])
def test_register_accepts_usernames_a_mention_can_name(db, username):
    response = APIClient().post(
        REGISTER, {"username": username, "password": "a-long-unusual-passphrase"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["username"] == username


def test_register_without_fields_is_400(db):
    response = APIClient().post(REGISTER, {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_register_ignores_privilege_fields(db):
    APIClient().post(
        REGISTER,
        {"username": "dora", "password": "a-long-unusual-passphrase", "is_staff": True, "is_superuser": True},
        format="json",
    )

    user = User.objects.get(username="dora")
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, True)


def test_register_when_registration_is_closed_is_403(db, settings):
    settings.REGISTRATION_OPEN = False

    response = APIClient().post(REGISTER, {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not User.objects.exists()


def test_register_needs_no_token_and_ignores_a_bad_one(db):
    response = bearer("garbage").post(
        REGISTER, {"username": "dora", "password": "a-long-unusual-passphrase"}, format="json"
    )

    assert response.status_code == 201


# --- Session auth on the API ---------------------------------------------------------------------


def test_the_api_accepts_a_signed_in_browser_session_for_reads(ann):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ann)

    assert client.get(ROOMS).status_code == 200


def test_the_api_refuses_a_session_write_without_the_csrf_token(ann):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ann)

    response = client.post(ROOMS, {"name": "Forged"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_the_api_accepts_a_session_write_with_the_csrf_token(ann):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(ann)
    token = "k" * 32  # a CSRF secret, as the csrftoken cookie carries it
    client.cookies["csrftoken"] = token

    response = client.post(ROOMS, {"name": "Real"}, format="json", HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 201


def test_a_session_of_a_user_made_inactive_is_refused(ann):
    client = APIClient()
    client.force_login(ann)
    User.objects.filter(pk=ann.pk).update(is_active=False)

    response = client.get(ROOMS)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
