"""The import pages: an ELAN file's tiers and vocabularies, each mapped by the user (its
script asks the API for the preview, then for the import); a REFI-QDA project's import from
the study page, and what it took and left out."""

from typing import Annotated

from fastapi import File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    ManagedStudyDep,
    SessionDep,
    SettingsDep,
)
from autoconf.api.interop import qdpx_file
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.models import Codebook, Recording, Study
from autoconf.schemes.fields import STRUCTURED_FIELDS

router = IndexedRouter(include_in_schema=False)


def _page(request: Request, session: Session, recording: Recording) -> Response:
    study = session.get(Study, recording.study_id)
    books = session.exec(
        select(Codebook)
        .where(Codebook.study_id == recording.study_id)
        .order_by(Codebook.position, Codebook.id)  # type: ignore[arg-type]
    ).all()
    return render(
        request,
        "import_eaf.html",
        study=study,
        recording=recording,
        codebooks=books,
        field_labels=STRUCTURED_FIELDS,
    )


@router.get("/recordings/{recording_id}/import/eaf", response_class=HTMLResponse)
def import_eaf_page(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    return _page(request, session, recording)


@router.post("/studies/{study_id}/import/qdpx", response_class=HTMLResponse)
async def import_qdpx_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The study page's "Importer un projet REFI-QDA": what was taken, what was not and why."""
    result = await qdpx_file(request, session, settings, study, user, file)
    return render(
        request, "import_qdpx.html", study=study, result=result, file_name=file.filename or ""
    )
