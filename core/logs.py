"""Structured logs: one JSON object per line (``LOG_FORMAT=json``), each with the id of the request it serves.

The request id comes from HTTP (``X-Request-ID`` when the proxy sends a
sane one, else a new one; ``core.request_id.RequestIdMiddleware``) or from a
WebSocket frame (the connection and the frame's ``id``), and follows the
work into database threads (context variables are copied there), so every
line an action logs says which request caused it. Message bodies and tokens
are never put in log records by the project's code; the formatter writes
only the record's message, level, logger, time, request id and exception.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import UTC, datetime

import orjson

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("confab_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``%(request_id)s`` in text formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()
