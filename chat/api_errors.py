"""DRF's side of the error mapping: ``ActionError`` to a status and a body.

Bodies keep DRF's shape (``detail``) and add the contract's ``code``, so API
clients branch on the same codes WebSocket clients get.
"""

from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ActionError


def exception_handler(exc, context):
    if isinstance(exc, ActionError):
        body = {"detail": exc.message, **exc.as_data()}
        response = Response(body, status=exc.status)
        if exc.code == "rate_limited":
            response["Retry-After"] = str(exc.extra.get("retry_after", 1))
        return response
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        codes = {
            400: "invalid",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "invalid",
            413: "too_large",
            415: "invalid",
            429: "rate_limited",
        }
        response.data["code"] = codes.get(response.status_code, "server_error")
    return response
