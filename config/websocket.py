"""Origin checking for the chat socket.

Browsers always send ``Origin``, and a page on another site must not ride on
the user's session cookie (cross-site WebSocket hijacking): such origins are
refused unless they match ``ALLOWED_HOSTS``. Clients that send no
``Origin`` are not browsers; they cannot use a browser's cookies and must
authenticate with a token, so they pass.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def __init__(self, application) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
