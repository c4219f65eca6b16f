"""Warnings that say an outage once, not once per request.

While Redis is down every send, page and presence change would log its own
traceback (thousands a second under load). ``warn_once_per`` logs a key's
first warning, then at most one per interval, with how many were held back.
"""

from __future__ import annotations

import logging
import threading
import time

_lock = threading.Lock()
_last: dict[str, tuple[float, int]] = {}


def warn_once_per(logger: logging.Logger, key: str, seconds: float, message: str, *args: object) -> None:
    """``logger.warning(message, *args)`` unless ``key`` was logged less than ``seconds`` ago."""
    now = time.monotonic()
    with _lock:
        logged_at, held_back = _last.get(key, (float("-inf"), 0))
        if now - logged_at < seconds:
            _last[key] = (logged_at, held_back + 1)
            return
        _last[key] = (now, 0)
    if held_back:
        message += f" ({held_back} more like it since the last warning)"
    logger.warning(message, *args)
