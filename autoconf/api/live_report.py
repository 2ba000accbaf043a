"""The session report of an interview (what each stop of its live sessions shows, left and
right), as JSON, HTML, DOCX or CSV, and as a page; choosing and aligning the interview's own
recording."""

from typing import Any, Literal

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, InterviewDep, SessionDep, actor, write
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import ExportReader, download
from autoconf.audit import log as audit_log
from autoconf.consent import records as consent
from autoconf.i18n import gettext as _
from autoconf.live import report
from autoconf.models import Interview, Recording, User
from autoconf.payloads import RecordingChoice
from autoconf.schemes import writers
from autoconf.studies import access

router = IndexedRouter(prefix="/api/v1", tags=["live"])


def researcher_only(session: Session, user: User, interview: Interview) -> None:
    access.require_study(session, user, interview.study_id, manage=True)


def _download(content: bytes, fmt: str, interview: Interview) -> Response:
    name = _("rapport-seance-entretien-%(interview)s")
    return download(content, fmt, name % {"interview": interview.id})


def _report(
    session: Session,
    user: User,
    interview: Interview,
    fmt: str,
    base_url: str,
    reader: writers.Reader,
) -> report.Report | bytes:
    """The report (JSON) or its file, if the consents of every recording it quotes allow."""
    researcher_only(session, user, interview)
    built = report.build(session, interview, user.id)
    quoted = {row.recording_id for row in built.rows}
    if built.ac_recording_id is not None and any(row.ac_excerpt for row in built.rows):
        quoted.add(built.ac_recording_id)
    for recording_id in sorted(quoted):
        recording = session.get(Recording, recording_id)
        if recording is not None:
            consent.require(session, recording)
    if fmt == "json":
        return built
    if fmt == "csv":
        return writers.write(report.to_table(built), "csv", reader)
    if fmt == "html":
        return report.to_html(built, base_url)
    return report.to_docx(built)


@router.get(
    "/interviews/{interview_id}/report",
    responses={200: {"content": {"text/html": {}, "text/csv": {}, writers.FORMATS["docx"][0]: {}}}},
)
async def session_report(
    request: Request,
    interview: InterviewDep,
    user: CurrentUser,
    session: SessionDep,
    reader: ExportReader,
    format: Literal["json", "html", "docx", "csv"] = "json",
) -> Any:
    """Each stop of the interview's live sessions: left, the moment of the counselling session
    (recording, time, transcript excerpt, schemes); right, what was said there (comments, the
    time and transcript of the interview's own recording). Researchers only; 403 while a
    recording it quotes lacks the consent its study requires. Each file is in the audit log."""
    base = str(request.base_url).rstrip("/")
    made = await anyio.to_thread.run_sync(_report, session, user, interview, format, base, reader)
    if isinstance(made, report.Report):
        return report.json_of(made)
    await write(
        request,
        session,
        audit_log.record,
        session,
        actor(request, user),
        audit_log.EXPORT,
        study_id=interview.study_id,
        object_type="interview",
        object_id=interview.id,
        what="report",
        format=format,
    )
    return _download(made, format, interview)


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
