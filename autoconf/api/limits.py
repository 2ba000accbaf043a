"""Request body limits, counted on the bytes received (so chunked bodies too).

Uploads of recordings, REFI-QDA projects and study archives (which may bring their media)
may be as large as AUTOCONF_MAX_UPLOAD_BYTES; an ELAN file up to 64 MiB; every other body is
small (JSON, forms) and capped at 1 MiB. A body whose announced length (Content-Length) is
over its limit is refused at once, before the application runs. An upload whose sender is not
signed in (no credentials, or an unknown or expired cookie or token) is refused before a byte
of it is read or spooled to disk.
"""

import json
import re

import anyio
import anyio.to_thread
from sqlmodel import Session
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from autoconf.api.deps import credential_of
from autoconf.auth.accounts import user_for_token
from autoconf.media.storage import human_size

SMALL_BODY_BYTES = 1024 * 1024
# Files of other tools (ELAN, REFI-QDA projects without their media): larger than a form.
IMPORT_BODY_BYTES = 64 * 1024 * 1024
# Room for the multipart framing and form fields around the file itself.
_MULTIPART_MARGIN = 1024 * 1024
_UPLOAD_PATH = re.compile(r"^(/api/v1)?/studies/\d+/recordings/?$")
# tus: the bytes come in PATCHes; creation (POST) stays small (tuspyserver reads its body whole).
_TUS_PATCH_PATH = re.compile(r"^/api/v1/uploads/[^/]+$")
_TUS_CREATE_PATH = re.compile(r"^/api/v1/uploads/?$")
_IMPORT_PATH = re.compile(r"^(/api/v1)?/recordings/\d+/import/eaf/?$")
# A REFI-QDA project may bring its media: as large as an upload.
_PROJECT_PATH = re.compile(r"^(/api/v1)?/studies/\d+/import/qdpx/?$")
# A study archive with its media (autoconf.archive): as large as an upload too.
_ARCHIVE_PATH = re.compile(r"^(/api/v1)?/studies/import/?$")


def _announced_length(scope: Scope) -> int | None:
    length = dict(scope["headers"]).get(b"content-length", b"").strip()
    return int(length) if length.isdigit() else None


def _has_body(scope: Scope) -> bool:
    """tus "creation-with-upload": bytes in the creation request (never adopted; refused)."""
    headers = dict(scope["headers"])
    length = headers.get(b"content-length", b"0").strip()
    return b"transfer-encoding" in headers or (length.isdigit() and int(length) > 0)


async def _signed_in(scope: Scope) -> bool:
    """One look-up of the sender's token or session cookie, in a worker thread."""
    request = Request(scope)
    found = credential_of(request)
    if found is None:
        return False
    kind, value = found

    def known() -> bool:
        with Session(request.app.state.engine) as session:
            return user_for_token(session, value, kind) is not None

    return await anyio.to_thread.run_sync(known)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_file_bytes = max_upload_bytes
        self.max_upload_bytes = max_upload_bytes + _MULTIPART_MARGIN

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        upload = (method == "POST" and _UPLOAD_PATH.match(path) is not None) or (
            method == "PATCH" and _TUS_PATCH_PATH.match(path) is not None
        )
        project = method == "POST" and (
            _PROJECT_PATH.match(path) is not None or _ARCHIVE_PATH.match(path) is not None
        )
        upload = upload or project
        imported = method == "POST" and _IMPORT_PATH.match(path) is not None
        if (upload or imported) and not await _signed_in(scope):
            what = "un fichier" if imported or project else "un enregistrement"
            await _refuse(send, 401, f"Connectez-vous pour déposer {what}.")
            return
        if method == "POST" and _TUS_CREATE_PATH.match(path) and _has_body(scope):
            await _refuse(
                send, 400, "Créez le dépôt sans contenu, puis envoyez le fichier par PATCH (tus)."
            )
            return
        limit = self.max_upload_bytes if upload else SMALL_BODY_BYTES
        if imported:
            limit = IMPORT_BODY_BYTES + _MULTIPART_MARGIN
        announced = _announced_length(scope)
        if announced is not None and announced > limit:
            await _refuse(send, 413, self._too_large(upload, imported))
            return
        await RequestBodyLimitResponder(self.app, limit)(scope, receive, send)

    def _too_large(self, upload: bool, imported: bool = False) -> str:
        if imported:
            return (
                "Le fichier dépasse la taille maximale d'un import "
                f"({human_size(IMPORT_BODY_BYTES)})."
            )
        if upload:
            size = human_size(self.max_file_bytes)
            return f"Le fichier dépasse la taille maximale acceptée ({size})."
        return (
            f"La requête dépasse la taille maximale acceptée ici ({human_size(SMALL_BODY_BYTES)}) "
            ": seul le dépôt d'un enregistrement peut être plus gros."
        )


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
