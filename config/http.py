"""Django's ASGI handler with its sync middleware chain and view run in one thread hop.

Django's own ``ASGIHandler`` builds the middleware chain in async mode. Any
middleware that is sync-only (WhiteNoise's, ours) then needs an
``AsyncToSync`` back to the event loop under it, and the sync view a
``SyncToAsync`` out again: three thread switches per request where one does,
each a GIL hand-off with a busy event loop (the history benchmark's profile put
the hand-offs near a quarter of the server's CPU, docs/benchmarks.md finding 9).
Every view here is sync, so the whole chain runs in one worker thread, as under
WSGI, and the event loop only reads the body and writes the response.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # Thread-sensitive: the request's one thread (ASGIHandler opens a
        # ThreadSensitiveContext per request), as Django's own sync views get.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
