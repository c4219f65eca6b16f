"""Publishing what a committed transaction announced: in order, retried, never the action's failure.

Once the database has committed, the action has happened: its client gets its
ack whatever the channel layer does. A publish that fails (Redis down or
restarting) is logged once per outage, not once per event, and kept in a
bounded retry queue that this process replays in order, with backoff, for
``PUBLISH_RETRY_SECONDS``. What the queue cannot hold (``PUBLISH_RETRY_MAX``)
or gives up on is counted and logged; members still get it through ``sync``
(every room's ``last_seq`` reaches clients in ``ready`` and in ``ping`` acks,
and a resubscribed process tells its sockets to ``resync``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from typing import Any

from django.conf import settings

from core.metrics import counts

logger = logging.getLogger(__name__)

RETRY_BACKOFF_FIRST = 0.1  # seconds
RETRY_BACKOFF_MAX = 2.0


class CommittedPublisher:
    """One per event loop: the order of publishes, and the retry queue of failed ones."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.retry: deque[tuple[float, str, dict[str, Any]]] = deque()
        self.retry_task: asyncio.Task | None = None
        self.failed = 0  # publishes that failed at least once
        self.dropped = 0  # publishes given up on (queue full or too old)
        self.outage_logged = False

    async def publish(self, layer: Any, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand ``events`` to ``layer`` in order; failures go to the retry queue, nothing is raised."""
        async with self.lock:
            for group, message in events:
                if self.retry:  # keep the order: nothing overtakes what waits for a retry
                    self._queue(group, message)
                    continue
                try:
                    await asyncio.wait_for(layer.group_send(group, message), settings.PUBLISH_TIMEOUT)
                except Exception as error:  # noqa: BLE001 -- any layer failure is retried, never raised
                    self._note_failure(error)
                    self._queue(group, message)
        if self.retry and (self.retry_task is None or self.retry_task.done()):
            self.retry_task = asyncio.get_running_loop().create_task(self._replay(layer))

    def _note_failure(self, error: BaseException) -> None:
        self.failed += 1
        counts.publish_failures += 1
        if not self.outage_logged:
            self.outage_logged = True
            logger.warning("Publishing to the channel layer failed (%s: %s); retrying", type(error).__name__, error)

    def _queue(self, group: str, message: dict[str, Any]) -> None:
        if len(self.retry) >= settings.PUBLISH_RETRY_MAX:
            self.retry.popleft()
            self.dropped += 1
        self.retry.append((time.monotonic(), group, message))

    async def _replay(self, layer: Any) -> None:
        """Send what waits, oldest first, until the queue is empty; back off while the layer fails."""
        backoff = RETRY_BACKOFF_FIRST
        while self.retry:
            async with self.lock:
                while self.retry:
                    queued_at, group, message = self.retry[0]
                    if time.monotonic() - queued_at > settings.PUBLISH_RETRY_SECONDS:
                        self.retry.popleft()
                        self.dropped += 1
                        continue
                    try:
                        await asyncio.wait_for(layer.group_send(group, message), settings.PUBLISH_TIMEOUT)
                    except Exception:  # noqa: BLE001 -- still down: wait and try again
                        break
                    self.retry.popleft()
                    backoff = RETRY_BACKOFF_FIRST
            if self.retry:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX)
        if self.outage_logged:
            self.outage_logged = False
            logger.warning(
                "Publishing works again; %d publishes had failed, %d were given up (clients catch up by sync)",
                self.failed,
                self.dropped,
            )

    def cancel(self) -> None:
        if self.retry_task is not None:
            self.retry_task.cancel()


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CommittedPublisher] = weakref.WeakKeyDictionary()


def committed_publisher() -> CommittedPublisher:
    """The running loop's publisher (a process has one loop; tests have one per test)."""
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = CommittedPublisher()
    return publisher
