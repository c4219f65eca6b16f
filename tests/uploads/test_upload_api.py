"""POST /api/v1/uploads/: what is accepted, what is refused, and what gets stored.

Every file is generated here; stored results are checked by opening the bytes
that were written to storage.
"""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db


def stored_bytes(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def created(response) -> Upload:
    assert response.status_code == 201, response.content
    return Upload.objects.get(pk=response.json()["id"])


# --- Accepted files ---------------------------------------------------------------------


def test_small_png_is_stored_with_its_size_and_a_thumbnail(ann, upload_file, media_root):
    response = upload_file(ann, "dot.png", files.image_bytes((64, 48), "PNG"))

    upload = created(response)
    body = response.json()
    assert set(body) == {"id", "name", "content_type", "size", "url", "thumbnail_url", "width", "height", "created_at"}
    assert (body["name"], body["content_type"], body["width"], body["height"]) == ("dot.png", "image/png", 64, 48)
    assert body["url"] == f"/api/v1/uploads/{upload.id}/download/"
    assert body["thumbnail_url"] == f"/api/v1/uploads/{upload.id}/thumbnail/"
    stored = stored_bytes(upload.file.name)
    assert body["size"] == len(stored) == upload.size
    assert files.open_image(stored).size == (64, 48)
    assert files.open_image(stored_bytes(upload.thumbnail.name)).format == "WEBP"
    assert str(media_root) in default_storage.path(upload.file.name)


def test_stored_names_are_random_and_keep_nothing_of_the_users_name(ann, upload_file):
    upload = created(upload_file(ann, "Secret Plans.png", files.image_bytes()))

    assert upload.file.name.startswith("uploads/") and upload.file.name.endswith(".png")
    assert "Secret" not in upload.file.name
    assert upload.thumbnail.name.startswith("thumbnails/") and upload.thumbnail.name.endswith(".webp")
    assert upload.original_name == "Secret Plans.png"


def test_large_jpeg_is_scaled_to_2000_px_and_its_thumbnail_to_300(ann, upload_file):
    upload = created(upload_file(ann, "panorama.jpg", files.gradient_jpeg((3000, 1500))))

    stored = files.open_image(stored_bytes(upload.file.name))
    thumbnail = files.open_image(stored_bytes(upload.thumbnail.name))
    assert (stored.format, stored.size) == ("JPEG", (2000, 1000))
    assert (upload.width, upload.height, upload.content_type) == (2000, 1000, "image/jpeg")
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (300, 150))


def test_exif_orientation_is_applied_and_all_exif_with_gps_is_gone(ann, upload_file):
    original = files.jpeg_with_orientation_and_gps()
    assert b"Exif" in original and files.CAMERA_NAME.encode() in original

    upload = created(upload_file(ann, "holiday.jpg", original))

    data = stored_bytes(upload.file.name)
    assert b"Exif" not in data
    assert files.CAMERA_NAME.encode() not in data
    assert b"Exif" not in stored_bytes(upload.thumbnail.name)
    image = files.open_image(data)
    assert image.size == (200, 400)  # turned upright: width and height swapped
    assert (upload.width, upload.height) == (200, 400)
    assert not image.getexif()
    top, bottom = image.convert("RGB").getpixel((100, 20)), image.convert("RGB").getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60  # the red half is on top after a 90° clockwise turn
    assert bottom[2] > 200 and bottom[0] < 60


def test_animated_gif_keeps_every_frame_and_its_timing(ann, upload_file):
    upload = created(upload_file(ann, "blink.gif", files.animated_gif()))

    image = files.open_image(stored_bytes(upload.file.name))
    assert (image.format, image.size, image.n_frames) == ("GIF", (50, 40), 3)
    durations = []
    colors = []
    for index in range(image.n_frames):
        image.seek(index)
        durations.append(image.info["duration"])
        colors.append(image.convert("RGB").getpixel((25, 20)))
    assert durations == [100, 200, 300]
    assert colors == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert image.info.get("loop") == 0
    thumbnail = files.open_image(stored_bytes(upload.thumbnail.name))
    assert (thumbnail.size, getattr(thumbnail, "n_frames", 1)) == ((50, 40), 1)  # the first frame


def test_wide_animated_gif_is_scaled_frame_by_frame(ann, upload_file):
    upload = created(upload_file(ann, "banner.gif", files.animated_gif(size=(2400, 100))))

    image = files.open_image(stored_bytes(upload.file.name))
    assert (image.size, image.n_frames) == ((2000, 83), 3)
    assert (upload.width, upload.height) == (2000, 83)


