"""DRF's side of the error mapping: ``ActionError`` to a status and a body.

Bodies keep DRF's shape (``detail``, or the field errors of a validation
failure) and always carry one of the contract's ``code`` values, so API
clients branch on the same codes WebSocket clients get. A library's own
code (SimpleJWT's ``token_not_valid``, ``user_inactive``) is kept as
``reason``.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ERROR_STATUS, ActionError

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
        return None
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    code = data.get("code")
    if code not in ERROR_STATUS:
        if code is not None:
            data["reason"] = code
        data["code"] = STATUS_CODES.get(response.status_code, "server_error")
    response.data = data
    return response
