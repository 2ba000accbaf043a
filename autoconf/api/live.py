"""Live auto-confrontations: start a session on a recording, join it by its code, and follow
and drive its shared playhead through a WebSocket."""

import asyncio
import contextlib
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect, status
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    PathId,
    SessionDep,
    credential_of,
    request_session,
    write,
)
from autoconf.auth import accounts
from autoconf.auth.accounts import SESSION
from autoconf.errors import DomainError, NotFound
from autoconf.live import sessions
from autoconf.live.hub import LiveHub
from autoconf.models import LiveSession, User
from autoconf.studies import access

router = APIRouter(prefix="/api/v1", tags=["live"])


class LiveStarted(BaseModel):
    id: int
    code: str = Field(description="What the counsellor types to join.")
    recording_id: int


class LiveStatePublic(BaseModel):
    session_id: int
    recording_id: int
    seq: int
    playing: bool
    position_ms: int
    rate: float
    at: str
    ended: bool
    now_ms: int = Field(description="Where the playhead is at the server's `now`.")


def _public(state: sessions.LiveState) -> LiveStatePublic:
    return LiveStatePublic(**state.public(), now_ms=state.now_ms())


def visible(session: Session, user: User, session_id: int) -> LiveSession:
    """The live session, if the user may see its recording (the same rule)."""
    live = session.get(LiveSession, session_id)
    if live is None:
        raise NotFound(f"Aucune session n° {session_id}.")
    access.require_recording(session, user, live.recording_id)
    return live


@router.post("/recordings/{recording_id}/live", status_code=status.HTTP_201_CREATED)
async def start_live(
    request: Request, recording: ManagedRecordingDep, user: CurrentUser, session: SessionDep
) -> LiveStarted:
    """Start a live session on the recording (the study's researchers): its join code."""
    live = await write(request, session, sessions.start, session, recording, user.id)
    return LiveStarted(id=live.id or 0, code=live.code, recording_id=live.recording_id)


@router.get("/live/code/{code}")
def join_live(
    code: Annotated[str, FastAPIPath(min_length=4, max_length=12)],
    user: CurrentUser,
    session: SessionDep,
) -> LiveStarted:
    """The session a join code opens (case does not matter), if its recording is one the user
    may see."""
    live = sessions.by_code(session, code)
    visible(session, user, live.id or 0)
    return LiveStarted(id=live.id or 0, code=live.code, recording_id=live.recording_id)


@router.get("/live/{session_id}")
def live_state(session_id: PathId, user: CurrentUser, session: SessionDep) -> LiveStatePublic:
    """The shared playhead now."""
    visible(session, user, session_id)
    return _public(sessions.state(session, session_id))


def _opened(
    socket: WebSocket, session: Session, session_id: int
) -> tuple[User, sessions.LiveState, int]:
    """The user, the state and the last event id (read before the state); PermissionError
    for no valid credential, or a session cookie sent by a page of another site."""
    found = credential_of(socket)
    origin = urlsplit(socket.headers.get("origin", "")).netloc
    if found is None or (found[0] == SESSION and origin and origin != socket.headers.get("host")):
        raise PermissionError
    user = accounts.user_for_token(session, found[1], found[0])
    if user is None:
        raise PermissionError
    visible(session, user, session_id)
    last = sessions.last_event_id(session)
    return user, sessions.state(session, session_id), last


@router.websocket("/live/{session_id}/ws")
async def live_socket(socket: WebSocket, session_id: int) -> None:
    """Messages from the server: `{"type": "state" | "play" | "pause" | "seek" | "rate",
    seq, playing, position_ms, rate, at, now_ms…}`; from the browser: `{"type": "play" |
    "pause" | "seek" | "rate", "position_ms"?, "rate"?}`; an `{"type": "error", "detail"}`
    answers a refused one."""
    hub: LiveHub = socket.app.state.live_hub
    queue = hub.subscribe(session_id)  # before the state: nothing falls in between
    try:
        try:
            async with request_session(socket) as session:
                opened = await anyio.to_thread.run_sync(_opened, socket, session, session_id)
            user, state, last = opened
        except (PermissionError, DomainError):
            await socket.close(code=4403)
            return
        hub.follow_from(last)
        await socket.accept()
        await socket.send_json({"type": "state", **state.public(), "now_ms": state.now_ms()})
        sender = asyncio.create_task(_send(socket, queue))
        try:
            # Until the browser leaves (RuntimeError: a receive after the close).
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                while True:
                    message = await socket.receive_json()
                    await _control(socket, session_id, user, message)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    finally:
        hub.unsubscribe(session_id, queue)


async def _send(socket: WebSocket, queue: "asyncio.Queue[dict[str, Any]]") -> None:
    while True:
        event = await queue.get()
        await socket.send_json(event)


async def _control(socket: WebSocket, session_id: int, user: User, message: Any) -> None:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in sessions.CONTROLS:
        await socket.send_json({"type": "error", "detail": "Message inconnu."})
        return
    position = message.get("position_ms")
    rate = message.get("rate")
    try:
        async with request_session(socket) as session:
            await write(
                socket,
                session,
                sessions.control,
                session,
                session_id,
                user.id,
                kind,
                int(position) if isinstance(position, int | float) else None,
                float(rate) if isinstance(rate, int | float) else None,
            )
    except DomainError as error:
        await socket.send_json({"type": "error", "detail": str(error)})
