"""The user object is built from the user row alone, whatever loaded it."""

import inspect

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.payloads import USER_PAYLOAD_FIELDS, user_object, user_payload

pytestmark = pytest.mark.django_db


def test_a_user_loaded_with_only_the_payload_fields_needs_no_query_for_its_object(django_user_model):
    django_user_model.objects.create_user(username="ann", password="x-long-passphrase-1")
    user = django_user_model.objects.only(*USER_PAYLOAD_FIELDS).get(username="ann")

    with CaptureQueriesContext(connection) as captured:
        payload = user_payload(user)

    assert len(captured) == 0
    assert set(payload) == {"id", "username", "display_name", "avatar_url", "avatar_small_url", "is_bot"}


def test_the_user_object_takes_the_payload_columns_in_their_order():
    # A row of USER_PAYLOAD_FIELDS is passed to user_object as it is (presence.actions.snapshot_from_rows).
    parameters = list(inspect.signature(user_object).parameters)
    assert parameters == ["user_id", *USER_PAYLOAD_FIELDS[1:]] and USER_PAYLOAD_FIELDS[0] == "id"


def test_a_user_object_from_columns_is_the_one_from_the_user(django_user_model):
    user = django_user_model.objects.create_user(
        username="ann", password="x-long-passphrase-1", display_name="Ann A.", avatar_key="k1"
    )

    assert user_object(*(getattr(user, field) for field in USER_PAYLOAD_FIELDS)) == user_payload(user)
