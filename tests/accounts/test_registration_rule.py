"""One registration rule: the API and the page refuse exactly what ``check_registration`` refuses."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.actions import check_registration
from accounts.models import User
from core.errors import ActionError

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-long-unusual-passphrase"

# name -> (registration open?, username, password); ann already exists in every case.
REFUSALS = {
    "registration closed": (False, "dora", GOOD_PASSWORD),
    "username taken in another case": (True, "ANN", GOOD_PASSWORD),
    "username a mention cannot name": (True, "ann.", GOOD_PASSWORD),
    "weak password": (True, "dora", "12345678"),
}
# Where the page shows each of the action's fields.
PAGE_FIELD = {"username": "username", "password": "password2"}


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize("case", REFUSALS)
def test_api_and_page_refuse_what_check_registration_refuses(case, settings, ann):
    settings.REGISTRATION_OPEN, username, password = REFUSALS[case]
    with pytest.raises(ActionError) as refusal:
        check_registration(username, password)
    error = refusal.value

    api = APIClient().post("/api/v1/auth/register/", {"username": username, "password": password}, format="json")
    page = Client().post("/accounts/register/", {"username": username, "password1": password, "password2": password})

    if error.code == "forbidden":
        assert (api.status_code, api.json()) == (403, {"detail": error.message, "code": "forbidden"})
        assert page.status_code == 403
    else:
        assert (api.status_code, api.json()) == (400, {**error.extra["fields"], "code": "invalid"})
        assert page.status_code == 200
        assert page.context["form"].errors == {
            PAGE_FIELD[field]: messages for field, messages in error.extra["fields"].items()
        }
    assert list(User.objects.values_list("username", flat=True)) == ["ann"]
