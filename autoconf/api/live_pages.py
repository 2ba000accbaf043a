"""The live session's page: the shared player, for the researcher (with the join code) and
the counsellor (a calm view: the video and "Arrêter ici"); starting and joining from forms."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from autoconf.api.deps import CurrentUser, ManagedRecordingDep, PathId, SessionDep, write
from autoconf.api.live import visible
from autoconf.api.pages import PLAYER_FIELDS
from autoconf.api.recordings import public
from autoconf.api.rendering import render
from autoconf.live import sessions
from autoconf.media import jobs
from autoconf.models import Recording, Study
from autoconf.studies import access

router = APIRouter(include_in_schema=False)


@router.post("/recordings/{recording_id}/live")
async def start_form(
    request: Request, recording: ManagedRecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The recording page's "Démarrer l'auto-confrontation en direct"."""
    live = await write(request, session, sessions.start, session, recording, user.id)
    return RedirectResponse(f"/live/{live.id}", status_code=303)


@router.get("/live", response_class=HTMLResponse)
def join_page(request: Request, user: CurrentUser, session: SessionDep, code: str = "") -> Response:
    """Type the code the researcher gives: the session opens (a GET form: joining writes
    nothing)."""
    if code.strip():
        live = sessions.by_code(session, code[:12])
        visible(session, user, live.id or 0)
        return RedirectResponse(f"/live/{live.id}", status_code=303)
    return render(request, "live_join.html")


@router.get("/live/{session_id}", response_class=HTMLResponse)
def live_page(
    request: Request, session_id: PathId, user: CurrentUser, session: SessionDep
) -> Response:
    live = visible(session, user, session_id)
    recording = session.get(Recording, live.recording_id)
    assert recording is not None
    view = public(recording, jobs.job_of(session, recording))
    base = f"/api/v1/recordings/{recording.id}"
    media = {**view.model_dump(include=PLAYER_FIELDS), "api_url": base}
    return render(
        request,
        "live.html",
        live=live,
        recording=recording,
        study=session.get(Study, recording.study_id),
        media=media,
        can_manage=False,
        researcher=access.sees_everything(session, user, recording.study_id),
    )
