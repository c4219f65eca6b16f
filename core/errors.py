"""The one error type every action raises.

Each code is one of the wire contract's error codes; each transport maps it
once (the WebSocket consumer into an ``error`` frame, DRF into a status).
"""

from __future__ import annotations

from typing import Any

ERROR_STATUS = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid": 400,
    # A message starting with "/" that names no command of its room (chat.actions.commands).
    "unknown_command": 400,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "server_error": 500,
    # Retryable: the server is overloaded, shutting down, or its database did not answer in time.
    "unavailable": 503,
}


class ActionError(Exception):
    """A request that cannot be carried out; nothing was changed."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        assert code in ERROR_STATUS, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code]

    def as_data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def not_found(what: str = "Room") -> ActionError:
    return ActionError("not_found", f"{what} not found.")


def invalid(message: str, **extra: Any) -> ActionError:
    return ActionError("invalid", message, **extra)


def forbidden(message: str) -> ActionError:
    return ActionError("forbidden", message)
