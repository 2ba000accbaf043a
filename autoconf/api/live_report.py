"""The session report of an interview (what each stop of its live sessions shows, left and
right), as JSON, HTML, DOCX or CSV, and as a page; choosing and aligning the interview's own
recording."""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, InterviewDep, SessionDep, write
from autoconf.live import report
from autoconf.models import Interview, User
from autoconf.payloads import Id, Milliseconds
from autoconf.schemes import writers
from autoconf.studies import access

router = APIRouter(prefix="/api/v1", tags=["live"])


class RecordingChoice(BaseModel):
    recording_id: Id | None = Field(description="The interview's own recording; null: none.")
    stop_id: Id | None = Field(default=None, description="The stop to align on (the first).")
    stop_at_ms: Milliseconds | None = Field(
        default=None, description="Where that stop is in the interview's recording."
    )


def researcher_only(session: Session, user: User, interview: Interview) -> None:
    access.require_study(session, user, interview.study_id, manage=True)


def _download(content: bytes, fmt: str, interview: Interview) -> Response:
    media_type, extension = writers.FORMATS[fmt]
    name = f"rapport-seance-entretien-{interview.id}.{extension}"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/interviews/{interview_id}/report",
    responses={200: {"content": {"text/html": {}, "text/csv": {}, writers.FORMATS["docx"][0]: {}}}},
)
def session_report(
    request: Request,
    interview: InterviewDep,
    user: CurrentUser,
    session: SessionDep,
    format: Literal["json", "html", "docx", "csv"] = "json",
) -> Any:
    """Each stop of the interview's live sessions: left, the moment of the counselling session
    (recording, time, transcript excerpt, schemes); right, what was said there (comments, the
    time and transcript of the interview's own recording). Researchers only."""
    researcher_only(session, user, interview)
    built = report.build(session, interview, user.id)
    if format == "json":
        return report.json_of(built)
    if format == "csv":
        return _download(writers.write(report.to_table(built), "csv"), "csv", interview)
    if format == "html":
        base = str(request.base_url).rstrip("/")
        return _download(report.to_html(built, base), "html", interview)
    return _download(report.to_docx(built), "docx", interview)


@router.patch("/interviews/{interview_id}/recording")
async def choose_recording(
    request: Request,
    interview: InterviewDep,
    body: RecordingChoice,
    user: CurrentUser,
    session: SessionDep,
) -> dict[str, Any]:
    """Choose the interview's own recording (uploaded like any other; it leaves the tables of
    the sessions) and align it on a stop: each stop then links to its time there."""
    researcher_only(session, user, interview)
    await write(
        request,
        session,
        report.set_recording,
        session,
        interview,
        body.recording_id,
        body.stop_id,
        body.stop_at_ms,
    )
    return report.json_of(report.build(session, interview, user.id))
