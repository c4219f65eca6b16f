"""``manage.py sweep_presence``: end the presence of server processes that died.

Every server process already sweeps every ``PRESENCE_HEARTBEAT`` seconds
while it serves connections; this command covers the time when none does
(run it from cron or a scheduler). Without Redis there is nothing to sweep:
the in-process store dies with its process.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand

from presence import actions, store
from presence.realtime import last_alive


class Command(BaseCommand):
    help = "Mark the users of dead server processes offline and tell who shares a room with them."

    def handle(self, *args, **options) -> None:
        if not settings.REDIS_URL:
            self.stdout.write("No REDIS_URL: presence lives in each server process; nothing to sweep.")
            return
        offline = store.sweep_sync()
        messages = actions.went_offline(last_alive(offline))
        layer = get_channel_layer()
        for group, message in messages:
            async_to_sync(layer.group_send)(group, message)
        self.stdout.write(f"{len(offline)} user(s) marked offline.")
