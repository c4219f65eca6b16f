"""An ASGI guard that stops oversized HTTP bodies before Django stores them.

Django's ASGI handler reads the whole request body (into a temporary file
above ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any view runs, so a view cannot
stop a client that streams gigabytes: the disk fills first. This middleware
sits in front of it and answers 413 as soon as a body is known to be larger
than any request needs (the upload limit plus the multipart envelope): at once
when ``Content-Length`` says so, otherwise when the streamed chunks pass it.

Wire it around Django's ASGI application in ``config/asgi.py``::

    "http": RequestBodyLimitMiddleware(django_asgi_app),
"""

from __future__ import annotations

import orjson

from .handlers import max_request_bytes, too_large


class RequestBodyLimitMiddleware:
    def __init__(self, app, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if self.max_bytes is not None else max_request_bytes()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject(send)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading on a disconnect and sends nothing;
                    # the 413 is sent below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await _reject(send)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send) -> None:
    error = too_large()
    body = orjson.dumps({"detail": error.message, **error.as_data()})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