def test_webp_and_static_gif_keep_their_format(ann, upload_file):
    webp = created(upload_file(ann, "a.webp", files.image_bytes(fmt="WEBP")))
    gif = created(upload_file(ann, "b.gif", files.image_bytes(fmt="GIF")))

    assert files.open_image(stored_bytes(webp.file.name)).format == "WEBP"
    assert files.open_image(stored_bytes(gif.file.name)).format == "GIF"
    assert (webp.content_type, gif.content_type) == ("image/webp", "image/gif")


def test_documents_are_stored_byte_for_byte_without_thumbnail(ann, upload_file):
    documents = {
        "report.pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "application/pdf"),
        "notes.txt": ("Grüße, plain text\n".encode(), "text/plain"),
        "README.md": (b"# Title\n\n*markdown*\n", "text/markdown"),
        "bundle.zip": (files.zip_bytes(), "application/zip"),
        "script.py": (b"print('hi')\n", "text/plain"),
        "report.docx": (files.zip_bytes({"word/document.xml": "<w/>"}), "application/zip"),
    }
    for name, (data, content_type) in documents.items():
        response = upload_file(ann, name, data)
        upload = created(response)
        assert (upload.content_type, upload.original_name) == (content_type, name)
        assert stored_bytes(upload.file.name) == data
        assert response.json()["thumbnail_url"] is None
        assert (upload.width, upload.height, upload.size) == (None, None, len(data))


def test_the_clients_content_type_is_ignored(ann, upload_file):
    upload = created(upload_file(ann, "photo", files.image_bytes(fmt="PNG"), content_type="text/html"))

    assert upload.content_type == "image/png"
    assert upload.file.name.endswith(".png")


def test_file_names_are_kept_as_cleaned_metadata(ann, upload_file):
    upload = created(upload_file(ann, "Résumé <draft>.txt", b"text"))

    assert upload.original_name == "Résumé _draft_.txt"


def test_clean_filename_drops_paths_controls_and_header_characters():
    from uploads.processing import clean_filename

    assert clean_filename('..\\evil/"quote"\r\n<b>.txt') == "_quote____b_.txt"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("  ..  ") == "file"
    assert clean_filename("a" * 300 + ".pdf") == "a" * 196 + ".pdf"


# --- Refused files ----------------------------------------------------------------------


