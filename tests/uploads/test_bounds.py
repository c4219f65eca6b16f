"""What one user, and many at once, can make the server spend on uploads.

- the rate: ``RATE_LIMIT_UPLOADS`` requests per ``RATE_LIMIT_UPLOADS_WINDOW`` s;
- the quota: ``UPLOAD_QUOTA_BYTES_PER_DAY`` stored bytes in any 24 hours;
- the memory of one image: frames × width × height within ``UPLOAD_MAX_DECODED_PIXELS``,
  judged from the header before anything is decoded;
- the images decoded at once: ``UPLOAD_IMAGE_WORKERS``, with ``UPLOAD_IMAGE_QUEUE`` waiting, then 503.

Every image is made by Pillow here; files go to the real (temporary) storage.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from PIL import Image

from uploads.actions import uploaded_bytes
from uploads.image_slots import image_slots
from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db


def many_frame_gif(frames: int, size=(200, 200)) -> bytes:
    """An animation of ``frames`` different frames: a small file that decodes to frames × width × height pixels."""
    images = [Image.new("RGB", size, (index % 256, index * 7 % 256, index // 256)) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=40, loop=0)
    return buffer.getvalue()


def large_png(size=(3000, 2000)) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).save(buffer, format="PNG")
    return buffer.getvalue()


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    return body


# --- Decoded pixels ---------------------------------------------------------------------


def test_an_animation_of_many_frames_over_the_decoded_pixel_limit_is_413_and_stores_nothing(
    ann, upload_file, settings, media_root
):
    settings.UPLOAD_MAX_DECODED_PIXELS = 20_000_000
    gif = many_frame_gif(600)  # 600 × 200 × 200 = 24 million pixels, in a file of a few hundred KB

    body = assert_refused(upload_file(ann, "long.gif", gif), 413, "too_large")

    assert body["limit"] == 20_000_000
    assert "600 frames of 200×200" in body["message"]
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_an_animation_exactly_at_the_decoded_pixel_limit_is_accepted(ann, upload_file, settings):
    settings.UPLOAD_MAX_DECODED_PIXELS = 60 * 200 * 200

    response = upload_file(ann, "exact.gif", many_frame_gif(60))

    assert response.status_code == 201, response.content
    assert response.json()["width"] == 200


def test_the_thumbnail_of_a_many_frame_animation_is_one_frame(ann, upload_file):
    response = upload_file(ann, "long.gif", many_frame_gif(60))

    upload = Upload.objects.get(pk=response.json()["id"])
    with upload.thumbnail.open("rb") as handle:
        thumbnail = Image.open(io.BytesIO(handle.read()))
    assert getattr(thumbnail, "n_frames", 1) == 1


def test_a_large_png_over_the_decoded_pixel_limit_is_413(ann, upload_file, settings):
    settings.UPLOAD_MAX_DECODED_PIXELS = 5_999_999  # 3000 × 2000 is 6 million

    body = assert_refused(upload_file(ann, "large.png", large_png((3000, 2000))), 413, "too_large")

    assert body["limit"] == 5_999_999
    assert Upload.objects.count() == 0


def test_the_decoded_pixel_limit_is_judged_before_waiting_to_decode(ann, upload_file, settings):
    """With every image slot taken, an over-budget animation still gets its 413 at once: no decoding was needed."""
    settings.UPLOAD_MAX_DECODED_PIXELS = 1_000_000
    settings.UPLOAD_IMAGE_WORKERS, settings.UPLOAD_IMAGE_QUEUE = 1, 0

    with image_slots.slot():
        body = assert_refused(upload_file(ann, "long.gif", many_frame_gif(30)), 413, "too_large")

    assert body["limit"] == 1_000_000


# --- The image slots --------------------------------------------------------------------


def test_an_image_is_503_with_retry_after_when_every_slot_is_busy_and_the_queue_is_full(
    ann, upload_file, settings, media_root
):
    settings.UPLOAD_IMAGE_WORKERS, settings.UPLOAD_IMAGE_QUEUE = 1, 0

    with image_slots.slot():
        response = upload_file(ann, "dot.png", files.image_bytes())

    body = assert_refused(response, 503, "unavailable")
    assert body["retry_after"] == 3
    assert response["Retry-After"] == "3"
    assert Upload.objects.count() == 0
    assert stored_files(media_root) == []


def test_as_many_images_as_workers_are_processed_at_once(settings):
    settings.UPLOAD_IMAGE_WORKERS, settings.UPLOAD_IMAGE_QUEUE = 2, 0

    with image_slots.slot(), image_slots.slot():
        assert image_slots.running == 2
        with pytest.raises(Exception) as refused:
            with image_slots.slot():
                pass

    assert refused.value.code == "unavailable"
    assert image_slots.running == 0


def test_documents_need_no_image_slot(ann, upload_file, settings):
    settings.UPLOAD_IMAGE_WORKERS, settings.UPLOAD_IMAGE_QUEUE = 1, 0

    with image_slots.slot():
        response = upload_file(ann, "notes.txt", b"plain text")

    assert response.status_code == 201, response.content


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_an_image_waits_in_the_queue_for_a_slot_and_is_then_processed(ann, upload_file, settings):
    settings.UPLOAD_IMAGE_WORKERS, settings.UPLOAD_IMAGE_QUEUE = 1, 1
    results: list = []
    slot = image_slots.slot()
    slot.__enter__()
    try:
        def upload_in_a_thread() -> None:
            try:
                results.append(upload_file(ann, "queued.png", files.image_bytes()).status_code)
            finally:
                connection.close()

        waiting = threading.Thread(target=upload_in_a_thread)
        waiting.start()
        wait_until(lambda: image_slots.waiting == 1, "the upload waits for the slot")
        beyond_the_queue = upload_file(ann, "refused.png", files.image_bytes())
    finally:
        slot.__exit__(None, None, None)
    waiting.join(timeout=30)

    assert beyond_the_queue.status_code == 503
    assert results == [201]
    assert Upload.objects.filter(original_name="queued.png").count() == 1


# --- Rate -------------------------------------------------------------------------------


def test_uploads_past_the_rate_limit_are_429_with_retry_after(ann, upload_file, settings, media_root):
    settings.RATE_LIMIT_UPLOADS, settings.RATE_LIMIT_UPLOADS_WINDOW = 2, 600
    for index in range(2):
        assert upload_file(ann, f"{index}.txt", b"text").status_code == 201

    response = upload_file(ann, "third.txt", b"text")

    body = assert_refused(response, 429, "rate_limited")
    assert 1 <= body["retry_after"] <= 600
    assert response["Retry-After"] == str(body["retry_after"])
    assert "at most 2 every 600 s" in body["message"]
    assert Upload.objects.count() == 2
    assert len(stored_files(media_root)) == 2


def test_refused_uploads_count_against_the_rate_limit(ann, upload_file, settings):
    settings.RATE_LIMIT_UPLOADS = 2
    for _ in range(2):
        assert upload_file(ann, "x.png", b"not a png at all \x00").status_code == 400

    assert_refused(upload_file(ann, "ok.txt", b"text"), 429, "rate_limited")


def test_the_upload_rate_limit_is_per_user(ann, bob, upload_file, settings):
    settings.RATE_LIMIT_UPLOADS = 1
    assert upload_file(ann, "a.txt", b"text").status_code == 201

    assert upload_file(bob, "b.txt", b"text").status_code == 201


# --- Quota ------------------------------------------------------------------------------


def test_uploaded_bytes_are_summed_in_one_query(ann, upload_file, django_assert_num_queries):
    upload_file(ann, "a.txt", b"a" * 300)
    upload_file(ann, "b.txt", b"b" * 200)

    with django_assert_num_queries(1):
        total = uploaded_bytes(ann, timezone.now() - timedelta(hours=24))

    assert total == 500


def test_an_upload_that_exactly_fills_the_quota_is_accepted(ann, upload_file, settings):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000
    assert upload_file(ann, "a.txt", b"a" * 600).status_code == 201

    assert upload_file(ann, "b.txt", b"b" * 400).status_code == 201


def test_an_upload_past_the_daily_quota_is_429_until_the_oldest_upload_is_a_day_old(
    ann, upload_file, settings, media_root
):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000
    first = upload_file(ann, "a.txt", b"a" * 600).json()["id"]
    Upload.objects.filter(pk=first).update(created_at=timezone.now() - timedelta(hours=23))

    response = upload_file(ann, "b.txt", b"b" * 401)

    body = assert_refused(response, 429, "rate_limited")
    assert (body["limit"], body["used"]) == (1000, 600)
    assert 3590 <= body["retry_after"] <= 3600  # the first upload leaves the window in an hour
    assert response["Retry-After"] == str(body["retry_after"])
    assert Upload.objects.count() == 1
    assert len(stored_files(media_root)) == 1


def test_uploads_older_than_a_day_leave_the_quota(ann, upload_file, settings):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000
    first = upload_file(ann, "a.txt", b"a" * 600).json()["id"]
    Upload.objects.filter(pk=first).update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    assert upload_file(ann, "b.txt", b"b" * 600).status_code == 201


def test_removed_uploads_still_count_toward_the_quota(ann, upload_file, settings):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000
    first = upload_file(ann, "a.txt", b"a" * 600).json()["id"]
    Upload.objects.filter(pk=first).update(removed_at=timezone.now(), file="")

    assert_refused(upload_file(ann, "b.txt", b"b" * 600), 429, "rate_limited")


def test_the_quota_is_per_user(ann, bob, upload_file, settings):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000
    assert upload_file(ann, "a.txt", b"a" * 1000).status_code == 201

    assert upload_file(bob, "b.txt", b"b" * 1000).status_code == 201


def test_a_file_larger_than_the_whole_quota_is_413_with_the_limit(ann, upload_file, settings):
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 1000

    body = assert_refused(upload_file(ann, "big.txt", b"a" * 1001), 413, "too_large")

    assert body["limit"] == 1000
    assert Upload.objects.count() == 0


def test_the_quota_counts_the_stored_size_of_a_re_encoded_image(ann, upload_file, settings):
    """The received size is checked first; the stored one, checked again when the row is saved, is what counts."""
    png = files.image_bytes((64, 48), "PNG")
    settings.UPLOAD_QUOTA_BYTES_PER_DAY = 10_000
    stored = upload_file(ann, "dot.png", png).json()["size"]

    assert uploaded_bytes(ann, timezone.now() - timedelta(hours=24)) == stored
