"""The page of a room invitation's link, ``/invite/<code>/``: the room's card, sign-in and back, Join."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import actions
from chat.models import Room, RoomInvite, RoomMember

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def design(ann, bob) -> Room:
    """A private room with a topic: Ann (owner) and Bob."""
    room = actions.create_group_room(ann, name="Design", topic="Pixels & fonts", members=[bob.id])
    return Room.objects.get(pk=room["id"])


@pytest.fixture
def invite(ann, design) -> RoomInvite:
    return actions.create_room_invite(ann, design.id)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_rooms_name_topic_and_member_count_and_a_join_button(cat, invite):
    page = signed_in(cat).get(f"/invite/{invite.code}/").content.decode()

    assert '<h1 data-testid="invite-room-name">Design</h1>' in page
    assert '<p class="auth-lead" data-testid="invite-room-topic">Pixels &amp; fonts</p>' in page
    assert '<p class="auth-lead" data-testid="invite-member-count">2 members</p>' in page
    assert 'data-testid="invite-join">Join Design</button>' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_someone_signed_out_is_offered_sign_in_and_registration_that_come_back_here(settings, invite):
    settings.REGISTRATION_OPEN = True

    page = Client().get(f"/invite/{invite.code}/").content.decode()

    back = f"next=/invite/{invite.code}/"
    assert f'href="/accounts/login/?{back}" data-testid="invite-sign-in"' in page
    assert f'href="/accounts/register/?{back}" data-testid="invite-register"' in page
    assert "invite-join" not in page


def test_registration_is_not_offered_while_it_is_closed(settings, invite):
    settings.REGISTRATION_OPEN = False

    page = Client().get(f"/invite/{invite.code}/").content.decode()

    assert "invite-sign-in" in page
    assert "invite-register" not in page


def test_joining_from_the_page_makes_the_visitor_a_member_and_lands_in_the_room(cat, design, invite):
    response = signed_in(cat).post(f"/invite/{invite.code}/")

    assert (response.status_code, response["Location"]) == (302, f"/rooms/{design.id}/")
    assert RoomMember.objects.filter(room=design, user=cat).exists()
    invite.refresh_from_db()
    assert invite.uses == 1


def test_joining_needs_the_csrf_token(cat, design, invite):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cat)

    assert client.post(f"/invite/{invite.code}/").status_code == 403
    assert not RoomMember.objects.filter(room=design, user=cat).exists()


def test_a_signed_out_join_is_sent_to_sign_in_and_back(invite, design):
    response = Client().post(f"/invite/{invite.code}/")

    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next=/invite/{invite.code}/")
    assert RoomMember.objects.filter(room=design).count() == 2


def test_a_member_is_pointed_to_the_room_instead(bob, design, invite):
    page = signed_in(bob).get(f"/invite/{invite.code}/").content.decode()

    assert f'href="/rooms/{design.id}/" data-testid="invite-open-room"' in page
    assert "invite-join" not in page


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired"])
def test_a_code_that_is_not_live_is_a_404_page(cat, invite, state):
    code = invite.code
    if state == "unknown":
        code = "nope"
    elif state == "revoked":
        RoomInvite.objects.update(revoked_at=timezone.now())
    else:
        RoomInvite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert signed_in(cat).get(f"/invite/{code}/").status_code == 404
    assert signed_in(cat).post(f"/invite/{code}/").status_code == 404


def test_a_join_past_the_accept_budget_says_so_on_the_page_and_joins_nothing(settings, cat, design, invite):
    settings.RATE_LIMIT_INVITE_ACCEPTS = 1
    other = actions.create_room_invite(design.created_by, actions.create_group_room(design.created_by, name="X")["id"])
    client = signed_in(cat)
    client.post(f"/invite/{other.code}/")

    response = client.post(f"/invite/{invite.code}/")

    assert response.status_code == 429
    assert "Too many invitations accepted" in response.content.decode()
    assert not RoomMember.objects.filter(room=design, user=cat).exists()


def test_registering_from_an_invitation_comes_back_to_it_signed_in(settings, invite):
    settings.REGISTRATION_OPEN = True
    client = Client()
    back = f"/invite/{invite.code}/"

    form = client.get(f"/accounts/register/?next={back}").content.decode()
    response = client.post(
        "/accounts/register/",
        {
            "username": "dan",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
            "next": back,
        },
    )

    assert f'<input type="hidden" name="next" value="{back}">' in form
    assert (response.status_code, response["Location"]) == (302, back)
    assert "invite-join" in client.get(back).content.decode()


def test_registration_does_not_redirect_off_the_site(settings):
    settings.REGISTRATION_OPEN = True

    response = Client().post(
        "/accounts/register/?next=https://evil.example/",
        {"username": "dan", "password1": "a-long-unusual-passphrase", "password2": "a-long-unusual-passphrase"},
    )

    assert (response.status_code, response["Location"]) == (302, "/")
