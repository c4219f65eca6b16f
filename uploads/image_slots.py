"""A process-wide bound on images being decoded at once, with a bounded wait.

Each upload request runs in a thread of its own (sync DRF view under ASGI),
and decoding an image is the costly part: up to ``UPLOAD_MAX_DECODED_PIXELS``
pixels held in memory and seconds of CPU. Without a bound, N concurrent
uploads cost N times that (four 1,000-frame GIFs took a process from 170 to
927 MB). Here at most ``UPLOAD_IMAGE_WORKERS`` images are processed at once;
up to ``UPLOAD_IMAGE_QUEUE`` more requests wait their turn (in their own
threads, holding only the received file); any request beyond that is
refused at once with 503 ``unavailable`` and ``retry_after``, so neither
memory nor the number of waiting threads grows with the load.

The limits are read at each admission, so a changed setting applies to the
next request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from core.errors import ActionError

# Seconds a refused client is told to wait: about one image's processing time.
RETRY_AFTER = 3


class ImageSlots:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self.running = 0
        self.waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Run the block as one of the images being processed; wait for a turn or raise ``unavailable``."""
        with self._condition:
            if self.running >= max(1, settings.UPLOAD_IMAGE_WORKERS):
                if self.waiting >= settings.UPLOAD_IMAGE_QUEUE:
                    raise ActionError(
                        "unavailable",
                        "The server is busy processing other images. Try again in a few seconds.",
                        retry_after=RETRY_AFTER,
                    )
                self.waiting += 1
                try:
                    self._condition.wait_for(lambda: self.running < max(1, settings.UPLOAD_IMAGE_WORKERS))
                finally:
                    self.waiting -= 1
            self.running += 1
        try:
            yield
        finally:
            with self._condition:
                self.running -= 1
                self._condition.notify()


image_slots = ImageSlots()
