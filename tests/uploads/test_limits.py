"""Oversized bodies are stopped early: in the multipart parser and in front of Django's ASGI handler."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser

from uploads.asgi import RequestBodyLimitMiddleware
from uploads.handlers import SizeLimitUploadHandler, upload_was_too_large

BOUNDARY = "confabboundary"


def multipart_body(size: int) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"a" * size
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def parse(body: bytes, request: HttpRequest):
    stream = io.BytesIO(body)
    meta = {"CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}", "CONTENT_LENGTH": str(len(body))}
    handlers = [SizeLimitUploadHandler(request), MemoryFileUploadHandler(request), TemporaryFileUploadHandler(request)]
    for handler in handlers[1:]:
        handler.request = request
    _, parsed_files = MultiPartParser(meta, stream, handlers).parse()
    return parsed_files, stream


def test_parser_stops_reading_the_body_soon_after_the_limit(settings):
    settings.UPLOAD_MAX_BYTES = 100_000
    body = multipart_body(5_000_000)
    request = HttpRequest()

    parsed_files, stream = parse(body, request)

    assert "file" not in parsed_files
    assert upload_was_too_large(request)
    assert stream.tell() <= 100_000 + 3 * 64 * 1024  # a few 64 KiB chunks, not 5 MB
    print(f"\nread {stream.tell()} of {len(body)} bytes before stopping")


def test_files_above_the_memory_threshold_are_spooled_to_disk(settings):
    settings.UPLOAD_MAX_BYTES = 10_000_000
    request = HttpRequest()

    parsed_files, _ = parse(multipart_body(settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1), request)

    assert isinstance(parsed_files["file"], TemporaryUploadedFile)
    assert not upload_was_too_large(request)


# --- ASGI guard -----------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


def http_scope(headers=()) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/uploads/",
        "raw_path": b"/api/v1/uploads/",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "root_path": "",
    }


def chunked_receive(chunks: list[bytes]):
    pulled = {"count": 0}

    async def receive() -> dict:
        index = pulled["count"]
        pulled["count"] += 1
        if index < len(chunks):
            return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}
        return {"type": "http.disconnect"}

    return receive, pulled


async def test_declared_oversized_body_is_refused_without_calling_the_app(settings):
    settings.UPLOAD_MAX_BYTES = 1000
    called = []

    async def app(scope, receive, send):
        called.append(scope)

    send = Recorder()
    receive, pulled = chunked_receive([b"x" * 10])
    await RequestBodyLimitMiddleware(app)(http_scope([(b"content-length", b"999999999")]), receive, send)

    assert (send.status, called, pulled["count"]) == (413, [], 0)
    assert b'"code":"too_large"' in send.sent[1]["body"]


async def test_streamed_body_is_cut_off_at_the_limit_and_django_never_runs_the_view(settings):
    from config.asgi import django_asgi_app

    settings.UPLOAD_MAX_BYTES = 1000
    limit = 1000 + 64 * 1024
    chunks = [b"x" * 16_384] * 100  # 1.6 MB, no Content-Length (chunked)
    receive, pulled = chunked_receive(chunks)
    send = Recorder()

    await RequestBodyLimitMiddleware(django_asgi_app)(http_scope(), receive, send)

    assert send.status == 413
    assert pulled["count"] == limit // 16_384 + 1  # stopped at the first chunk past the limit
    assert len([m for m in send.sent if m["type"] == "http.response.start"]) == 1


async def test_bodies_within_the_limit_pass_through_unchanged(settings):
    settings.UPLOAD_MAX_BYTES = 100_000
    seen = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    receive, _ = chunked_receive([b"a" * 1000, b"b" * 1000])
    send = Recorder()
    await RequestBodyLimitMiddleware(app)(http_scope([(b"content-length", b"2000")]), receive, send)

    assert send.status == 204
    assert seen == [b"a" * 1000, b"b" * 1000]


@pytest.mark.django_db
def test_openapi_schema_documents_the_upload_endpoints(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert {"/api/v1/uploads/", "/api/v1/uploads/{upload_id}/", "/api/v1/uploads/{upload_id}/download/"} <= set(paths)
    post = paths["/api/v1/uploads/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "400", "413"} <= set(post["responses"])
    listing = paths["/api/v1/uploads/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listing["$ref"].endswith("/UploadPageSchema")
