"""The live session's page: the shared player, for the researcher (with the join code) and
the counsellor (a calm view: the video and "Arrêter ici"); starting and joining from forms."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from autoconf.api.deps import (
    CurrentUser,
    InterviewDep,
    ManagedRecordingDep,
    PathId,
    SessionDep,
    write,
)
from autoconf.api.live_report import researcher_only
from autoconf.api.pages import player_media
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import parse_id
from autoconf.live import report, sessions, stops, wording
from autoconf.models import Counsellor, Interview, InterviewRecording, Recording, Study
from autoconf.schemes.timecode import parse_time
from autoconf.studies import access

router = IndexedRouter(include_in_schema=False)


@router.post("/recordings/{recording_id}/live")
async def start_form(
    request: Request, recording: ManagedRecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The recording page's "Démarrer l'auto-confrontation en direct"; what is missing
    first (the recording's counsellor, or a code for its interview), with where to set it."""
    try:
        live = await write(request, session, sessions.start, session, recording, user.id)
    except sessions.CannotStart as missing:
        return render(
            request,
            "live_missing.html",
            422,
            recording=recording,
            study=session.get(Study, recording.study_id),
            message=str(missing),
            fix=missing.fix,
            # The counsellor is chosen on the recording's page (added in the administration).
            fix_url=f"/recordings/{recording.id}#conseiller"
            if missing.fix == "conseillers"
            else f"/studies/{missing.study_id}/admin#{missing.fix}",
        )
    return RedirectResponse(f"/live/{live.id}", status_code=303)


@router.get("/live", response_class=HTMLResponse)
def join_page(request: Request, user: CurrentUser, session: SessionDep, code: str = "") -> Response:
    """Type the code the researcher gives: the session opens (a GET form: joining writes
    nothing)."""
    if code.strip():
        live = access.require_live_code(session, user, sessions.by_code(session, code[:12]))
        return RedirectResponse(f"/live/{live.id}", status_code=303)
    return render(request, "live_join.html")


@router.get("/live/{session_id}", response_class=HTMLResponse)
def live_page(
    request: Request, session_id: PathId, user: CurrentUser, session: SessionDep
) -> Response:
    live = access.require_live_session(session, user, session_id)
    recording = session.get(Recording, live.recording_id)
    assert recording is not None
    media = player_media(session, recording)
    # The interview's recordings the user may see: the playhead can move to another one.
    others = [
        r
        for r in sessions.interview_recordings(session, live.interview_id)
        if access.sees_everything(session, user, r.study_id)
        or r.counsellor_id in access.own_counsellor_ids(session, user, r.study_id)
    ]
    recordings_media = [
        {"id": r.id, "code": r.code, **player_media(session, r)} for r in others or [recording]
    ]
    return render(
        request,
        "live.html",
        live=live,
        recording=recording,
        interview=session.get(Interview, live.interview_id) if live.interview_id else None,
        recordings_media=recordings_media,
        study=session.get(Study, recording.study_id),
        media=media,
        can_manage=False,
        researcher=access.sees_everything(session, user, recording.study_id),
        counsellor_gender=stops.counsellor_gender(session, live.interview_id, recording.id),
        counsellor_missing=_counsellor_without_account(session, live.interview_id),
        label=wording.label,
        wording=wording.table,
    )


@router.get("/stops/{stop_id}")
def stop_in_report(stop_id: PathId, user: CurrentUser, session: SessionDep) -> Response:
    """A stop (from the annotator): its row in the report of its interview."""
    stop = access.require_stop(session, user, stop_id)
    live = access.require_live_session(session, user, stop.session_id)
    if live.interview_id is None:
        return RedirectResponse(f"/live/{live.id}", status_code=303)
    access.require_study(session, user, live.study_id, manage=True)
    return RedirectResponse(
        f"/interviews/{live.interview_id}/report#stop-{stop_id}", status_code=303
    )


@router.post("/live/{session_id}/end")
async def end_form(
    request: Request, session_id: PathId, user: CurrentUser, session: SessionDep
) -> Response:
    """ "Terminer la séance": everyone is paused; the report of the interview opens."""
    live = access.require_live_session(session, user, session_id)
    stops.require_researcher(session, user, live)
    if live.ended_at is None:
        await write(request, session, sessions.end, session, session_id, user.id)
    target = f"/interviews/{live.interview_id}/report" if live.interview_id else f"/live/{live.id}"
    return RedirectResponse(target, status_code=303)


def _counsellor_without_account(session: Session, interview_id: int | None) -> str:
    """The code of the interview's counsellor when no account is linked to it (nobody can
    join with the session's code), else ""."""
    interview = session.get(Interview, interview_id) if interview_id is not None else None
    counsellor = session.get(Counsellor, interview.counsellor_id or 0) if interview else None
    return counsellor.code if counsellor is not None and counsellor.user_id is None else ""


def _candidates(session: Session, interview: Interview) -> list[Recording]:
    """The study's recordings that are not sessions replayed in an interview."""
    replayed = select(InterviewRecording.recording_id)
    return list(
        session.exec(
            select(Recording)
            .where(Recording.study_id == interview.study_id, col(Recording.id).not_in(replayed))
            .order_by(col(Recording.code))
        ).all()
    )


@router.get("/interviews/{interview_id}/report", response_class=HTMLResponse)
def report_page(
    request: Request, interview: InterviewDep, user: CurrentUser, session: SessionDep
) -> Response:
    researcher_only(session, user, interview)
    built = report.build(session, interview, user.id)
    ac = session.get(Recording, built.ac_recording_id) if built.ac_recording_id else None
    media = player_media(session, ac) if ac is not None else None
    return render(
        request,
        "live_report.html",
        interview=interview,
        study=session.get(Study, interview.study_id),
        report=built,
        ac=ac,
        media=media,
        candidates=_candidates(session, interview),
        live_sessions=report.interview_sessions(session, interview.id or 0),
        label=wording.label,
    )


@router.post("/interviews/{interview_id}/recording")
async def choose_recording_form(
    request: Request,
    interview: InterviewDep,
    user: CurrentUser,
    session: SessionDep,
    recording_id: Annotated[str, Form()] = "",
    stop_id: Annotated[str, Form()] = "",
    stop_at: Annotated[str, Form()] = "",
) -> Response:
    """The report page's "Enregistrement de l'auto-confrontation" form."""
    researcher_only(session, user, interview)
    chosen = parse_id(recording_id, "Choisissez un enregistrement.") if recording_id else None
    stop = parse_id(stop_id, "Choisissez un arrêt.") if stop_id else None
    at = None
    if stop_at.strip():
        at = parse_time(stop_at)
    await write(request, session, report.set_recording, session, interview, chosen, stop, at)
    return RedirectResponse(f"/interviews/{interview.id}/report", status_code=303)
