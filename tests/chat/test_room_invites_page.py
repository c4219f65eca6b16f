"""``/rooms/<id>/invites/``: a room admin makes and revokes invitation links on a page, through the same actions."""

from __future__ import annotations

import pytest
from django.test import Client

from chat import actions
from chat.models import RoomInvite

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(room) -> str:
    return f"/rooms/{room.id}/invites/"


def test_an_admin_makes_a_link_and_the_page_shows_it(ann, group_room):
    client = signed_in(ann)

    response = client.post(page_url(group_room), {"action": "create", "expires_in": "3600", "max_uses": "5"})

    invite = RoomInvite.objects.get()
    assert (response.status_code, response["Location"]) == (302, page_url(group_room))
    assert (invite.room_id, invite.max_uses, invite.created_by) == (group_room.id, 5, ann)
    page = client.get(page_url(group_room)).content.decode()
    assert f"New link: http://testserver/invite/{invite.code}/" in page
    assert f'data-testid="invite" data-code="{invite.code}"' in page
    assert "Used 0 of 5" in page


def test_an_empty_uses_field_makes_an_unlimited_link_valid_a_week(ann, group_room):
    signed_in(ann).post(page_url(group_room), {"action": "create", "expires_in": "604800", "max_uses": ""})

    assert RoomInvite.objects.get().max_uses is None


def test_a_bad_number_shows_the_actions_message_and_makes_nothing(ann, group_room):
    response = signed_in(ann).post(page_url(group_room), {"action": "create", "max_uses": "0"})

    assert response.status_code == 400
    assert "`max_uses` must be a whole number from 1 to 1000." in response.content.decode()
    assert not RoomInvite.objects.exists()


def test_an_admin_revokes_a_link_on_the_page(ann, group_room):
    invite = actions.create_room_invite(ann, group_room.id)
    client = signed_in(ann)

    client.post(page_url(group_room), {"action": "revoke", "code": invite.code})

    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert 'data-testid="no-invites"' in client.get(page_url(group_room)).content.decode()


def test_a_member_who_is_not_an_admin_gets_a_403_page(bob, group_room):
    response = signed_in(bob).get(page_url(group_room))

    assert response.status_code == 403
    assert "Only room admins can manage invitations." in response.content.decode()


def test_someone_outside_the_room_gets_a_404(cat, group_room):
    assert signed_in(cat).get(page_url(group_room)).status_code == 404


def test_the_room_page_shows_admins_the_link_and_keeps_it_hidden_for_members(ann, bob, group_room):
    # Hidden, not left out, for members: the page shows it when a member is made admin (member_updated).
    link = f'href="{page_url(group_room)}" data-room-admin-tool'

    assert f"{link} data-testid=" in signed_in(ann).get(f"/rooms/{group_room.id}/").content.decode()
    assert f"{link} hidden data-testid=" in signed_in(bob).get(f"/rooms/{group_room.id}/").content.decode()