def assert_refused(response, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    for fragment in fragments:
        assert fragment in body["message"]
    assert Upload.objects.count() == 0


def test_png_that_is_really_a_zip_is_refused(ann, upload_file, media_root):
    response = upload_file(ann, "cat.png", files.zip_bytes(), content_type="image/png")

    assert_refused(response, 400, "invalid", "named like a PNG image", "ZIP archive")
    assert response.json()["detected"] == "application/zip"
    assert not any(path.is_file() for path in media_root.rglob("*"))


def test_text_file_named_png_is_refused(ann, upload_file):
    response = upload_file(ann, "cat.png", b"just some text\n", content_type="image/png")

    assert_refused(response, 400, "invalid", "named like a PNG image", "plain text")


def test_jpeg_named_gif_is_refused(ann, upload_file):
    assert_refused(upload_file(ann, "x.gif", files.image_bytes(fmt="JPEG")), 400, "invalid", "GIF image", "JPEG")


def test_png_signature_with_garbage_is_refused_as_damaged(ann, upload_file):
    response = upload_file(ann, "broken.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)

    assert_refused(response, 400, "invalid", "damaged")


def test_truncated_jpeg_is_refused_as_damaged(ann, upload_file):
    data = files.gradient_jpeg((400, 300))

    assert_refused(upload_file(ann, "cut.jpg", data[: len(data) // 2]), 400, "invalid", "damaged")


def test_binary_file_of_an_unsupported_type_is_refused(ann, upload_file):
    response = upload_file(ann, "program.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")

    assert_refused(response, 400, "invalid", "Unsupported file type")


def test_text_with_invalid_utf8_is_refused(ann, upload_file):
    assert_refused(upload_file(ann, "latin1.txt", "Grüße".encode("latin-1")), 400, "invalid", "Unsupported")


def test_fake_zip_is_refused(ann, upload_file):
    assert_refused(upload_file(ann, "a.zip", b"PK\x03\x04" + b"\x00" * 50), 400, "invalid", "not a valid one")


def test_empty_file_is_refused(ann, upload_file):
    assert_refused(upload_file(ann, "empty.txt", b""), 400, "invalid", "empty")


def test_request_without_a_file_field_is_refused(ann, api_for):
    response = api_for(ann).post("/api/v1/uploads/", {"name": "x"}, format="multipart")

    assert_refused(response, 400, "invalid", "field `file`")


def test_decompression_bomb_is_refused_before_decoding(ann, upload_file):
    bomb = files.png_bomb(50_000, 50_000)
    assert len(bomb) < 2000

    assert_refused(upload_file(ann, "bomb.png", bomb), 413, "too_large", "too large to process")


def test_image_over_the_pixel_limit_is_refused(ann, upload_file, settings):
    settings.UPLOAD_MAX_PIXELS = 1_000_000

    response = upload_file(ann, "big.png", files.image_bytes((1001, 1000), "PNG"))

    assert_refused(response, 413, "too_large", "1001×1000", "1,000,000 pixels")


def test_animation_whose_frames_together_exceed_the_decoded_pixel_limit_is_refused(ann, upload_file, settings):
    settings.UPLOAD_MAX_DECODED_PIXELS = 5999  # one 50×40 frame is 2000 pixels, three are 6000

    response = upload_file(ann, "long.gif", files.animated_gif())

    assert_refused(response, 413, "too_large", "3 frames of 50×40", "5,999 pixels in all frames")
    assert response.json()["limit"] == 5999


# --- Size limit -------------------------------------------------------------------------


def test_file_just_over_the_size_limit_is_refused_with_413(ann, upload_file, settings, media_root):
    settings.UPLOAD_MAX_BYTES = 1000

    response = upload_file(ann, "big.txt", b"a" * 1001)

    assert_refused(response, 413, "too_large", "1000 bytes")
    assert not any(path.is_file() for path in media_root.rglob("*"))


def test_file_of_exactly_the_size_limit_is_accepted(ann, upload_file, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    assert created(upload_file(ann, "fits.txt", b"a" * 1000)).size == 1000


def test_body_declared_far_over_the_limit_is_refused_before_parsing(ann, upload_file, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    assert_refused(upload_file(ann, "huge.txt", b"a" * 200_000), 413, "too_large")


def test_image_larger_than_the_limit_before_reencoding_is_refused(ann, upload_file, settings):
    data = files.gradient_jpeg((600, 400))
    settings.UPLOAD_MAX_BYTES = len(data) - 1

    assert_refused(upload_file(ann, "photo.jpg", data), 413, "too_large")


# --- Listing ----------------------------------------------------------------------------


def test_list_shows_only_the_callers_uploads_newest_first_paginated(ann, bob, upload_file, api_for):
    ids = [created(upload_file(ann, f"{n}.txt", b"text")).id for n in range(3)]
    created(upload_file(bob, "bob.txt", b"text"))

    first = api_for(ann).get("/api/v1/uploads/?limit=2").json()
    second = api_for(ann).get("/api/v1/uploads/?limit=2&offset=2").json()

    assert first["count"] == 3
    assert [item["id"] for item in first["results"]] == [ids[2], ids[1]]
    assert [item["id"] for item in second["results"]] == [ids[0]]
    assert first["results"][0]["name"] == "2.txt"


def test_list_filters_attached_and_unattached(ann, group_room, upload_file, api_for):
    from chat.actions import send_message

    attached = created(upload_file(ann, "a.txt", b"text"))
    loose = created(upload_file(ann, "b.txt", b"text"))
    send_message(ann, group_room.id, attachments=[attached.id])

    unattached = api_for(ann).get("/api/v1/uploads/?attached=false").json()["results"]
    only_attached = api_for(ann).get("/api/v1/uploads/?attached=true").json()["results"]

    assert [item["id"] for item in unattached] == [loose.id]
    assert [item["id"] for item in only_attached] == [attached.id]
    assert api_for(ann).get("/api/v1/uploads/?attached=maybe").status_code == 400


def test_uploading_needs_authentication(upload_file, api_for):
    from rest_framework.test import APIClient

    response = APIClient().post("/api/v1/uploads/", {"file": io.BytesIO(b"x")}, format="multipart")

    assert response.status_code == 401


def test_stored_jpeg_is_progressive_with_sensible_quality(ann, upload_file):
    upload = created(upload_file(ann, "p.jpg", files.gradient_jpeg((800, 600))))

    image = files.open_image(stored_bytes(upload.file.name))
    assert image.info.get("progressive") == 1
    assert isinstance(image, Image.Image)


# --- Metadata and unusual images ----------------------------------------------------------------


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[files.CAMERA_MAKE] = files.CAMERA_NAME
    exif.get_ifd(files.GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0)})
    return exif


@pytest.mark.parametrize("fmt, name", [("PNG", "meta.png"), ("WEBP", "meta.webp")])
def test_exif_is_stripped_from_png_and_webp_too(ann, upload_file, fmt, name):
    data = files.image_bytes((80, 60), fmt, exif=exif_with_gps())
    assert files.CAMERA_NAME.encode() in data

    upload = created(upload_file(ann, name, data))

    stored = stored_bytes(upload.file.name)
    assert files.CAMERA_NAME.encode() not in stored
    assert b"Exif" not in stored and b"eXIf" not in stored
    assert not files.open_image(stored).getexif()


def test_png_text_chunks_are_stripped(ann, upload_file):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Secret Person")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS 52.5</x:xmpmeta>")
    data = files.image_bytes((80, 60), "PNG", pnginfo=info)
    assert b"Secret Person" in data

    stored = stored_bytes(created(upload_file(ann, "t.png", data)).file.name)

    assert b"Secret Person" not in stored and b"xmpmeta" not in stored


def test_cmyk_jpeg_is_stored_as_rgb(ann, upload_file):
    upload = created(upload_file(ann, "print.jpg", files.image_bytes((120, 90), "JPEG", (0, 255, 255, 0), "CMYK")))

    assert files.open_image(stored_bytes(upload.file.name)).mode == "RGB"


def test_transparent_palette_png_is_resized_smoothly_and_keeps_transparency(ann, upload_file):
    image = Image.new("P", (3000, 1000), 0)  # index 0: transparent
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.paste(1, (0, 0, 1500, 1000))  # index 1: opaque blue, left half
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)

    upload = created(upload_file(ann, "logo.png", buffer.getvalue()))

    stored = files.open_image(stored_bytes(upload.file.name))
    assert (stored.size, stored.mode) == ((2000, 667), "RGBA")
    assert stored.getpixel((1900, 300))[3] == 0  # the transparent half stays transparent
    assert stored.getpixel((100, 300)) == (0, 0, 255, 255)


def test_sixteen_bit_png_is_accepted(ann, upload_file):
    upload = created(upload_file(ann, "depth.png", files.image_bytes((40, 30), "PNG", 40000, "I;16")))

    assert (upload.width, upload.height) == (40, 30)


def test_animated_webp_keeps_its_frames(ann, upload_file):
    frames = [Image.new("RGB", (60, 40), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=[150, 250], loop=0)

    upload = created(upload_file(ann, "anim.webp", buffer.getvalue()))

    stored = files.open_image(stored_bytes(upload.file.name))
    assert (stored.format, stored.n_frames, stored.size) == ("WEBP", 2, (60, 40))


# --- Browser sessions ---------------------------------------------------------------------------


@pytest.fixture
def browser_for():
    """A session-authenticated client that enforces CSRF like a browser page would need."""
    from rest_framework.test import APIClient

    def make(user):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        client.get("/")  # sets the CSRF cookie
        return client

    return make


def session_upload(client, name: str, data: bytes, *, csrf: bool = True):
    from django.core.files.uploadedfile import SimpleUploadedFile

    headers = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if csrf else {}
    return client.post("/api/v1/uploads/", {"file": SimpleUploadedFile(name, data)}, format="multipart", **headers)


def test_browser_session_upload_with_csrf_header_is_accepted(ann, browser_for):
    assert created(session_upload(browser_for(ann), "a.txt", b"text")).owner_id == ann.id


def test_browser_session_upload_without_csrf_token_is_refused(ann, browser_for):
    response = session_upload(browser_for(ann), "a.txt", b"text", csrf=False)

    assert response.status_code == 403
    assert Upload.objects.count() == 0


def test_browser_session_upload_over_the_limit_is_413_even_though_csrf_reads_the_body(ann, browser_for, settings):
    from uploads.handlers import upload_was_too_large

    settings.UPLOAD_MAX_BYTES = 1000

    response = session_upload(browser_for(ann), "big.txt", b"a" * 1001)

    assert_refused(response, 413, "too_large")
    assert upload_was_too_large(response.wsgi_request)  # the limiting handler stopped the CSRF check's parse


def test_rgb_png_with_a_transparent_colour_key_keeps_it(ann, upload_file):
    image = Image.new("RGB", (40, 30), (0, 255, 0))
    image.paste((255, 255, 255), (0, 0, 20, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=(255, 255, 255))

    stored = files.open_image(stored_bytes(created(upload_file(ann, "key.png", buffer.getvalue())).file.name))

    assert stored.convert("RGBA").getpixel((5, 5))[3] == 0
    assert stored.convert("RGBA").getpixel((35, 5)) == (0, 255, 0, 255)


def test_large_document_is_moved_from_the_temporary_file_into_storage(ann, upload_file, settings):
    data = b"line of text\n" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE // 13 + 1000)  # spooled to disk

    upload = created(upload_file(ann, "big.txt", data))

    assert stored_bytes(upload.file.name) == data
    assert upload.size == len(data)


def test_listing_costs_the_same_queries_for_one_upload_or_many(ann, upload_file, api_for, django_assert_num_queries):
    client = api_for(ann)
    created(upload_file(ann, "first.txt", b"text"))
    with django_assert_num_queries(3):  # the JWT user, the count, the page
        client.get("/api/v1/uploads/")
    for n in range(5):
        created(upload_file(ann, f"{n}.txt", b"text"))

    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/uploads/").json()["results"]) == 6
