"""ASGI entry point: HTTP to Django, WebSocket ``/ws/chat/`` to the chat consumer.

Browsers are held to the allowed hosts by their ``Origin`` header (clients
that send none, such as API clients, pass); the session cookie authenticates
browser sockets, and API clients send an ``authenticate`` frame instead.
"""

import gc
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does, with the handler below

from config.http import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from django.conf import settings  # noqa: E402

sys.setswitchinterval(settings.GIL_SWITCH_INTERVAL)  # see config/settings.py

from chat.consumers import ChatConsumer  # noqa: E402
from integrations.worker import start_in_process_if_configured  # noqa: E402
from realtime.socket import ChatSocket  # noqa: E402
from uploads.asgi import RequestBodyLimitMiddleware  # noqa: E402

# Refuse oversized bodies before Django spools them to disk.
http_application = RequestBodyLimitMiddleware(django_asgi_app)
chat_socket = ChatSocket(ChatConsumer)
# WEBHOOK_WORKER_IN_PROCESS: outgoing webhooks delivered by a thread of this process (no extra process to run).
start_in_process_if_configured()


async def application(scope, receive, send):
    """HTTP to Django, WebSocket to the chat socket (Channels' ProtocolTypeRouter, two frames fewer per socket)."""
    if scope["type"] == "websocket":
        return await (await chat_socket.application_for(scope))(scope, receive, send)
    if scope["type"] == "http":
        return await http_application(scope, receive, send)
    raise ValueError(f"No application configured for scope type {scope['type']!r}")


gc.set_threshold(*settings.GC_THRESHOLDS)  # see config/settings.py
# Everything loaded so far (Django, the apps, their modules: ~120,000 objects) lives as long as the
# process: out of the collector's sight, each full collection stops the loop for a third of the time
# (measured: 55-80 ms pauses with 1,000 sockets, the p99 of a 10,000 deliveries/s run).
gc.freeze()
