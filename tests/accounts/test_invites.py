"""Server invitations: staff make them, a live code lets one register while registration is closed.

Registration is closed in every test here (the default when DEBUG is off).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ServerInvite, User

pytestmark = pytest.mark.django_db

INVITES = "/api/v1/server-invites/"
REGISTER = "/api/v1/auth/register/"
PASSWORD = "a-long-unusual-passphrase"


@pytest.fixture(autouse=True)
def registration_closed(settings):
    settings.REGISTRATION_OPEN = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(make_user):
    return make_user("boss", is_staff=True)


def make_invite(staff, **fields) -> ServerInvite:
    return ServerInvite.objects.create(created_by=staff, **fields)


def register(username: str, invite=None):
    body = {"username": username, "password": PASSWORD}
    if invite is not None:
        body["invite"] = invite
    return APIClient().post(REGISTER, body, format="json")


# --- Making, listing, revoking ------------------------------------------------------------


def test_staff_make_an_invitation_with_uses_and_lifetime(staff, api_for):
    response = api_for(staff).post(INVITES, {"max_uses": 5, "expires_in": 3600}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    invite = ServerInvite.objects.get(code=body["code"])
    assert set(body) == {"code", "url", "expires_at", "max_uses", "uses"}
    assert (body["max_uses"], body["uses"], invite.created_by) == (5, 0, staff)
    assert body["url"] == f"http://testserver/join/{invite.code}/"
    assert len(invite.code) >= 22  # 16 random bytes, URL-safe
    assert timedelta(seconds=3590) < invite.expires_at - timezone.now() <= timedelta(seconds=3600)


def test_an_invitation_without_options_is_unlimited_and_never_expires(staff, api_for):
    body = api_for(staff).post(INVITES, {}, format="json").json()

    assert (body["max_uses"], body["expires_at"]) == (None, None)


@pytest.mark.parametrize(
    "field, value", [("max_uses", 0), ("max_uses", "3"), ("max_uses", True), ("expires_in", -1), ("expires_in", 1.5)]
)
def test_bad_invitation_options_are_400_and_make_nothing(staff, api_for, field, value):
    response = api_for(staff).post(INVITES, {field: value}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert f"`{field}`" in response.json()["message"]
    assert ServerInvite.objects.count() == 0


def test_members_who_are_not_staff_cannot_make_list_or_revoke_invitations(ann, staff, api_for):
    invite = make_invite(staff)
    client = api_for(ann)

    assert client.post(INVITES, {}, format="json").status_code == 403
    assert client.get(INVITES).status_code == 403
    assert client.delete(f"{INVITES}{invite.code}/").status_code == 403
    assert ServerInvite.objects.count() == 1
    assert ServerInvite.objects.get().revoked_at is None


def test_the_list_shows_only_live_invitations(staff, api_for):
    live = make_invite(staff, max_uses=2, uses=1)
    make_invite(staff, revoked_at=timezone.now())
    make_invite(staff, expires_at=timezone.now() - timedelta(seconds=1))
    make_invite(staff, max_uses=1, uses=1)

    response = api_for(staff).get(INVITES)

    assert [item["code"] for item in response.json()] == [live.code]


def test_revoking_an_invitation_stops_it_and_is_204(staff, api_for):
    invite = make_invite(staff)

    response = api_for(staff).delete(f"{INVITES}{invite.code}/")

    assert response.status_code == 204
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert register("dora", invite.code).status_code == 404


def test_revoking_an_unknown_or_revoked_invitation_is_404(staff, api_for):
    revoked = make_invite(staff, revoked_at=timezone.now())

    assert api_for(staff).delete(f"{INVITES}nope/").status_code == 404
    assert api_for(staff).delete(f"{INVITES}{revoked.code}/").status_code == 404


# --- Registering ----------------------------------------------------------------------


def test_closed_registration_without_an_invitation_is_403(db):
    response = register("dora")

    assert response.status_code == 403
    assert not User.objects.filter(username="dora").exists()


def test_a_live_invitation_opens_closed_registration_and_counts_one_use(staff):
    invite = make_invite(staff, max_uses=2)

    response = register("dora", invite.code)

    assert response.status_code == 201, response.content
    assert User.objects.filter(username="dora").exists()
    invite.refresh_from_db()
    assert invite.uses == 1


def test_an_unlimited_invitation_counts_uses_without_running_out(staff):
    invite = make_invite(staff)
    for name in ("dora", "eve", "finn"):
        assert register(name, invite.code).status_code == 201

    invite.refresh_from_db()
    assert invite.uses == 3


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired", "used up"])
def test_an_invitation_that_is_not_live_is_404_without_saying_why(staff, state):
    invite = {
        "unknown": None,
        "revoked": lambda: make_invite(staff, revoked_at=timezone.now()),
        "expired": lambda: make_invite(staff, expires_at=timezone.now() - timedelta(seconds=1)),
        "used up": lambda: make_invite(staff, max_uses=1, uses=1),
    }[state]
    code = "unknown-code" if invite is None else invite().code

    response = register("dora", code)

    assert (response.status_code, response.json()) == (404, {"detail": "Invitation not found.", "code": "not_found"})
    assert not User.objects.filter(username="dora").exists()


def test_the_last_use_of_an_invitation_is_taken_once(staff):
    invite = make_invite(staff, max_uses=1)

    assert register("dora", invite.code).status_code == 201
    assert register("eve", invite.code).status_code == 404
    invite.refresh_from_db()
    assert invite.uses == 1


def test_a_refused_registration_does_not_use_the_invitation(staff, ann):
    invite = make_invite(staff, max_uses=1)

    assert register("ANN", invite.code).status_code == 400  # the name is taken

    invite.refresh_from_db()
    assert invite.uses == 0


def test_an_invitation_code_that_is_not_a_string_is_400(staff):
    response = register("dora", 12345)

    assert response.status_code == 400
    assert "invite" in response.json()


def test_open_registration_still_checks_a_given_invitation(staff, settings):
    settings.REGISTRATION_OPEN = True

    assert register("dora", "unknown-code").status_code == 404


# --- The join page ----------------------------------------------------------------------


def test_the_join_page_shows_the_form_for_a_live_code(staff):
    invite = make_invite(staff)

    response = Client().get(f"/join/{invite.code}/")

    assert response.status_code == 200
    assert b"You are invited to Confab" in response.content
    assert b'name="password1"' in response.content


def test_the_join_page_is_404_for_a_code_that_is_not_live(staff):
    used_up = make_invite(staff, max_uses=1, uses=1)

    assert Client().get(f"/join/{used_up.code}/").status_code == 404
    assert Client().get("/join/unknown-code/").status_code == 404


def test_joining_registers_signs_in_and_counts_a_use(staff):
    invite = make_invite(staff, max_uses=1)
    client = Client()

    response = client.post(f"/join/{invite.code}/", {"username": "dora", "password1": PASSWORD, "password2": PASSWORD})

    assert (response.status_code, response["Location"]) == (302, "/")
    user = User.objects.get(username="dora")
    assert client.session["_auth_user_id"] == str(user.pk)
    invite.refresh_from_db()
    assert invite.uses == 1


# --- Admin ------------------------------------------------------------------------------


def test_staff_make_an_invitation_in_the_admin_with_a_generated_code(make_user):
    superuser = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)

    response = client.post(
        "/admin/accounts/serverinvite/add/", {"max_uses": "3", "expires_at_0": "", "expires_at_1": ""}
    )

    assert response.status_code == 302, response.content
    invite = ServerInvite.objects.get()
    assert (invite.max_uses, invite.created_by, len(invite.code) >= 22) == (3, superuser, True)


def test_the_admin_revokes_selected_invitations(make_user, staff):
    superuser = make_user("root", is_staff=True, is_superuser=True)
    invite = make_invite(staff)
    client = Client()
    client.force_login(superuser)

    client.post("/admin/accounts/serverinvite/", {"action": "revoke_selected", "_selected_action": [invite.pk]})

    invite.refresh_from_db()
    assert invite.revoked_at is not None


def test_invitations_past_the_staff_budget_are_refused_and_make_nothing(staff, api_for, settings):
    settings.RATE_LIMIT_SERVER_INVITES = 2
    client = api_for(staff)
    assert [client.post(INVITES, {}, format="json").status_code for _ in range(2)] == [201, 201]

    response = client.post(INVITES, {}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert ServerInvite.objects.count() == 2


def test_the_admin_says_when_the_staff_budget_is_spent_and_makes_nothing(staff, client, settings):
    settings.RATE_LIMIT_SERVER_INVITES = 1
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    add = "/admin/accounts/serverinvite/add/"
    assert client.post(add, {"max_uses": 3}).status_code == 302

    response = client.post(add, {"max_uses": 3})

    assert response.status_code == 200
    assert "Too many server invitations" in response.content.decode()
    assert ServerInvite.objects.count() == 1
