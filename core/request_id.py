"""The request id of an HTTP request: the proxy's ``X-Request-ID`` when it is sane, else a new one.

It is set for the request's logs (``core.logs.request_id``) and sent back in
the response's ``X-Request-ID``, so a user's report can be found in the logs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .logs import request_id

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        value = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = value
        return response
