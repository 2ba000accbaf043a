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
  browser's cross-site request. Then a state-changing request or live socket that carries the
  session cookie must also carry the session's form token (`accounts.form_token`): the
  `X-CSRF-Token` header (scripts, tus uploads, the live socket also as `?csrf_token=`), or the
  form's first field `csrf_token` (every form of the pages has it: `csrf_field()`). Only the
  sign-in itself needs none (the origin check covers it; there is no session yet).
"""

import hmac
from urllib.parse import parse_qs, urlsplit

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoconf.api.deps import SESSION_COOKIE
from autoconf.api.errors import respond
from autoconf.api.limits import SMALL_BODY_BYTES
from autoconf.auth.accounts import form_token

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


TOKEN_FIELD = "csrf_token"
TOKEN_HEADER = "x-csrf-token"
# Signing in opens the session; the origin check alone guards it.
NO_TOKEN_PATHS = frozenset({"/login", "/api/v1/auth/login"})
# The token is a form's first field: a multipart upload is read no further than this.
_FIRST_FIELD_BYTES = 64 * 1024

NO_TOKEN = (
    "Requête refusée : le jeton de sécurité de la page manque ou a expiré (il change à chaque "
    "connexion). Rechargez la page, puis recommencez."
)


def _query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(TOKEN_FIELD)
    return values[0] if values else None


async def _form_token(receive: Receive, content_type: str) -> tuple[str | None, list[Message]]:
    """The `csrf_token` field of a form body, and the messages read to find it (to be given
    to the application again). A urlencoded form is read whole (it is small); a multipart
    body only up to the end of its first field."""
    kind, options = parse_options_header(content_type)
    read: list[Message] = []
    size = 0
    if kind == b"application/x-www-form-urlencoded":
        body = b""
        while True:
            message = await receive()
            read.append(message)
            body += message.get("body", b"")
            if not message.get("more_body") or len(body) > SMALL_BODY_BYTES:
                break
        values = parse_qs(body.decode("utf-8", "replace")).get(TOKEN_FIELD)
        return (values[0] if values else None), read
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        return None, read
    first = _FirstField(boundary)
    while not first.done and size <= _FIRST_FIELD_BYTES:
        message = await receive()
        read.append(message)
        chunk = message.get("body", b"")
        size += len(chunk)
        try:
            first.parser.write(chunk)
        except Exception:  # a malformed body has no token; the application never sees it
            return None, read
        if not message.get("more_body"):
            break
    return first.token(), read


class _FirstField:
    """Reads a multipart body's first field, nothing after it."""

    def __init__(self, boundary: bytes) -> None:
        self.done = False
        self._header = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

        def header_field(data: bytes, start: int, end: int) -> None:
            self._header += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def header_end() -> None:
            if not self.done:  # the parts after the first one are not looked at
                self._headers[self._header.lower()] = self._value
            self._header = self._value = b""

        def part_data(data: bytes, start: int, end: int) -> None:
            if not self.done and len(self._data) < 1024:
                self._data += data[start:end]

        def part_end() -> None:
            self.done = True

        self.parser = MultipartParser(
            boundary,
            {
                "on_header_field": header_field,
                "on_header_value": header_value,
                "on_header_end": header_end,
                "on_part_data": part_data,
                "on_part_end": part_end,
            },
        )

    def token(self) -> str | None:
        if not self.done:
            return None
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != TOKEN_FIELD.encode():
            return None
        return bytes(self._data).decode("ascii", "replace")


def _replaying(read: list[Message], receive: Receive) -> Receive:
    pending = list(read)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


class CrossSiteGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind == "http" and scope["method"] not in SAFE_METHODS) or kind == "websocket":
            headers = Headers(scope=scope)
            if "authorization" not in headers:
                refusal = from_elsewhere(headers) and REFUSED
                cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
                if not refusal and cookie and scope["path"] not in NO_TOKEN_PATHS:
                    sent = headers.get(TOKEN_HEADER) or _query_token(scope)
                    if sent is None and kind == "http":
                        sent, read = await _form_token(receive, headers.get("content-type", ""))
                        receive = _replaying(read, receive)
                    expected = form_token(cookie).encode()
                    if not sent or not hmac.compare_digest(sent.encode(errors="replace"), expected):
                        refusal = NO_TOKEN
                if refusal:
                    await _refuse(scope, receive, send, refusal)
                    return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    if scope["type"] == "websocket":  # closed before it is accepted: a 403 to the browser
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": REFUSED_SOCKET})
        return
    await respond(Request(scope), 403, message)(scope, receive, send)
