"""The import page of an ELAN file: the file's tiers and vocabularies, each mapped by the user
(its script asks the API for the preview, then for the import)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from autoconf.api.deps import ManagedRecordingDep, SessionDep
from autoconf.api.rendering import render
from autoconf.models import Codebook, Recording, Study
from autoconf.schemes.fields import STRUCTURED_FIELDS

router = APIRouter(include_in_schema=False)


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
