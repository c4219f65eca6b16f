"""Uploads through the real stack: a WebSocket member sees a removal, a real ASGI server takes and serves files."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
import uuid

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from chat import actions as chat_actions
from tests.conftest import receive_until
from uploads import actions
from uploads.models import Upload

from . import files

pytestmark = pytest.mark.django_db(transaction=True)


def stored_upload(user, name: str, data: bytes) -> Upload:
    return actions.create_upload(user, io.BytesIO(data), name)


async def test_room_member_sees_the_message_lose_a_removed_attachment(ws_connect, ann, bob, group_room, moderator):
    upload = await database_sync_to_async(stored_upload)(ann, "photo.png", files.image_bytes())
    sent, _ = await database_sync_to_async(chat_actions.send_message)(ann, group_room.id, attachments=[upload.id])
    bob_socket = await ws_connect(bob)

    await database_sync_to_async(actions.remove_upload)(moderator, upload.id, reason="not allowed here")

    frame = await receive_until(bob_socket, "attachment_removed")
    assert frame["data"] == {"room": group_room.id, "message": sent["id"], "upload": upload.id}


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def call(url: str, token: str | None = None, body: bytes | None = None, content_type: str | None = None):
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.servers
def test_real_server_processes_a_large_photo_off_the_event_loop(start_server, ann, tmp_path, settings):
    """A 24-megapixel JPEG of a few MB (spooled to disk by Django) becomes a 2000 px image; the server keeps answering.

    Prints the upload time and the slowest /healthz answer seen meanwhile (figures, not assertions).
    """
    server = start_server(extra_env={"MEDIA_ROOT": str(tmp_path / "media")})
    token = str(AccessToken.for_user(ann))
    photo = files.noisy_jpeg((6000, 4000))
    assert len(photo) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    body, content_type = multipart("photo.jpg", photo)
    health: list[float] = []
    done = threading.Event()

    def poll_health() -> None:
        while not done.is_set():
            started = time.perf_counter()
            status, _, _ = call(f"{server.http_url}/healthz")
            health.append(time.perf_counter() - started)
            assert status == 200

    poller = threading.Thread(target=poll_health)
    poller.start()
    started = time.perf_counter()
    try:
        status, _, raw = call(f"{server.http_url}/api/v1/uploads/", token, body, content_type)
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        poller.join()

    assert status == 201, raw
    payload = json.loads(raw)
    assert (payload["width"], payload["height"], payload["content_type"]) == (2000, 1333, "image/jpeg")
    status, headers, data = call(f"{server.http_url}{payload['url']}", token)
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg" and headers["X-Content-Type-Options"] == "nosniff"
    assert files.open_image(data).size == (2000, 1333)
    print(
        f"\n24 MP JPEG ({len(photo) // 1024} KiB) uploaded and processed in {elapsed:.2f} s; "
        f"{len(health)} /healthz answers meanwhile, slowest {max(health, default=0) * 1000:.0f} ms"
    )
