"""Profiles: ``GET|PATCH /api/v1/users/me/``, avatars made from an upload, and ``user_updated`` to who shares a room."""

from __future__ import annotations

import io

import pytest
from channels.db import database_sync_to_async
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from accounts.models import User
from accounts.profile import update_profile
from chat import actions
from core.payloads import user_payload
from tests.conftest import receive_until
from uploads.actions import create_upload
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RATE_LIMIT_MESSAGES = 0


def three_stripes(width: int = 300, height: int = 100) -> bytes:
    """Red, green and blue vertical thirds: a centred square crop is all green."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 255, 0), (width // 3, 0, 2 * width // 3, height))
    image.paste((0, 0, 255), (2 * width // 3, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_upload(user, data: bytes | None = None, name: str = "me.png"):
    return create_upload(user, io.BytesIO(data or three_stripes()), name)


def served_image(client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "image/webp"
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


def avatar_files(key: str) -> list[bool]:
    return [default_storage.exists(f"avatars/{key}-{side}.webp") for side in (256, 64)]


# --- Reading and the display name ---------------------------------------------------------------


def test_me_is_the_callers_user_object(api_for, ann):
    response = api_for(ann).get("/api/v1/users/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": ann.id,
        "username": "ann",
        "display_name": "Ann",
        "avatar_url": None,
        "avatar_small_url": None,
        "is_bot": False,
    }


def test_patching_the_display_name_saves_it_trimmed(api_for, ann):
    response = api_for(ann).patch("/api/v1/users/me/", {"display_name": "  Ann Lee "}, format="json")

    assert (response.status_code, response.json()["display_name"]) == (200, "Ann Lee")
    assert User.objects.get(pk=ann.pk).display_name == "Ann Lee"


def test_an_empty_display_name_shows_the_username(api_for, ann):
    response = api_for(ann).patch("/api/v1/users/me/", {"display_name": ""}, format="json")

    assert response.json()["display_name"] == "ann"


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 400, "invalid", "Give `display_name` and/or `avatar`."),
        ({"username": "root"}, 400, "invalid", "Unknown fields: username. Give `display_name` and/or `avatar`."),
        ({"display_name": 5}, 400, "invalid", "`display_name` must be a string."),
        ({"display_name": "x" * 81}, 413, "too_large", "`display_name` is longer than 80 characters."),
        ({"avatar": "x"}, 400, "invalid", "`avatar` must be an id."),
        ({"avatar": 999999}, 400, "invalid", "`avatar` must be the id of an image you uploaded."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(api_for, ann, body, status, code, message):
    response = api_for(ann).patch("/api/v1/users/me/", body, format="json")

    assert (response.status_code, response.json()["code"], response.json()["message"]) == (status, code, message)
    assert User.objects.get(pk=ann.pk).display_name == "Ann"


def test_a_body_that_is_not_an_object_is_refused(api_for, ann):
    response = api_for(ann).patch("/api/v1/users/me/", [1], format="json")

    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_profile_changes_past_the_profile_budget_are_rate_limited(settings, api_for, ann):
    settings.RATE_LIMIT_PROFILE = 2
    api = api_for(ann)
    api.patch("/api/v1/users/me/", {"display_name": "One"}, format="json")
    api.patch("/api/v1/users/me/", {"display_name": "Two"}, format="json")

    response = api.patch("/api/v1/users/me/", {"display_name": "Three"}, format="json")

    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert User.objects.get(pk=ann.pk).display_name == "Two"


def test_an_avatar_past_the_budget_is_refused_before_the_image_is_read(settings, api_for, ann):
    settings.RATE_LIMIT_PROFILE = 1
    api = api_for(ann)
    api.patch("/api/v1/users/me/", {"display_name": "One"}, format="json")
    upload = image_upload(ann)
    default_storage.delete(upload.file.name)  # reading it now would fail: the refusal must come first

    response = api.patch("/api/v1/users/me/", {"avatar": upload.id}, format="json")

    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")


# --- Avatars ----------------------------------------------------------------------------------------


def test_an_avatar_is_a_centre_cropped_square_at_256_and_64_px(api_for, ann):
    upload = image_upload(ann)

    response = api_for(ann).patch("/api/v1/users/me/", {"avatar": upload.id}, format="json")

    assert response.status_code == 200
    key = User.objects.get(pk=ann.pk).avatar_key
    assert len(key) >= 22
    assert response.json()["avatar_url"] == f"/avatars/{key}/256.webp"
    assert response.json()["avatar_small_url"] == f"/avatars/{key}/64.webp"
    large, small = served_image(Client(), f"/avatars/{key}/256.webp"), served_image(Client(), f"/avatars/{key}/64.webp")
    assert (large.size, small.size) == ((256, 256), (64, 64))
    for image in (large, small):
        rgb = image.convert("RGB")
        for point in [(0, 0), (image.width // 2, image.height // 2), (image.width - 1, image.height - 1)]:
            red, green, blue = rgb.getpixel(point)
            assert green > 200 and red < 60 and blue < 60, (image.size, point, (red, green, blue))


def test_avatars_are_served_to_anyone_holding_the_link_and_cached_for_good(api_for, ann):
    api_for(ann).patch("/api/v1/users/me/", {"avatar": image_upload(ann).id}, format="json")
    key = User.objects.get(pk=ann.pk).avatar_key

    response = Client().get(f"/avatars/{key}/64.webp")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/avatars/AAAAAAAAAAAAAAAAAAAAAA/256.webp", "/avatars/short/256.webp"])
def test_an_unknown_or_malformed_avatar_is_404(db, path):
    assert Client().get(path).status_code == 404


def test_an_avatar_at_another_size_is_404(api_for, ann):
    api_for(ann).patch("/api/v1/users/me/", {"avatar": image_upload(ann).id}, format="json")
    key = User.objects.get(pk=ann.pk).avatar_key

    assert Client().get(f"/avatars/{key}/128.webp").status_code == 404


def test_someone_elses_upload_cannot_be_your_avatar(api_for, ann, bob):
    upload = image_upload(bob)

    response = api_for(ann).patch("/api/v1/users/me/", {"avatar": upload.id}, format="json")

    assert (response.status_code, response.json()["message"]) == (
        400,
        "`avatar` must be the id of an image you uploaded.",
    )
    assert User.objects.get(pk=ann.pk).avatar_key == ""


def test_a_document_cannot_be_an_avatar(api_for, ann):
    upload = create_upload(ann, io.BytesIO(b"just some notes"), "notes.txt")

    response = api_for(ann).patch("/api/v1/users/me/", {"avatar": upload.id}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_an_image_over_the_decoded_pixel_budget_is_too_large_and_changes_nothing(settings, api_for, ann):
    upload = image_upload(ann)
    settings.UPLOAD_MAX_DECODED_PIXELS = 1000  # lowered after the upload was accepted

    response = api_for(ann).patch("/api/v1/users/me/", {"avatar": upload.id}, format="json")

    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert User.objects.get(pk=ann.pk).avatar_key == ""


def test_a_new_avatar_replaces_the_old_ones_files(api_for, ann, django_capture_on_commit_callbacks):
    api = api_for(ann)
    api.patch("/api/v1/users/me/", {"avatar": image_upload(ann).id}, format="json")
    old_key = User.objects.get(pk=ann.pk).avatar_key

    with django_capture_on_commit_callbacks(execute=True):
        api.patch("/api/v1/users/me/", {"avatar": image_upload(ann).id}, format="json")

    new_key = User.objects.get(pk=ann.pk).avatar_key
    assert new_key != old_key
    assert (avatar_files(old_key), avatar_files(new_key)) == ([False, False], [True, True])


def test_null_removes_the_avatar_and_its_files(api_for, ann, django_capture_on_commit_callbacks):
    api = api_for(ann)
    api.patch("/api/v1/users/me/", {"avatar": image_upload(ann).id}, format="json")
    key = User.objects.get(pk=ann.pk).avatar_key

    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch("/api/v1/users/me/", {"avatar": None}, format="json")

    assert (response.json()["avatar_url"], response.json()["avatar_small_url"]) == (None, None)
    assert avatar_files(key) == [False, False]


def test_deleting_a_user_deletes_their_avatar_files(ann, django_capture_on_commit_callbacks):
    update_profile(ann, {"avatar": image_upload(ann).id})
    key = User.objects.get(pk=ann.pk).avatar_key

    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get(pk=ann.pk).delete()

    assert avatar_files(key) == [False, False]


def test_the_user_object_costs_no_query_for_its_avatar(django_assert_num_queries, ann):
    update_profile(ann, {"avatar": image_upload(ann).id})
    fresh = User.objects.get(pk=ann.pk)

    with django_assert_num_queries(0):
        payload = user_payload(fresh)

    assert payload["avatar_url"] == f"/avatars/{fresh.avatar_key}/256.webp"


def test_a_rooms_members_cost_the_same_queries_with_avatars(django_assert_num_queries, api_for, ann, bob, group_room):
    api = api_for(ann)
    api.get(f"/api/v1/rooms/{group_room.id}/members/")  # warm caches (content types, the token's user)
    with CaptureQueriesContext(connection) as without:
        api.get(f"/api/v1/rooms/{group_room.id}/members/")
    for user in (ann, bob):
        update_profile(user, {"avatar": image_upload(user).id})

    with django_assert_num_queries(len(without)):
        members = api.get(f"/api/v1/rooms/{group_room.id}/members/").json()

    assert all(member["user"]["avatar_url"] for member in members)


# --- Live: user_updated -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_co_members_and_the_users_other_tabs_get_only_what_changed(ws_connect, ann, bob, group_room):
    ann_ws, bob_other_tab = await ws_connect(ann), await ws_connect(bob)

    await database_sync_to_async(update_profile)(bob, {"display_name": "Bobby"})

    expected = {"user": bob.id, "changes": {"display_name": "Bobby"}}
    assert (await receive_until(ann_ws, "user_updated"))["data"] == expected
    assert (await receive_until(bob_other_tab, "user_updated"))["data"] == expected


@pytest.mark.django_db(transaction=True)
async def test_a_member_sharing_several_rooms_gets_user_updated_once(ws_connect, ann, bob, group_room):
    for name in ("Two", "Three"):
        await database_sync_to_async(actions.create_group_room)(ann, name=name, members=[bob.id])
    ann_ws = await ws_connect(ann)

    await database_sync_to_async(update_profile)(bob, {"display_name": "Bobby"})

    await receive_until(ann_ws, "user_updated")
    assert await ann_ws.receive_nothing(timeout=0.5)


@pytest.mark.django_db(transaction=True)
async def test_setting_the_same_name_again_announces_nothing(ws_connect, ann, bob, group_room):
    ann_ws = await ws_connect(ann)

    await database_sync_to_async(update_profile)(bob, {"display_name": "Bob"})

    assert await ann_ws.receive_nothing(timeout=0.5)


@pytest.mark.django_db(transaction=True)
async def test_a_new_avatar_announces_both_urls(ws_connect, ann, bob, group_room, settings, tmp_path):
    ann_ws = await ws_connect(ann)
    upload = await database_sync_to_async(image_upload)(bob)

    await database_sync_to_async(update_profile)(bob, {"avatar": upload.id})

    key = (await database_sync_to_async(User.objects.get)(pk=bob.pk)).avatar_key
    event = await receive_until(ann_ws, "user_updated")
    assert event["data"]["changes"] == {
        "avatar_url": f"/avatars/{key}/256.webp",
        "avatar_small_url": f"/avatars/{key}/64.webp",
    }


# --- The page ---------------------------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_profile_page_needs_sign_in(db):
    response = Client().get("/profile/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/profile/")


def test_the_profile_page_shows_the_forms_and_links_to_the_password_page(ann):
    page = signed_in(ann).get("/profile/").content.decode()

    assert 'name="display_name" maxlength="80" value="Ann"' in page
    assert 'type="file" name="avatar"' in page
    assert '<select name="clear_after">' in page
    assert 'href="/accounts/password/" data-testid="profile-password-link"' in page
    assert 'data-testid="profile-initial">A</span>' in page


def test_the_page_saves_the_display_name_and_says_so(ann):
    client = signed_in(ann)

    response = client.post("/profile/", {"action": "display_name", "display_name": "Ann Lee"})

    assert (response.status_code, response["Location"]) == (302, "/profile/")
    assert User.objects.get(pk=ann.pk).display_name == "Ann Lee"
    assert "Your display name is saved." in client.get("/profile/").content.decode()


def test_the_page_uploads_a_picture_as_the_avatar_and_removes_it(ann):
    client = signed_in(ann)

    client.post("/profile/", {"action": "avatar", "avatar": SimpleUploadedFile("me.png", three_stripes(), "image/png")})

    key = User.objects.get(pk=ann.pk).avatar_key
    assert f'src="/avatars/{key}/256.webp"' in client.get("/profile/").content.decode()
    client.post("/profile/", {"action": "remove_avatar"})
    assert User.objects.get(pk=ann.pk).avatar_key == ""


def test_the_page_refuses_a_long_name_with_the_actions_message_and_keeps_what_was_typed(ann):
    response = signed_in(ann).post("/profile/", {"action": "display_name", "display_name": "x" * 81})

    assert response.status_code == 413
    page = response.content.decode()
    assert "`display_name` is longer than 80 characters." in page
    assert f'value="{"x" * 81}"' in page
    assert User.objects.get(pk=ann.pk).display_name == "Ann"


def test_a_picture_past_the_profile_budget_is_not_even_stored_as_an_upload(settings, ann):
    settings.RATE_LIMIT_PROFILE = 1
    client = signed_in(ann)
    client.post("/profile/", {"action": "display_name", "display_name": "One"})

    response = client.post(
        "/profile/", {"action": "avatar", "avatar": SimpleUploadedFile("me.png", three_stripes(), "image/png")}
    )

    assert response.status_code == 429
    assert not Upload.objects.filter(owner=ann).exists()


def test_the_page_shows_a_refusal_with_its_status(ann):
    response = signed_in(ann).post(
        "/profile/", {"action": "avatar", "avatar": SimpleUploadedFile("notes.png", b"not an image", "image/png")}
    )

    assert response.status_code == 400
    assert 'data-testid="profile-error"' in response.content.decode()
    assert User.objects.get(pk=ann.pk).avatar_key == ""
