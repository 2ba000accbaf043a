"""Files of other tools: ELAN (.eaf) in; REFI-QDA projects (.qdpx) in and out, codebooks
(.qdc) out. Each import is checked whole before anything is written, then written in one
transaction; each export is in the audit log."""

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from autoconf.api import downloads
from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    ManagedStudyDep,
    SessionDep,
    SettingsDep,
    audit_study_export,
    write,
)
from autoconf.api.recordings import wake_workers
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.errors import Invalid
from autoconf.interop import (
    eaf_import,
    eaf_read,
    qdpx,
    qdpx_import,
    qdpx_read,
    safezip,
    study_qdpx,
)
from autoconf.media.store import store_for
from autoconf.models import Recording, Study, User
from autoconf.payloads import EafImported, EafMapping, EafPreview, QdpxImported
from autoconf.settings import Settings

router = IndexedRouter(prefix="/api/v1", tags=["interoperability"])


def parse_mapping(text: str) -> eaf_import.Mapping:
    """The import's `mapping` field; Invalid (French) when it is not the expected JSON."""
    try:
        body = EafMapping.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "mapping"
        raise Invalid(
            f"Le champ « mapping » n'est pas un choix de pistes lisible ({where}) : attendu "
            '{"tiers": {"<piste>": "<couche>" ou null}, "vocabularies": {"<vocabulaire>": '
            '<n° de livre de codes> ou null}, "create_codes": true ou false}.'
        ) from None
    return eaf_import.Mapping(body.tiers, body.vocabularies, body.create_codes)


async def eaf_file(
    request: Request,
    session: Session,
    recording: Recording,
    user: User,
    file: UploadFile,
    mapping: str | None,
) -> EafPreview | EafImported:
    """A preview of the file, or (with a mapping) its import (the API and the page)."""
    content = await file.read()
    name = file.filename or "fichier.eaf"
    chosen = parse_mapping(mapping) if mapping is not None else None
    document = await anyio.to_thread.run_sync(eaf_read.read, content, name)
    if chosen is None:
        shown = await anyio.to_thread.run_sync(eaf_import.preview, session, recording, document)
        return EafPreview.model_validate(shown)
    done = await write(
        request, session, eaf_import.import_eaf, session, recording, user, document, chosen
    )
    return EafImported.model_validate(done)


@router.post(
    "/recordings/{recording_id}/import/eaf",
    responses=documented(400, 401, 403, 404, 409, 413, 422),
)
async def import_eaf(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="An ELAN file (.eaf, EAF 2.7 to 3.0).")],
    mapping: Annotated[
        str | None,
        Form(
            description="JSON (see EafMapping). Without it, nothing is imported: the answer "
            "is a preview of the file (EafPreview)."
        ),
    ] = None,
) -> EafPreview | EafImported:
    """ELAN file in, in two steps: with the `file` alone, what it holds (tiers with their
    counts, types, parents and first values; vocabularies with their entries) and the mapping
    the page proposes; with a `mapping` too, the import of the chosen tiers in one
    transaction, and what it created, left out or could not match."""
    return await eaf_file(request, session, recording, user, file, mapping)


def _qdpx_file(
    session: Session, study: Study, user: User, settings: Settings, include_media: bool
) -> tuple[str, list[str]]:
    return downloads.written_file(
        ".qdpx",
        lambda target: study_qdpx.write_study_qdpx(
            session, study, user, store_for(settings), include_media, target
        ),
    )


@router.get(
    "/studies/{study_id}/export.qdpx",
    response_class=FileResponse,
    responses={
        200: {"description": "The REFI-QDA project (a zip).", "content": {"application/zip": {}}},
        **documented(401, 403, 404, 422),
    },
)
async def export_qdpx(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    media: Annotated[
        Literal["referenced", "included"],
        Query(
            description="`referenced`: the project names each recording's media file, to put "
            "beside it; `included`: the media are inside the zip (recordings without the "
            "consents their study asks stay out, said in their source's description)."
        ),
    ] = "referenced",
) -> Response:
    """The study as a REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QDA Miner, QualCoder): its
    codebooks as nested codes, counsellors as cases, one video or audio source per recording
    with its annotations as coded selections and notes, its transcript with sync points."""
    included = media == "included"
    path, left_out = await anyio.to_thread.run_sync(
        _qdpx_file, session, study, user, settings, included
    )
    audit = audit_study_export(
        request,
        session,
        user,
        study.id or 0,
        "project",
        format="qdpx",
        media=media,
        left_out=len(left_out),
    )
    return await downloads.streamed_file(path, f"{study.name}.qdpx", "application/zip", audit)


@router.get(
    "/studies/{study_id}/codebook.qdc",
    response_class=Response,
    responses={
        200: {"description": "The REFI-QDA codebook.", "content": {"text/xml": {}}},
        **documented(401, 403, 404),
    },
)
async def export_qdc(
    request: Request, study: ManagedStudyDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The study's codebooks as one REFI-QDA codebook (`.qdc`): each codebook a code that
    holds its codes, nested, with colours and descriptions."""
    books = await anyio.to_thread.run_sync(study_qdpx.codebooks, session, study.id or 0)
    content = qdpx.codebook_document(books)
    await audit_study_export(request, session, user, study.id or 0, "codebook", format="qdc")
    return Response(
        content,
        media_type="text/xml; charset=utf-8",
        headers=downloads.attachment(f"{study.name} - livre de codes.qdc"),
    )


def _project_limits(settings: Settings) -> safezip.Limits:
    # Its media unpacked, plus room for the project and transcripts.
    return safezip.Limits(
        unpacked_bytes=settings.max_upload_bytes + qdpx_read.MAX_PROJECT_BYTES,
        entry_bytes=settings.max_upload_bytes,
    )


def _prepare_project(
    session: Session, study: Study, settings: Settings, file: UploadFile
) -> qdpx_import.Prepared:
    name = file.filename or "projet.qdpx"
    with safezip.SafeZip(file.file, name, _project_limits(settings)) as archive:
        return qdpx_import.prepare(
            session, study, archive, store_for(settings), settings.max_upload_bytes
        )


async def qdpx_file(
    request: Request,
    session: Session,
    settings: Settings,
    study: Study,
    user: User,
    file: UploadFile,
) -> QdpxImported:
    """Import a REFI-QDA project (the API and the study page): media stored outside the write
    lock, then everything written in one step; the media stored are removed if it fails."""
    prepared = await anyio.to_thread.run_sync(_prepare_project, session, study, settings, file)
    try:
        done = await write(
            request, session, qdpx_import.import_project, session, study, user, prepared
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(qdpx_import.discard, store_for(settings), prepared)
        raise
    await anyio.to_thread.run_sync(qdpx_import.discard, store_for(settings), prepared, True)
    if done["recordings_created"]:
        wake_workers(request)
    return QdpxImported.model_validate(done)


@router.post(
    "/studies/{study_id}/import/qdpx",
    responses=documented(400, 401, 403, 404, 409, 413, 422),
)
async def import_qdpx(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A REFI-QDA project (.qdpx).")],
) -> QdpxImported:
    """Another tool's REFI-QDA project into the study: its codebook (matched by path, the
    missing codes created), its video and audio sources (the recordings of the same code, or
    new ones from the media inside), their selections with codings and notes, transcripts;
    what cannot be mapped is listed with the reason."""
    return await qdpx_file(request, session, settings, study, user, file)
