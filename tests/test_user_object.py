"""The user object is built from the user row alone, whatever loaded it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.payloads import USER_PAYLOAD_FIELDS, user_payload

pytestmark = pytest.mark.django_db


def test_a_user_loaded_with_only_the_payload_fields_needs_no_query_for_its_object(django_user_model):
    django_user_model.objects.create_user(username="ann", password="x-long-passphrase-1")
    user = django_user_model.objects.only(*USER_PAYLOAD_FIELDS).get(username="ann")

    with CaptureQueriesContext(connection) as captured:
        payload = user_payload(user)

    assert len(captured) == 0
    assert set(payload) == {"id", "username", "display_name", "avatar_url", "avatar_small_url", "is_bot"}
