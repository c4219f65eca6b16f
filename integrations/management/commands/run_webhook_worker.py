"""Deliver outgoing webhooks until SIGTERM or SIGINT: the delivery in flight finishes, then it exits."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from integrations import worker


class Command(BaseCommand):
    help = "Queue and deliver outgoing webhooks (signed POSTs with retries) until SIGTERM."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="One round (queue, deliver what is due), then exit.")

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        if once:
            sent = worker.run_once()
            self.stdout.write(f"delivered {sent}")
            return
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.stdout.write("webhook worker running", ending="\n")
        self.stdout.flush()
        worker.run(stop)
        self.stdout.write("webhook worker stopped")
