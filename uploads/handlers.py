"""Keeping oversized request bodies out of memory and off the disk.

Django's multipart parser hands file data to upload handlers chunk by chunk
(64 KiB); its own handlers keep a file in memory up to
``FILE_UPLOAD_MAX_MEMORY_SIZE`` and spool it to a temporary file above. The
handler here goes first and stops the parser as soon as the file data passes
``UPLOAD_MAX_BYTES``: the rest of the body is not read, and nothing more is
written anywhere. A ``Content-Length`` that is already too large is refused
before the parser starts (``check_content_length``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from core.errors import ActionError

# Room for the multipart envelope (boundaries, part headers, a long file name)
# around a file of exactly the limit.
MULTIPART_OVERHEAD = 64 * 1024
TOO_LARGE_FLAG = "_confab_upload_too_large"


def too_large() -> ActionError:
    limit = settings.UPLOAD_MAX_BYTES
    return ActionError("too_large", f"The file is larger than the limit of {_human_bytes(limit)}.", limit=limit)


def _human_bytes(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def max_request_bytes() -> int:
    return settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD


def check_content_length(request: HttpRequest) -> None:
    """Refuse before reading anything when the declared body cannot hold an acceptable file."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_request_bytes():
        raise too_large()


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts file bytes as they arrive and stops the upload past the limit.

    Stopping with ``connection_reset=True`` tells Django not to read (exhaust)
    the rest of the body. The view learns about it from a flag on the request
    (``upload_was_too_large``), because the parser then returns what it had
    parsed so far, without the file.
    """

    def __init__(self, request: HttpRequest | None = None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = settings.UPLOAD_MAX_BYTES if limit is None else limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            if self.request is not None:
                setattr(self.request, TOO_LARGE_FLAG, True)
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def install_size_limit(request: HttpRequest) -> None:
    """Put the limiting handler in front of Django's own (before the body is parsed)."""
    request.upload_handlers.insert(0, SizeLimitUploadHandler(request))


def upload_was_too_large(request: HttpRequest) -> bool:
    return bool(getattr(request, TOO_LARGE_FLAG, False))
