"""A live session's stops, their comments and the agenda of prepared moments, over HTTP (the
page uses these; every change also reaches the other screens as an event)."""

from typing import Annotated, Any

from fastapi import Query, Request, Response, status
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, PathId, SessionDep, write
from autoconf.api.live import snapshot
from autoconf.api.routing import IndexedRouter
from autoconf.live import sessions, stops
from autoconf.models import User
from autoconf.payloads import (
    MAX_ID,
    CommentCreate,
    CommentUpdate,
    StatusUpdate,
    StopCreate,
    StopLink,
)
from autoconf.studies import access

router = IndexedRouter(prefix="/api/v1", tags=["live"])


def _stop_session(session: Session, user: User, stop_id: int) -> int:
    return access.require_stop(session, user, stop_id).session_id


@router.get("/live/{session_id}/log")
def live_log(session_id: PathId, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The stops (with their comments, for researchers), the agenda (researchers) and who is
    connected: what a screen shows besides the player."""
    live = access.require_live_session(session, user, session_id)
    known = snapshot(session, user, live)
    return {"role": known["role"], **known["log"]}


@router.post("/live/{session_id}/stops", status_code=status.HTTP_201_CREATED)
async def stop_here(
    request: Request, session_id: PathId, body: StopCreate, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """ "Arrêter ici": everyone pauses, and the stop is recorded (by who, when, where)."""
    live = access.require_live_session(session, user, session_id)
    event = await write(
        request, session, stops.stop_here, session, session_id, user, body.position_ms
    )
    stop: dict[str, Any] = event.payload["stop"]
    if stops.role_of(session, user, live.study_id) == "researcher":
        return stop
    # The counsellor: as their screen gets it (no researcher's note, no one else's mark).
    return stops.for_counsellor(stop, stops.own_prepared(session, live, user), user.id)


@router.patch("/live/stops/{stop_id}")
async def link_stop(
    request: Request, stop_id: PathId, body: StopLink, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """Say which prepared moment the stop answers (researchers)."""
    _stop_session(session, user, stop_id)
    view, _ = await write(request, session, stops.link, session, stop_id, user, body.prepared_id)
    return view.public()


@router.post("/live/stops/{stop_id}/comments", status_code=status.HTTP_201_CREATED)
async def add_comment(
    request: Request,
    stop_id: PathId,
    body: CommentCreate,
    user: CurrentUser,
    session: SessionDep,
) -> dict[str, Any]:
    """Type what was said at the stop (researchers): a note, or the counsellor's words."""
    _stop_session(session, user, stop_id)
    view = await write(
        request, session, stops.add_comment, session, stop_id, user, body.speaker, body.text
    )
    return view.public()


def _comment_session(session: Session, user: User, comment_id: int) -> None:
    access.require_comment(session, user, comment_id)


@router.patch("/live/comments/{comment_id}")
async def edit_comment(
    request: Request,
    comment_id: PathId,
    body: CommentUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> dict[str, Any]:
    """Change a comment; `version` must be the one read, else 409 with the current text."""
    _comment_session(session, user, comment_id)
    view = await write(
        request,
        session,
        stops.edit_comment,
        session,
        comment_id,
        user,
        body.version,
        body.text,
        body.speaker,
    )
    return view.public()


@router.delete("/live/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_comment(
    request: Request,
    comment_id: PathId,
    version: Annotated[int, Query(ge=1, le=MAX_ID)],
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    _comment_session(session, user, comment_id)
    await write(request, session, stops.delete_comment, session, comment_id, user, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/live/{session_id}/agenda/{prepared_id}")
async def set_status(
    request: Request,
    session_id: PathId,
    prepared_id: PathId,
    body: StatusUpdate,
    user: CurrentUser,
    session: SessionDep,
) -> dict[str, Any]:
    """Set a prepared moment's status in this session (researchers)."""
    access.require_live_session(session, user, session_id)
    await write(
        request, session, stops.set_status, session, session_id, user, prepared_id, body.status
    )
    return {"prepared_id": prepared_id, "status": body.status}


@router.post("/live/{session_id}/end")
async def end_session(
    request: Request, session_id: PathId, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    """End the session (researchers): everyone is paused, the code no longer opens it; the
    stops and comments stay, and the report shows them."""
    live = access.require_live_session(session, user, session_id)
    stops.require_researcher(session, user, live)
    await write(request, session, sessions.end, session, session_id, user.id)
    return {"session_id": session_id, "ended": True}
