"""The user a socket's access token names: read with SQL compiled once, refused as the REST check refuses."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import (
    GENERATION_CLAIM,
    SOCKET_USER_FIELDS_NOT_LOADED,
    RevocableJWTAuthentication,
    refresh_token_for,
)
from accounts.queries import user_for_access_token
from core.payloads import user_payload

pytestmark = pytest.mark.django_db


def test_a_session_token_names_its_user_and_session_in_one_query(bob, django_assert_num_queries):
    refresh = refresh_token_for(bob)
    access = str(refresh.access_token)

    with django_assert_num_queries(1):  # the user, with whether the session was signed out
        user, session = user_for_access_token(access)

    assert (user.pk, user.username, user.token_generation) == (bob.pk, "bob", bob.token_generation)
    assert session == refresh["sid"]


def test_a_signed_out_sessions_token_names_nobody(bob):
    refresh = refresh_token_for(bob)

    assert APIClient().post("/api/v1/auth/logout/", {"refresh": str(refresh)}, format="json").status_code == 204

    assert user_for_access_token(str(refresh.access_token)) is None


def test_another_signed_out_session_leaves_this_sessions_token_good(bob):
    ended, kept = refresh_token_for(bob), refresh_token_for(bob)
    assert APIClient().post("/api/v1/auth/logout/", {"refresh": str(ended)}, format="json").status_code == 204

    user, session = user_for_access_token(str(kept.access_token))

    assert (user.pk, session) == (bob.pk, kept["sid"])


def test_a_token_without_a_session_names_its_user_in_one_query(bob, django_assert_num_queries):
    with django_assert_num_queries(1):
        user, session = user_for_access_token(str(AccessToken.for_user(bob)))

    assert (user.pk, session) == (bob.pk, None)


def test_a_token_of_an_older_generation_names_nobody(bob):
    token = AccessToken.for_user(bob)
    token[GENERATION_CLAIM] = bob.token_generation - 1

    assert user_for_access_token(str(token)) is None


@pytest.mark.parametrize("claimed", [None, "", "bob", "12x"])
def test_a_token_whose_user_claim_is_not_an_id_names_nobody(bob, claimed):
    token = AccessToken.for_user(bob)
    token["user_id"] = claimed

    assert user_for_access_token(str(token)) is None


def test_a_token_of_a_deleted_user_names_nobody(bob):
    token = str(AccessToken.for_user(bob))
    bob.delete()

    assert user_for_access_token(token) is None


def test_a_sockets_user_loads_no_field_a_socket_never_reads(bob):
    user, _ = user_for_access_token(str(refresh_token_for(bob).access_token))

    assert user.get_deferred_fields() == SOCKET_USER_FIELDS_NOT_LOADED
    assert user_payload(user) == user_payload(bob)  # what events and acks carry of a user is all there


def test_a_field_a_socket_never_reads_is_still_loaded_when_read(bob, django_assert_num_queries):
    user, _ = user_for_access_token(str(refresh_token_for(bob).access_token))

    with django_assert_num_queries(1):
        assert user.email == bob.email


def _bearer_request(token: str):
    return Request(APIRequestFactory().get("/api/v1/rooms/", HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_a_rest_request_reads_its_tokens_user_and_session_in_one_query(bob, django_assert_num_queries):
    access = str(refresh_token_for(bob).access_token)

    with django_assert_num_queries(1):  # the user, with whether the session was signed out
        user, _ = RevocableJWTAuthentication().authenticate(_bearer_request(access))

    assert (user.pk, user.email) == (bob.pk, bob.email)
    assert user.get_deferred_fields() == set()  # a REST view may read any field of request.user


def test_a_rest_request_with_a_token_of_a_deleted_user_is_refused_as_user_not_found(bob):
    access = str(refresh_token_for(bob).access_token)
    bob.delete()

    with pytest.raises(AuthenticationFailed) as refused:
        RevocableJWTAuthentication().authenticate(_bearer_request(access))

    assert refused.value.detail["code"] == "user_not_found"


def test_a_rest_request_whose_token_names_no_user_id_is_refused_as_user_not_found(bob):
    token = refresh_token_for(bob).access_token
    token["user_id"] = "bob"

    with pytest.raises(AuthenticationFailed) as refused:
        RevocableJWTAuthentication().authenticate(_bearer_request(str(token)))

    assert refused.value.detail["code"] == "user_not_found"


def test_a_token_refresh_checks_the_session_with_the_user_in_one_query(bob, django_assert_num_queries):
    refresh = refresh_token_for(bob)

    # Ours: the user, with whether the session was signed out. SimpleJWT's serializer then reads the user
    # again for its own is-active check.
    with django_assert_num_queries(2):
        response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": str(refresh)}, format="json")

    assert response.status_code == 200


def test_a_rest_request_whose_token_lacks_the_user_claim_is_refused_as_token_not_valid(bob):
    token = refresh_token_for(bob).access_token
    del token["user_id"]

    response = APIClient().get("/api/v1/rooms/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["reason"] == "token_not_valid"
