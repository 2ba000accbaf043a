"""Study archives over HTTP: a whole study as one zip, for its researchers (an export, in the
audit log), and an archive imported as a new study by whoever may create one (the API and
the studies page's form). The domain is `autoconf.archive`."""

from datetime import datetime
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

import anyio
import anyio.to_thread
from fastapi import Depends, File, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from autoconf import archive
from autoconf.api import downloads
from autoconf.api.deps import (
    CurrentUser,
    ManagedStudyDep,
    SessionDep,
    SettingsDep,
    actor,
    audit_study_export,
    write,
)
from autoconf.api.recordings import wake_workers
from autoconf.api.refusals import documented
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.errors import Forbidden
from autoconf.media.store import store_for
from autoconf.models import User
from autoconf.settings import Settings
from autoconf.studies import access

router = IndexedRouter()
MediaChoice = Literal["included", "none"]


class ArchiveImported(BaseModel):
    """What importing a study archive made."""

    study_id: int = Field(description="The new study.")
    name: str = Field(description="Its name (with « (importée) » when one had it already).")
    format_version: int
    exported_at: datetime
    recordings: int
    annotations: int
    to_process: list[str] = Field(
        description="Codes of the recordings whose processing runs again (not finished when "
        "exported, or a file the player needs was not in the archive)."
    )
    without_media: dict[str, Literal["none", "consent", "missing"]] = Field(
        description="Codes of the recordings that came without their file, and why: the "
        "archive was made without media, their consents were missing at the export, or their "
        "original was missing on the exporting server."
    )
    accounts_created: list[str] = Field(
        description="Usernames this instance did not know: made as disabled accounts without "
        "a password, so that annotations keep their authors."
    )
    accounts_matched: list[str] = Field(description="Usernames found in this instance.")


async def _study_creator(user: CurrentUser) -> User:
    """Who may create a study may import one: not a counsellor (checked before the body)."""
    if user.role == access.COUNSELLOR:
        raise Forbidden("Les conseillers ne peuvent pas créer ni importer d'étude.")
    return user


StudyCreator = Annotated[User, Depends(_study_creator)]


def _archive_file(
    session: Session, settings: Settings, study_id: int, reader: User, include_media: bool
) -> tuple[str, archive.Exported]:
    """The archive, written in a temporary file (the answer streams it, then removes it)."""

    def fill(target: BinaryIO) -> archive.Exported:
        archive.begin_snapshot(session)
        exported = archive.export_study(
            session, store_for(settings), study_id, target, include_media, reader
        )
        session.rollback()  # the snapshot ends here
        return exported

    return downloads.written_file(".zip", fill)


@router.get(
    "/api/v1/studies/{study_id}/archive.zip",
    tags=["archives"],
    response_class=FileResponse,
    responses={
        200: {"description": "The study archive (a zip).", "content": {"application/zip": {}}},
        **documented(401, 403, 404, 409, 422),
    },
)
async def export_archive(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    media: Annotated[
        MediaChoice,
        Query(
            description="`included`: each recording's files (original, proxy, poster, "
            "thumbnails, waveform; not those of a recording whose consents are missing); "
            "`none`: the recordings come without their files."
        ),
    ] = "included",
) -> Response:
    """The whole study as one zip, to import into another instance of autoconf: settings,
    members (by username), structures, counsellors, recordings, interviews, codebooks,
    annotations and transcripts, consents, live sessions with their stops, comments and
    agenda, and the files (`archive.json` lists them with their sha256). Your colleagues'
    private marks stay out; the audit log comes along for administrators only."""
    study_id, name = study.id or 0, study.name
    path, exported = await anyio.to_thread.run_sync(
        _archive_file, session, settings, study_id, user, media == "included"
    )
    audit = audit_study_export(
        request,
        session,
        user,
        study_id,
        "archive",
        format="zip",
        media=media,
        files=len(exported.manifest.files),
        media_withheld=len(exported.withheld),
    )
    return await downloads.streamed_file(path, f"{name} - archive.zip", "application/zip", audit)


async def study_archive_file(
    request: Request, session: Session, settings: Settings, user: User, file: UploadFile
) -> archive.Imported:
    """Import an uploaded archive (the API and the studies page): checked and its media
    copied outside the write lock, then every row written in one step; the media copied are
    removed if anything fails."""
    who = actor(request, user)
    name = Path(file.filename or "archive.zip").name
    prepared: list[archive.Prepared] = []

    def prepare() -> None:
        prepared.append(
            archive.prepare(
                session, store_for(settings), file.file, name, settings.max_upload_bytes, user
            )
        )

    try:
        await anyio.to_thread.run_sync(prepare)
        done = await write(request, session, archive.import_study, session, prepared[0], user, who)
    except BaseException:
        if prepared:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(prepared[0].discard)
        raise
    if done.to_process:
        wake_workers(request)
    return done


@router.post(
    "/api/v1/studies/import",
    tags=["archives"],
    status_code=status.HTTP_201_CREATED,
    responses=documented(400, 401, 403, 409, 413, 422),
)
async def import_archive(
    request: Request,
    user: StudyCreator,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A study archive (.zip) made by autoconf.")],
) -> ArchiveImported:
    """A study archive (from `GET /studies/{id}/archive.zip`, here or in another instance)
    as a new study of which you are a researcher. Everything is checked before anything is
    written (format and version, every table's columns and values, references inside the
    archive, every file's sha256); a refusal names the entry and the line. People are matched
    by username; those unknown here become disabled accounts. Through HTTP, an archive may be
    as large as a recording upload (`AUTOCONF_MAX_UPLOAD_BYTES`); `autoconf import` takes
    larger ones."""
    done = await study_archive_file(request, session, settings, user, file)
    return ArchiveImported.model_validate(done, from_attributes=True)


@router.post("/studies/import", response_class=HTMLResponse, include_in_schema=False)
async def import_archive_form(
    request: Request,
    user: StudyCreator,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The studies page's "Importer une archive d'étude": what was made, and what the
    researcher should know (recordings without their file, accounts made)."""
    done = await study_archive_file(request, session, settings, user, file)
    return render(
        request,
        "import_archive.html",
        result=done,
        file_name=Path(file.filename or "").name,
    )
