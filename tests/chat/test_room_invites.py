"""Room invitations: admins make links, anyone signed in who holds a live one joins the room through it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chat import actions
from chat.models import Message, Room, RoomInvite, RoomMember

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Invitation not found.", "code": "not_found", "message": "Invitation not found."}


@pytest.fixture(autouse=True)
def fast_setup(settings):
    settings.RATE_LIMIT_MESSAGES = 0


def make_invite(api, room, **body) -> dict:
    response = api.post(f"/api/v1/rooms/{room.id}/invites/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def accept(api, code):
    return api.post(f"/api/v1/invites/{code}/accept/", format="json")


# --- Making ------------------------------------------------------------------------------------------


def test_an_admin_makes_an_invitation_valid_a_week_with_unlimited_uses_by_default(api_for, ann, group_room):
    before = timezone.now()

    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json")

    assert response.status_code == 201
    body = response.json()
    invite = RoomInvite.objects.get()
    assert body == {
        "code": invite.code,
        "url": f"http://testserver/invite/{invite.code}/",
        "room": group_room.id,
        "expires_at": invite.expires_at.isoformat().replace("+00:00", "Z"),
        "max_uses": None,
        "uses": 0,
        "created_by": {
            "id": ann.id,
            "username": "ann",
            "display_name": "Ann",
            "avatar_url": None,
            "avatar_small_url": None,
            "is_bot": False,
        },
    }
    assert before + timedelta(days=7) <= invite.expires_at <= timezone.now() + timedelta(days=7)


def test_an_invitation_takes_max_uses_and_expires_in(api_for, ann, group_room):
    before = timezone.now()

    body = make_invite(api_for(ann), group_room, max_uses=3, expires_in=3600)

    invite = RoomInvite.objects.get(code=body["code"])
    assert (body["max_uses"], invite.max_uses) == (3, 3)
    assert before + timedelta(hours=1) <= invite.expires_at <= timezone.now() + timedelta(hours=1)


def test_codes_are_long_random_and_distinct(api_for, ann, group_room):
    codes = {make_invite(api_for(ann), group_room)["code"] for _ in range(5)}

    assert len(codes) == 5
    assert all(len(code) >= 22 for code in codes)  # secrets.token_urlsafe(16): 128 bits


def test_a_member_who_is_not_an_admin_cannot_make_an_invitation(api_for, bob, group_room):
    response = api_for(bob).post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert not RoomInvite.objects.exists()


def test_someone_outside_the_room_is_not_told_it_exists(api_for, cat, group_room):
    response = api_for(cat).post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_direct_room_has_no_invitations(api_for, ann, bob):
    room, _ = actions.get_or_create_direct_room(ann, bob.id)

    response = api_for(ann).post(f"/api/v1/rooms/{room['id']}/invites/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_uses", 0, "`max_uses` must be a whole number from 1 to 1000."),
        ("max_uses", 1001, "`max_uses` must be a whole number from 1 to 1000."),
        ("max_uses", 2.5, "`max_uses` must be a whole number from 1 to 1000."),
        ("max_uses", True, "`max_uses` must be a whole number from 1 to 1000."),
        ("expires_in", 59, "`expires_in` must be a whole number from 60 to 2592000."),
        ("expires_in", 2592001, "`expires_in` must be a whole number from 60 to 2592000."),
        ("expires_in", "soon", "`expires_in` must be a whole number from 60 to 2592000."),
    ],
)
def test_a_bad_bound_is_refused_and_makes_nothing(api_for, ann, group_room, field, value, message):
    response = api_for(ann).post(f"/api/v1/rooms/{group_room.id}/invites/", {field: value}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["message"]) == ("invalid", message)
    assert not RoomInvite.objects.exists()


def test_a_room_has_at_most_room_invites_live_max_live_invitations(settings, api_for, ann, group_room):
    settings.ROOM_INVITES_LIVE_MAX = 2
    api = api_for(ann)
    make_invite(api, group_room)
    make_invite(api, group_room)

    response = api.post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert RoomInvite.objects.count() == 2


def test_a_revoked_invitation_frees_its_place_under_the_live_limit(settings, api_for, ann, group_room):
    settings.ROOM_INVITES_LIVE_MAX = 1
    api = api_for(ann)
    first = make_invite(api, group_room)
    api.delete(f"/api/v1/invites/{first['code']}/")

    assert api.post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json").status_code == 201


def test_making_invitations_past_the_invite_budget_is_rate_limited(settings, api_for, ann, group_room):
    settings.RATE_LIMIT_INVITES = 2
    api = api_for(ann)
    make_invite(api, group_room)
    make_invite(api, group_room)

    response = api.post(f"/api/v1/rooms/{group_room.id}/invites/", {}, format="json")

    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert RoomInvite.objects.count() == 2


# --- Listing -----------------------------------------------------------------------------------------


def test_admins_list_only_the_live_invitations_newest_first(api_for, ann, group_room):
    api = api_for(ann)
    old = make_invite(api, group_room)
    new = make_invite(api, group_room, max_uses=5)
    revoked = make_invite(api, group_room)
    api.delete(f"/api/v1/invites/{revoked['code']}/")
    RoomInvite.objects.create(room=group_room, created_by=ann, expires_at=timezone.now() - timedelta(seconds=1))
    RoomInvite.objects.create(room=group_room, created_by=ann, max_uses=1, uses=1, expires_at=old_expiry(old))

    response = api.get(f"/api/v1/rooms/{group_room.id}/invites/")

    assert response.status_code == 200
    assert [invite["code"] for invite in response.json()] == [new["code"], old["code"]]
    assert response.json()[0] == new


@pytest.mark.parametrize("count", [1, 8])
def test_listing_costs_the_same_queries_for_any_number_of_invitations(
    api_for, ann, make_user, group_room, count, django_assert_num_queries
):
    makers = [make_user(f"admin{n}") for n in range(count)]
    RoomMember.objects.bulk_create([RoomMember(room=group_room, user=u, role="admin") for u in makers])
    for maker in makers:
        actions.create_room_invite(maker, group_room.id)
    api = api_for(ann)
    api.get(f"/api/v1/rooms/{group_room.id}/invites/")  # warm the token's user and content types

    with django_assert_num_queries(3):  # the caller, the membership, the invitations with their makers
        response = api.get(f"/api/v1/rooms/{group_room.id}/invites/")

    assert len(response.json()) == count


def old_expiry(payload: dict):
    return RoomInvite.objects.get(code=payload["code"]).expires_at


def test_a_member_who_is_not_an_admin_cannot_list_invitations(api_for, ann, bob, group_room):
    make_invite(api_for(ann), group_room)

    response = api_for(bob).get(f"/api/v1/rooms/{group_room.id}/invites/")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


# --- Revoking ----------------------------------------------------------------------------------------


def test_an_admin_revokes_an_invitation_and_it_no_longer_admits_anyone(api_for, ann, cat, group_room):
    invite = make_invite(api_for(ann), group_room)

    response = api_for(ann).delete(f"/api/v1/invites/{invite['code']}/")

    assert response.status_code == 204
    assert RoomInvite.objects.get().revoked_at is not None
    assert accept(api_for(cat), invite["code"]).status_code == 404
    assert not RoomMember.objects.filter(room=group_room, user=cat).exists()


def test_whoever_made_an_invitation_revokes_it_after_losing_admin(api_for, ann, bob, group_room):
    RoomMember.objects.filter(room=group_room, user=bob).update(role=RoomMember.Role.ADMIN)
    invite = make_invite(api_for(bob), group_room)
    RoomMember.objects.filter(room=group_room, user=bob).update(role=RoomMember.Role.MEMBER)

    assert api_for(bob).delete(f"/api/v1/invites/{invite['code']}/").status_code == 204


def test_a_member_who_neither_made_it_nor_is_admin_cannot_revoke(api_for, ann, bob, group_room):
    invite = make_invite(api_for(ann), group_room)

    response = api_for(bob).delete(f"/api/v1/invites/{invite['code']}/")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert RoomInvite.objects.get().revoked_at is None


def test_someone_outside_the_room_revoking_gets_not_found(api_for, ann, cat, group_room):
    invite = make_invite(api_for(ann), group_room)

    response = api_for(cat).delete(f"/api/v1/invites/{invite['code']}/")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert RoomInvite.objects.get().revoked_at is None


def test_revoking_twice_or_an_unknown_code_is_not_found(api_for, ann, group_room):
    invite = make_invite(api_for(ann), group_room)
    api_for(ann).delete(f"/api/v1/invites/{invite['code']}/")

    assert api_for(ann).delete(f"/api/v1/invites/{invite['code']}/").status_code == 404
    assert api_for(ann).delete("/api/v1/invites/no-such-code/").status_code == 404


def test_revoking_past_the_revoke_budget_is_rate_limited(settings, api_for, ann, group_room):
    settings.RATE_LIMIT_INVITE_REVOKES = 1
    api = api_for(ann)
    first, second = make_invite(api, group_room), make_invite(api, group_room)
    api.delete(f"/api/v1/invites/{first['code']}/")

    response = api.delete(f"/api/v1/invites/{second['code']}/")

    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert RoomInvite.objects.get(code=second["code"]).revoked_at is None


# --- Accepting ---------------------------------------------------------------------------------------


def test_accepting_makes_the_caller_a_member_of_a_private_room_and_counts_a_use(api_for, ann, cat, group_room):
    invite = make_invite(api_for(ann), group_room, max_uses=2)

    response = accept(api_for(cat), invite["code"])

    assert response.status_code == 200
    assert response.json()["id"] == group_room.id
    assert cat.id in [member["user"]["id"] for member in response.json()["members"]]
    assert RoomMember.objects.get(room=group_room, user=cat).role == RoomMember.Role.MEMBER
    assert RoomInvite.objects.get().uses == 1


def test_accepting_records_the_joined_line_as_joining_does(api_for, ann, cat, group_room):
    invite = make_invite(api_for(ann), group_room)

    accept(api_for(cat), invite["code"])

    line = Message.objects.filter(room=group_room).latest("seq")
    assert (line.kind, line.body, line.system) == (
        "system",
        "Cat joined",
        {"event": "joined", "actor": cat.id, "target": None, "name": None},
    )


def test_a_member_accepting_gets_the_room_and_uses_no_use(api_for, ann, bob, group_room):
    invite = make_invite(api_for(ann), group_room, max_uses=1)
    lines_before = Message.objects.filter(room=group_room).count()

    response = accept(api_for(bob), invite["code"])

    assert (response.status_code, response.json()["id"]) == (200, group_room.id)
    assert RoomInvite.objects.get().uses == 0
    assert Message.objects.filter(room=group_room).count() == lines_before


def test_accepting_twice_counts_one_use(api_for, ann, cat, group_room):
    invite = make_invite(api_for(ann), group_room)
    accept(api_for(cat), invite["code"])

    assert accept(api_for(cat), invite["code"]).status_code == 200
    assert RoomInvite.objects.get().uses == 1


def test_a_used_up_invitation_admits_nobody_more(api_for, ann, cat, make_user, group_room):
    invite = make_invite(api_for(ann), group_room, max_uses=1)
    accept(api_for(cat), invite["code"])
    dan = make_user("dan")

    response = accept(api_for(dan), invite["code"])

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not RoomMember.objects.filter(room=group_room, user=dan).exists()


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired", "used_up", "room_archived"])
def test_a_code_that_is_not_live_is_the_same_not_found_whatever_the_reason(api_for, ann, cat, group_room, state):
    invite = RoomInvite.objects.create(room=group_room, created_by=ann, expires_at=timezone.now() + timedelta(days=1))
    code = invite.code
    if state == "unknown":
        code = "x" + code
    elif state == "revoked":
        RoomInvite.objects.update(revoked_at=timezone.now())
    elif state == "expired":
        RoomInvite.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "used_up":
        RoomInvite.objects.update(max_uses=2, uses=2)
    else:
        Room.objects.filter(pk=group_room.pk).update(archived=True)

    response = accept(api_for(cat), code)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert not RoomMember.objects.filter(room=group_room, user=cat).exists()
    assert RoomInvite.objects.get().uses == (2 if state == "used_up" else 0)


def test_a_code_longer_than_any_code_is_not_found(api_for, cat):
    assert accept(api_for(cat), "x" * 65).json() == NOT_FOUND


def test_accepting_past_the_accept_budget_is_rate_limited_and_joins_nothing(settings, api_for, ann, cat, group_room):
    settings.RATE_LIMIT_INVITE_ACCEPTS = 1
    other = Room.objects.get(pk=actions.create_group_room(ann, name="Other")["id"])
    first, second = make_invite(api_for(ann), group_room), make_invite(api_for(ann), other)
    accept(api_for(cat), first["code"])

    response = accept(api_for(cat), second["code"])

    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert not RoomMember.objects.filter(room=other, user=cat).exists()
    assert RoomInvite.objects.get(code=second["code"]).uses == 0


def test_accepting_needs_a_signed_in_caller(api_for, ann, group_room):
    invite = make_invite(api_for(ann), group_room)

    assert APIClient().post(f"/api/v1/invites/{invite['code']}/accept/").status_code == 401
