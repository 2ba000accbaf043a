"""Resumable uploads (tus 1.0, by tuspyserver) at /api/v1/uploads/.

The client creates an upload with its metadata (study_id, code, counsellor_id, filename,
filetype, optionally sha256), then PATCHes the bytes, resuming from the offset the server
gives after a cut. Each user's uploads live in their own folder, so nobody can resume or
read another's. When the last byte lands, the file is moved (not copied) to its recording's
folder, hashed (and checked against the announced sha256), the recording is registered and
its processing queued; the last PATCH answers with `X-Recording-Id`. Bytes in the creation
request and concatenation (partial and final uploads, whose sum no size check sees) are
refused.
"""

import fcntl
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from sqlmodel import Session
from tuspyserver import create_tus_router

from autoconf.api.deps import CurrentUser, SessionDep, briefly_signed_in, request_session
from autoconf.api.recordings import register_stored
from autoconf.api.refusals import documented
from autoconf.errors import Busy, Invalid, NotFound, TooLarge
from autoconf.media.storage import UPLOAD_KEEP_DAYS, UPLOADS, StoredFile, human_size
from autoconf.media.store import store_for
from autoconf.models import User
from autoconf.payloads import UploadMetadata
from autoconf.settings import Settings
from autoconf.studies import access, recordings

PREFIX = "/api/v1/uploads"
# PATCHes stream for minutes: their sign-in must not hold a request session meanwhile.
UploadUser = Annotated[User, Depends(briefly_signed_in)]

_FIELDS = {
    "study_id": "étude",
    "code": "code de la situation",
    "counsellor_id": "conseiller",
    "filename": "nom du fichier",
    "sha256": "empreinte SHA-256",
    "interview_id": "entretien",
    "interview_code": "code du nouvel entretien",
}


def _metadata(raw: dict[str, Any]) -> recordings.NewRecording:
    try:
        meta = UploadMetadata.model_validate(raw)
    except ValidationError as error:
        names = sorted({_FIELDS.get(str(e["loc"][0]), str(e["loc"][0])) for e in error.errors()})
        raise Invalid(f"Dépôt refusé : {', '.join(names)} manquant ou invalide.") from None
    return recordings.NewRecording(
        meta.study_id,
        meta.code,
        meta.counsellor_id,
        meta.filename,
        meta.filetype,
        meta.interview_id,
        meta.interview_code or "",
    )


def _forget_upload(upload: Path) -> None:
    upload.unlink(missing_ok=True)
    upload.with_name(upload.name + ".info").unlink(missing_ok=True)
    upload.with_name(upload.name + ".receiving").unlink(missing_ok=True)


def _receiving(path: Path) -> IO[bytes]:
    """An exclusive lock on `path` (made if missing), held until the file is closed; Busy
    when another connection holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mark = path.open("ab")
    try:
        fcntl.flock(mark.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        mark.close()
        raise Busy(
            "Une autre connexion envoie encore ce fichier ; l'envoi reprendra dans un instant."
        ) from None
    os.utime(path)  # as recent as the upload it marks (the sweep of old uploads reads it)
    return mark


def tus_router(settings: Settings) -> APIRouter:
    uploads = settings.work_dir / UPLOADS

    async def signed_in(_user: UploadUser) -> None:
        return None

    async def own_folder(
        request: Request, user: UploadUser
    ) -> AsyncIterator[Callable[[dict[str, Any]], dict[str, str]]]:
        """The user's own folder; a second PATCH of an upload still receiving one, in this
        process or another, is refused at once (423; tus clients retry): tuspyserver would
        otherwise wait for its file lock on the event loop, freezing the server for up to
        30 s. The mark is an `flock` on a file beside the upload's, which the kernel lets go
        when the process dies."""
        folder = uploads / str(user.id)
        mark = None
        if request.method == "PATCH":
            name = str(request.path_params.get("uuid", ""))
            if not name.replace("-", "").isalnum():
                raise NotFound("Ce dépôt n'existe pas.")
            mark = _receiving(folder / f"{name}.receiving")
        try:
            yield lambda _metadata: {"files_dir": str(folder)}
        finally:
            if mark is not None:
                mark.close()  # lets the lock go; the file stays (removed with the upload)

    async def before_create(
        request: Request, user: CurrentUser, session: SessionDep
    ) -> Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]:
        if "upload-concat" in request.headers:
            # A final upload is the sum of its partials, made without any size check (past
            # AUTOCONF_MAX_UPLOAD_BYTES) and copied on the event loop; our client sends one
            # file in one upload.
            raise Invalid(
                "Les dépôts en plusieurs parties (concaténation tus) ne sont pas pris en "
                "charge : envoyez le fichier en un seul dépôt."
            )

        async def check(raw: dict[str, Any], info: dict[str, Any]) -> None:
            new = _metadata(raw)
            size = info.get("size")
            if size is not None and size > settings.max_upload_bytes:
                raise TooLarge(
                    f"Le fichier ({human_size(size)}) dépasse la taille maximale acceptée "
                    f"({human_size(settings.max_upload_bytes)})."
                )

            def allowed() -> None:
                access.require_study(session, user, new.study_id, manage=True)
                recordings.check_new(session, new)

            await anyio.to_thread.run_sync(allowed)

        return check

    async def after_upload(
        request: Request, response: Response, user: UploadUser
    ) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        async def adopt(file_path: str, raw: dict[str, Any]) -> None:
            async with request_session(request) as session:
                await _adopt(session, file_path, raw)

        async def _adopt(session: Session, file_path: str, raw: dict[str, Any]) -> None:
            new = _metadata(raw)
            upload = Path(file_path)

            def receive() -> StoredFile:
                access.require_study(session, user, new.study_id, manage=True)
                return recordings.receive_upload(
                    session, store_for(settings), new, upload, raw.get("sha256") or None
                )

            try:
                stored = await anyio.to_thread.run_sync(receive)
                recording = await register_stored(request, session, settings, stored, new, user)
            except BaseException:  # refused: this upload is over, it cannot be resumed
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_forget_upload, upload)
                raise
            # The bytes moved to the recording. An empty placeholder keeps the upload known as
            # complete (its offset is in the .info), so a client whose last answer was lost
            # sees it finished on its next HEAD instead of starting again; swept later.
            await anyio.to_thread.run_sync(upload.touch)
            response.headers["X-Recording-Id"] = str(recording.id)
            response.headers["Access-Control-Expose-Headers"] = "X-Recording-Id"

        return adopt

    # tuspyserver awaits what its hooks return, but its hints say synchronous callables.
    options: dict[str, Any] = {
        "prefix": PREFIX,
        "files_dir": str(uploads),
        "max_size": settings.max_upload_bytes,
        "auth": signed_in,
        "days_to_keep": UPLOAD_KEEP_DAYS,
        "pre_create_dep": before_create,
        "upload_complete_dep": after_upload,
        "file_dep": own_folder,
        "tags": ["uploads"],
    }
    # Its answers carry headers, no body: documented so (and with the statuses tus adds).
    documented_router = APIRouter(responses=documented(410, 412, 415, 423))
    documented_router.include_router(create_tus_router(**options), default_response_class=Response)
    return documented_router
