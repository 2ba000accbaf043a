"""What every answer tells browsers about itself, and the refusal of requests another site
makes a browser send.

- `SecurityHeaders`: a Content-Security-Policy on every answer (scripts from this site only:
  no inline script, no `eval`, WebAssembly alone may be compiled; no framing by any site),
  `X-Content-Type-Options: nosniff`, `Referrer-Policy`, and a cross-origin opener policy. An
  answer that set its own policy (the chronogram's SVG) keeps it; the API's documentation page
  gets the looser one Swagger UI needs.
- `CrossSiteGuard`: a state-changing request (anything but GET, HEAD, OPTIONS) or a WebSocket
  handshake whose `Origin` (else `Referer`) names another site than the one it is addressed to
  is refused with 403 before the application reads it, so that a page elsewhere cannot use a
  signed-in researcher's cookie (cross-site request forgery; SameSite=Lax alone lets a page on
  another port of the same host through). Calls with an `Authorization` header (API tokens)
  are not a browser's ambient credential and pass; a request naming no origin is not a
  browser's cross-site request.
"""

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoconf.api.errors import respond

POLICY = "; ".join(
    [
        "default-src 'self'",
        # WebAssembly may be compiled (the upload's SHA-256, hash-wasm); JavaScript's eval
        # and new Function may not.
        "script-src 'self' 'wasm-unsafe-eval'",
        # Colours and indents of codes are style attributes (their values are validated).
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's Swagger UI: an inline script and its files from jsDelivr; nothing a user wrote.
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "img-src 'self' data: https://fastapi.tiangolo.com",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
DOCS_PATHS = frozenset({"/api/v1/docs", "/api/v1/docs/oauth2-redirect"})
HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED_SOCKET = 4403  # the live sockets' "refused": the page does not try again

REFUSED = (
    "Requête refusée : elle vient d'un autre site que celui-ci (protection contre la "
    "falsification de requêtes). Si vous étiez sur autoconf, rechargez la page et recommencez."
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else POLICY

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", policy)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, sending)


def from_elsewhere(headers: Headers) -> bool:
    """Whether the request names, as its origin, another site than the host it is sent to
    (scheme aside: behind a proxy the app sees http). `Origin: null` (a sandboxed or opaque
    origin), `file://` and `javascript:` are elsewhere; no Origin nor Referer, or a bare path,
    is not."""
    source = headers.get("origin") or headers.get("referer")
    if not source:
        return False
    if source == "null":
        return True
    parts = urlsplit(source)
    if not parts.scheme and not parts.netloc:
        return False  # a path: names no site (browsers send whole URLs)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return True
    names = {headers.get("host", "").lower()}
    forwarded = headers.get("x-forwarded-host")
    if forwarded:
        names.add(forwarded.split(",")[0].strip().lower())
    return parts.netloc.lower() not in names


class CrossSiteGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind == "http" and scope["method"] not in SAFE_METHODS) or kind == "websocket":
            headers = Headers(scope=scope)
            if "authorization" not in headers and from_elsewhere(headers):
                if kind == "websocket":  # closed before it is accepted: a 403 to the browser
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": REFUSED_SOCKET})
                    return
                response = respond(Request(scope), 403, REFUSED)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
