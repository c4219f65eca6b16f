"""DRF's side of the error mapping: ``ActionError`` to a status and a body.

Bodies keep DRF's shape (``detail``, or the field errors of a validation
failure) and always carry one of the contract's ``code`` values, so API
clients branch on the same codes WebSocket clients get. A library's own
code (SimpleJWT's ``token_not_valid``, ``user_inactive``) is kept as
``reason``. Unexpected exceptions become a JSON 500 with ``server_error``.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import HttpRequest, JsonResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import ERROR_STATUS, ActionError, invalid
from .schema import ErrorSchema
from .validation import check_json_depth

logger = logging.getLogger("django.request")

STATUS_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "invalid",
    406: "invalid",
    409: "conflict",
    413: "too_large",
    415: "invalid",
    429: "rate_limited",
}


def exception_handler(exc, context):
    if isinstance(exc, ActionError):
        body = {"detail": exc.message, **exc.as_data()}
        response = Response(body, status=exc.status)
        if exc.code == "rate_limited":
            response["Retry-After"] = str(exc.extra.get("retry_after", 1))
        return response
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML 400; the contract says 413 too_large.
        return Response({"detail": "The request body is too large.", "code": "too_large"}, status=413)
    response = drf_exception_handler(exc, context)
    if response is None:
        return server_error(exc, context)
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    code = data.get("code")
    if code not in ERROR_STATUS:
        if code is not None:
            data["reason"] = code
        data["code"] = STATUS_CODES.get(response.status_code, "server_error")
    response.data = data
    return response


def server_error(exc, context):
    """An unexpected exception: JSON with code ``server_error`` instead of Django's HTML page.

    It is logged with its traceback and announced as Django does
    (``got_request_exception``: error reporters, and the test client, which
    re-raises it). With DEBUG on, Django's debug page helps more, so the
    exception propagates.
    """
    if settings.DEBUG:
        return None
    request = getattr(context.get("request"), "_request", None)
    logger.error(
        "Internal Server Error: %s",
        request.path if request is not None else "",
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    got_request_exception.send(sender=None, request=request)
    set_rollback()
    response = Response({"detail": "Server error.", "code": "server_error"}, status=500)
    response._has_been_logged = True  # already logged with its traceback above
    return response


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``JSON_MAX_DEPTH`` before parsing them.

    Python's ``json`` recurses per level: a body of a few thousand ``[`` ran
    out of stack (``RecursionError``, a 500), on every JSON endpoint including
    the unauthenticated ones. The default parser of every DRF view
    (``DEFAULT_PARSER_CLASSES``).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            check_json_depth(raw, settings.JSON_MAX_DEPTH)
        except ActionError as error:
            raise ParseError(error.message) from None
        return super().parse(io.BytesIO(raw), media_type, parser_context)


def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """An unknown path under ``/api/``: the JSON 404 of the contract, not Django's HTML page."""
    return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)


def errors(*statuses: int) -> dict[int, type]:
    """The error answers an operation can give (401 for every one: all need a token or a session)."""
    return {status_code: ErrorSchema for status_code in sorted({401, *statuses})}


def body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or ``invalid``."""
    if not isinstance(request.data, dict):
        raise invalid("The request body must be a JSON object.")
    return request.data
