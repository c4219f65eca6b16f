"""REST views for uploads: create and list, detail, download, thumbnail.

Thin adapters over ``uploads.actions``. They are sync DRF views: under ASGI
Django runs each request's sync code in a worker thread of its own
(``ThreadSensitiveContext`` per request), so decoding and resizing an image
never blocks the event loop or other requests.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ActionError, invalid
from core.schema import ErrorSchema

from . import actions, handlers
from .models import Upload
from .payloads import upload_payload
from .schema import UploadSchema

ERRORS = {404: ErrorSchema}
UPLOAD_REQUEST = {
    "multipart/form-data": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    }
}
# A browser that is handed an uploaded file must never render it as a page of this origin.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


class UploadPageSchema(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = UploadSchema(many=True)


class UploadPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 100


class UploadListView(APIView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Before authentication: the session authenticator's CSRF check reads
        # request.POST, which parses the multipart body, and the limiting
        # upload handler must be in place before that happens.
        if request.method == "POST":
            handlers.check_content_length(request._request)
            handlers.install_size_limit(request._request)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, ActionError) and exc.code == "unavailable" and "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])  # core.rest sets it for 429 only
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "attached", bool, required=False, description="Only attached (true) or unattached (false)."
            ),
            OpenApiParameter("limit", int, required=False),
            OpenApiParameter("offset", int, required=False),
        ],
        responses={200: UploadPageSchema, 400: ErrorSchema},
        summary="The caller's own uploads, newest first (paginated)",
        operation_id="uploads_list",
    )
    def get(self, request: Request) -> Response:
        attached = request.query_params.get("attached")
        if attached not in (None, "true", "false", "1", "0"):
            raise invalid("`attached` must be true or false.")
        queryset = actions.uploads_of(request.user, attached=None if attached is None else attached in ("true", "1"))
        paginator = UploadPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([upload_payload(upload) for upload in page])

    @extend_schema(
        request=UPLOAD_REQUEST,
        responses={
            201: UploadSchema,
            400: ErrorSchema,
            413: ErrorSchema,
            429: ErrorSchema,
            503: ErrorSchema,
        },
        summary="Upload one file (multipart field `file`)",
        description=(
            "Accepted: JPEG, PNG, GIF, WebP, PDF, plain text and Markdown (UTF-8), ZIP; the type is decided "
            "from the content. Images are re-encoded without metadata, turned upright, scaled to at most "
            "2000 px on the longest side and get a WebP thumbnail (at most 300 px); animations stay animated. "
            "Larger than `UPLOAD_MAX_BYTES` (10 MB by default), or an image of more pixels than "
            "`UPLOAD_MAX_PIXELS` (a frame) or `UPLOAD_MAX_DECODED_PIXELS` (all frames): 413 with `limit`. "
            "More than `RATE_LIMIT_UPLOADS` requests per `RATE_LIMIT_UPLOADS_WINDOW` s, or past "
            "`UPLOAD_QUOTA_BYTES_PER_DAY` bytes in 24 hours: 429 with `retry_after` (and `limit`, `used` "
            "for the quota). Every image slot busy and the queue full: 503 `unavailable` with `retry_after`."
        ),
    )
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("file")
        if handlers.upload_was_too_large(request._request):
            raise handlers.too_large()
        if len(files) != 1:
            raise invalid("Send exactly one file, as the multipart form field `file`.")
        uploaded = files[0]
        if uploaded.size > settings.UPLOAD_MAX_BYTES:  # belt and braces: the handler stops earlier
            raise handlers.too_large()
        try:
            upload = actions.create_upload(request.user, uploaded, uploaded.name)
        finally:
            uploaded.close()
        return Response(upload_payload(upload), status=status.HTTP_201_CREATED)


class UploadDetailView(APIView):
    @extend_schema(responses={200: UploadSchema, **ERRORS}, summary="One upload the caller may see")
    def get(self, request: Request, upload_id: int) -> Response:
        return Response(upload_payload(actions.get_visible_upload(request.user, upload_id)))


def ascii_fallback(name: str) -> str:
    cleaned = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in name)
    return cleaned.strip() or "file"


def content_disposition(name: str, *, attachment: bool) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the exact UTF-8 name in ``filename*``."""
    disposition = "attachment" if attachment else "inline"
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(
    request: Request, name: str, *, content_type: str, filename: str, attachment: bool, etag: str
) -> HttpResponse:
    """Stream a stored file with headers that keep browsers from treating it as a page of ours.

    Stored contents never change under a name, so the ETag is fixed and a
    client that has the file gets 304 without the storage being touched.
    """
    if not name:
        raise Http404
    etag = f'"{etag}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response: HttpResponse = HttpResponseNotModified()
    else:
        try:
            stored = default_storage.open(name, "rb")
        except (FileNotFoundError, OSError):
            raise Http404
        response = FileResponse(stored, content_type=content_type)
        response["Content-Disposition"] = content_disposition(filename, attachment=attachment)
        response["Content-Security-Policy"] = DOWNLOAD_CSP
        response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    # Private: access is checked per user; revalidated hourly so a lost access does not linger long.
    response["Cache-Control"] = "private, max-age=3600"
    return response


