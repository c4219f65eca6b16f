"""Response headers that every page carries."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# No inline scripts: pages load ES modules from /static/ only. Styles may be
# inline for the admin; images may be blob: (previews before upload) and data:.
# connect-src 'self' covers the page's own ws:/wss: origin (CSP Level 3); any
# other host, by ws: or wss: too, is refused.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)

# The API docs (Swagger UI and Redoc, served from drf-spectacular-sidecar's static files): the same,
# with web workers from blob: (Redoc builds its search worker so) and fonts as data: URLs.
API_DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
API_DOCS_PATHS = ("/api/docs/", "/api/redoc/")


class ContentSecurityPolicyMiddleware:
    """Every response gets a policy (the admin's too), unless a view set a stricter one of its own (downloads)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = (
            API_DOCS_CONTENT_SECURITY_POLICY if request.path.startswith(API_DOCS_PATHS) else CONTENT_SECURITY_POLICY
        )
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
