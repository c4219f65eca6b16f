"""ASGI entry point: HTTP to Django, WebSocket ``/ws/chat/`` to the chat consumer.

Browsers are held to the allowed hosts by their ``Origin`` header (clients
that send none, such as API clients, pass); the session cookie authenticates
browser sockets, and API clients send an ``authenticate`` frame instead.
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, with the handler below

from config.http import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from django.conf import settings  # noqa: E402

sys.setswitchinterval(settings.GIL_SWITCH_INTERVAL)  # see config/settings.py

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from chat.consumers import ChatConsumer  # noqa: E402
from config.websocket import BrowserOriginValidator, SessionUserMiddleware  # noqa: E402
from uploads.asgi import RequestBodyLimitMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Refuse oversized bodies before Django spools them to disk.
        "http": RequestBodyLimitMiddleware(django_asgi_app),
        "websocket": BrowserOriginValidator(
            SessionUserMiddleware(URLRouter([path("ws/chat/", ChatConsumer.as_asgi())]))
        ),
    }
)
