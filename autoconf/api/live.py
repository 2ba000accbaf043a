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
    SESSION_COOKIE,
    CurrentUser,
    ManagedRecordingDep,
    PathId,
    SessionDep,
    write,
)
from autoconf.auth import accounts
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


def _socket_user(socket: WebSocket) -> User | None:
    header = socket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    with Session(socket.app.state.engine) as session:
        if scheme.lower() == "bearer" and token.strip():
            return accounts.user_for_token(session, token.strip(), accounts.API)
        cookie = socket.cookies.get(SESSION_COOKIE)
        # A page of another site must not drive a session with this browser's cookie.
        origin = urlsplit(socket.headers.get("origin", ""))
        if cookie and origin.netloc and origin.netloc != socket.headers.get("host", ""):
            return None
        return accounts.user_for_token(session, cookie, accounts.SESSION) if cookie else None


def _opened(socket: WebSocket, session_id: int) -> tuple[User, sessions.LiveState, int]:
    """The user, the state and the last event id (read before the state)."""
    user = _socket_user(socket)
    if user is None:
        raise PermissionError
    with Session(socket.app.state.engine) as session:
        visible(session, user, session_id)
        last = sessions.last_event_id(session)
        return user, sessions.state(session, session_id), last


def hub_of(socket: WebSocket) -> LiveHub:
    hub: LiveHub = socket.app.state.live_hub
    return hub


@router.websocket("/live/{session_id}/ws")
async def live_socket(socket: WebSocket, session_id: int) -> None:
    """Messages from the server: `{"type": "state" | "play" | "pause" | "seek" | "rate",
    seq, playing, position_ms, rate, at, now_ms…}`; from the browser: `{"type": "play" |
    "pause" | "seek" | "rate", "position_ms"?, "rate"?}`; an `{"type": "error", "detail"}`
    answers a refused one."""
    hub = hub_of(socket)
    queue = hub.subscribe(session_id)  # before the state: nothing falls in between
    try:
        try:
            user, state, last = await anyio.to_thread.run_sync(_opened, socket, session_id)
        except (PermissionError, DomainError):
            await socket.close(code=4403)
            return
        hub.follow_from(last)
        await socket.accept()
        await socket.send_json({"type": "state", **state.public(), "now_ms": state.now_ms()})
        sender = asyncio.create_task(_send(socket, queue))
        try:
            while True:
                message = await socket.receive_json()
                await _control(socket, session_id, user, message)
        except (WebSocketDisconnect, RuntimeError):
            pass
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
        with Session(socket.app.state.engine) as session:
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
