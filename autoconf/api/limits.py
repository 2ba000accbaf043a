"""Request body limits, counted on the bytes received (so chunked bodies too).

Uploads of recordings may be as large as AUTOCONF_MAX_UPLOAD_BYTES; every other body is
small (JSON, forms) and capped at 1 MiB. An upload without credentials is refused before a
byte of it is read or spooled to disk.
"""

import json
import re

from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.types import ASGIApp, Receive, Scope, Send

SMALL_BODY_BYTES = 1024 * 1024
# Room for the multipart framing and form fields around the file itself.
_MULTIPART_MARGIN = 1024 * 1024
_UPLOAD_PATH = re.compile(r"^(/api/v1)?/studies/\d+/recordings/?$")
# tus: the bytes come in PATCHes; creation (POST) stays small (tuspyserver reads its body whole).
_TUS_PATCH_PATH = re.compile(r"^/api/v1/uploads/[^/]+$")


def _has_credentials(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return b"authorization" in headers or b"autoconf_session=" in headers.get(b"cookie", b"")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes + _MULTIPART_MARGIN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        upload = (method == "POST" and _UPLOAD_PATH.match(path) is not None) or (
            method == "PATCH" and _TUS_PATCH_PATH.match(path) is not None
        )
        if upload and not _has_credentials(scope):
            await _refuse(send, 401, "Connectez-vous pour déposer un enregistrement.")
            return
        limit = self.max_upload_bytes if upload else SMALL_BODY_BYTES
        await RequestBodyLimitResponder(self.app, limit)(scope, receive, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