# Names a browser or a desktop would open as a page, a script or a program once saved. A download with
# one of these endings is saved as text (``page.html.txt``) so that opening it shows its text.
ACTIVE_EXTENSIONS = frozenset(
    """
    htm html shtml xht xhtml mht mhtml svg svgz xml xsl xslt js mjs cjs jse vbs vbe wsf wsh hta
    bat cmd com exe msi msp scr pif cpl dll lnk reg url inf ps1 psm1 psd1 jar sh bash app swf desktop
    """.split()
)
# Content types a browser renders or runs; a download of one is declared as plain text.
ACTIVE_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/javascript",
        "application/x-msdownload",
    }
)


def safe_download_name(name: str) -> str:
    """The name to save a download as: an active ending gets ``.txt`` after it.

    Trailing dots and spaces are dropped first (Windows drops them on save, so
    ``run.exe.`` would be ``run.exe``).
    """
    name = name.rstrip(". ") or "file"
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    return f"{name}.txt" if extension in ACTIVE_EXTENSIONS else name


def _served_content_type(upload: Upload) -> str:
    content_type = upload.content_type.split(";", 1)[0].strip().lower()
    if content_type in ACTIVE_CONTENT_TYPES:
        content_type = "text/plain"
    if content_type.startswith("text/"):
        return f"{content_type}; charset=utf-8"
    return content_type


BINARY = {(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS}


class UploadDownloadView(APIView):
    @extend_schema(
        responses=BINARY,
        summary="The file itself",
        description=(
            "Images are served inline, every other type as an attachment; always with `nosniff`. Names that"
            " would be opened as a page, script or program get `.txt` after them, active types are sent as"
            " `text/plain`."
        ),
    )
    def get(self, request: Request, upload_id: int) -> HttpResponse:
        upload = actions.get_visible_upload(request.user, upload_id)
        return file_response(
            request,
            upload.file.name,
            etag=upload.sha256,
            content_type=_served_content_type(upload),
            filename=safe_download_name(upload.original_name),
            attachment=not upload.is_image,
        )


class UploadThumbnailView(APIView):
    @extend_schema(responses=BINARY, summary="The image's WebP thumbnail (at most 300 px); 404 for other files")
    def get(self, request: Request, upload_id: int) -> HttpResponse:
        upload = actions.get_visible_upload(request.user, upload_id)
        if not upload.thumbnail:
            raise Http404
        stem = upload.original_name.rsplit(".", 1)[0] if "." in upload.original_name else upload.original_name
        return file_response(
            request,
            upload.thumbnail.name,
            etag=hashlib.sha256(upload.thumbnail.name.encode()).hexdigest()[:40],
            content_type="image/webp",
            filename=f"{stem}-thumbnail.webp",
            attachment=False,
        )
