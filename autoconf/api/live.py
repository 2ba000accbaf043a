"""Live auto-confrontations: start a session on a recording, join it by its code, and follow
and drive its shared playhead through a WebSocket."""

import asyncio
import contextlib
import math
import time
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Path as FastAPIPath
from fastapi import Request, WebSocket, WebSocketDisconnect, status
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
from autoconf.api.routing import IndexedRouter
from autoconf.api.web_security import from_elsewhere
from autoconf.auth import accounts
from autoconf.auth.accounts import SESSION
from autoconf.errors import DomainError
from autoconf.live import presence, sessions, stops
from autoconf.live.hub import LiveHub
from autoconf.models import LiveSession, User, utcnow
from autoconf.studies import access

router = IndexedRouter(prefix="/api/v1", tags=["live"])


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
    live = access.require_live_code(session, user, sessions.by_code(session, code))
    return LiveStarted(id=live.id or 0, code=live.code, recording_id=live.recording_id)


@router.get("/live/{session_id}")
def live_state(session_id: PathId, user: CurrentUser, session: SessionDep) -> LiveStatePublic:
    """The shared playhead now."""
    access.require_live_session(session, user, session_id)
    return _public(sessions.state(session, session_id))


def snapshot(session: Session, user: User, live: LiveSession) -> dict[str, Any]:
    """What a screen needs on (re)connecting, besides the playhead: who it is, whether the
    session ever played, the stops, the agenda (researchers) and who is connected."""
    assert live.id is not None
    role = stops.role_of(session, user, live.study_id)
    stop_list = [s.public() for s in stops.list_stops(session, [live.id])]
    log: dict[str, Any] = {"stops": stop_list, "presence": presence.present(session, live.id)}
    if role == "researcher":
        log["agenda"] = [i.public() for i in stops.agenda(session, live, user.id)]
    else:  # their own prepared moments, to bring up; no statuses, no one else's
        mine = [i for i in stops.agenda(session, live, user.id) if i.author_id == user.id]
        log["agenda"] = [{**i.public(), "status": "planned"} for i in mine]
        own = {i.prepared_id for i in mine}  # as stops.own_prepared
        log["stops"] = [stops.for_counsellor(stop, own, user.id) for stop in stop_list]
    played = sessions.has_played(session, live.id)
    return {"role": role, "user_id": user.id, "played": played, "log": log}


def _opened(
    socket: WebSocket, session: Session, session_id: int
) -> tuple[User, sessions.LiveState, int, dict[str, Any]]:
    """The user, the state, the last event id (read before the state) and the snapshot;
    PermissionError for no valid credential, or a session cookie sent by a page of another
    site."""
    found = credential_of(socket)
    # A cookie is the browser's: only a page of this site may use it (CrossSiteGuard refuses
    # the others before this; asked again here, the rule of this route).
    if found is None or (found[0] == SESSION and from_elsewhere(socket.headers)):
        raise PermissionError
    user = accounts.user_for_token(session, found[1], found[0])
    if user is None:
        raise PermissionError
    live = access.require_live_session(session, user, session_id)
    last = sessions.last_event_id(session)
    return user, sessions.state(session, session_id), last, snapshot(session, user, live)


@router.websocket("/live/{session_id}/ws")
async def live_socket(socket: WebSocket, session_id: PathId) -> None:
    """Messages from the server: first `{"type": "state", seq, playing, position_ms, rate, at,
    now_ms, role, played, log: {stops, agenda, presence}}`, then the session's events: the
    playhead's (`play`, `pause`, `seek`, `rate`, `switch`, `stop`, `end`, with its new state;
    a `stop` also carries the stop), `comment`, `comment_deleted`, `stop_edit`, `agenda`,
    `presence`. From the browser: `{"type": "play" | "pause" | "seek" | "rate" | "switch" | "stop",
    "position_ms"?, "rate"?, "recording_id"?}` or `{"type": "goto", "prepared_id"}`; an
    `{"type": "error", "detail"}` answers a refused one."""
    hub: LiveHub = socket.app.state.live_hub
    queue = hub.subscribe(session_id)  # before the state: nothing falls in between
    presence_id: str | None = None
    try:
        try:
            async with request_session(socket) as session:
                opened = await anyio.to_thread.run_sync(_opened, socket, session, session_id)
            user, state, last, known = opened
        except (PermissionError, DomainError):
            await socket.close(code=4403)
            return
        hub.follow_from(last)
        await socket.accept()
        now = utcnow()
        await socket.send_json(
            {
                "type": "state",
                **state.public(),
                "now_ms": state.now_ms(now),
                "server_now": now.isoformat(),
                **known,
            }
        )
        async with request_session(socket) as session:
            presence_id = await write(
                socket, session, presence.join, session, session_id, user, known["role"]
            )
        hub.here(presence_id)
        sender = asyncio.create_task(_send(socket, session_id, queue, known))
        try:
            # Until the browser leaves (RuntimeError: a receive after the close).
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                while True:
                    try:
                        message = await socket.receive_json()
                    except ValueError:  # not JSON
                        await socket.send_json({"type": "error", "detail": "Message illisible."})
                        continue
                    if not await _still_allowed(socket, session_id):
                        await socket.close(code=4403)
                        break
                    await _receive(socket, session_id, user, message)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    finally:
        hub.unsubscribe(session_id, queue)
        if presence_id is not None:
            hub.gone(presence_id)
            # Shielded: a connection whose task is cancelled as it closes (a server stopping,
            # Starlette's test client) still tells the others now, not when its row goes
            # stale half a minute later. A database gone: the row goes stale.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                async with request_session(socket) as session:
                    await write(socket, session, presence.leave, session, presence_id)


# What a counsellor's screen is not sent: the agenda's statuses.
_RESEARCHERS_ONLY = ("agenda",)


# Access taken back (member removed, account disabled, logged out) ends an open socket at the
# browser's next action, or at the first event this long after the last check.
RECHECK_S = 2.0


def _allowed(socket: WebSocket, session: Session, session_id: int) -> bool:
    found = credential_of(socket)
    user = accounts.user_for_token(session, found[1], found[0]) if found else None
    if user is None:
        return False
    try:
        access.require_live_session(session, user, session_id)
    except DomainError:
        return False
    return True


async def _still_allowed(socket: WebSocket, session_id: int) -> bool:
    """Whether the socket's credential may still follow the session (asked again, so that
    access taken back ends an open socket too)."""
    async with request_session(socket) as session:
        return await anyio.to_thread.run_sync(_allowed, socket, session, session_id)


async def _send(
    socket: WebSocket,
    session_id: int,
    queue: "asyncio.Queue[dict[str, Any]]",
    known: dict[str, Any],
) -> None:
    """The session's events to this screen; a counsellor's gets no researchers' notes or
    agenda, and no id of a prepared moment but their own (`stops.for_counsellor`). Access
    is checked again every RECHECK_S seconds of events."""
    role, user_id = known["role"], known["user_id"]
    checked = time.monotonic()
    own = {item["prepared_id"] for item in known["log"]["agenda"]}
    # The comments this screen has: a comment it may no longer see (its speaker changed) is
    # taken off it, as if deleted.
    seen = {c["id"] for stop in known["log"]["stops"] for c in stop["comments"]}
    while True:
        event: dict[str, Any] | None = await queue.get()
        if time.monotonic() - checked > RECHECK_S:
            if not await _still_allowed(socket, session_id):
                await socket.close(code=4403)
                return
            checked = time.monotonic()
        if role != "researcher" and event is not None:
            event = _for_counsellor(event, own, user_id, seen)
        if event is not None:
            await socket.send_json(event)


def _for_counsellor(
    event: dict[str, Any], own: set[int], user_id: int, seen: set[int]
) -> dict[str, Any] | None:
    """An event as a counsellor's screen gets it (None: not at all)."""
    if event["type"] in _RESEARCHERS_ONLY:
        return None
    event = {k: v for k, v in event.items() if k != "agenda"}  # shared: a copy
    if "stop" in event:
        event["stop"] = stops.for_counsellor(event["stop"], own, user_id)
    if event["type"] == "comment":
        comment = event["comment"]
        if stops.comment_for_counsellor(comment, user_id):
            seen.add(comment["id"])
            return event
        if comment["id"] not in seen:
            return None
        seen.discard(comment["id"])
        gone = {"id": comment["id"], "stop_id": comment["stop_id"]}
        return {**event, "type": "comment_deleted", "comment_deleted": gone, "comment": None}
    if event["type"] == "comment_deleted":
        if event["comment_deleted"]["id"] not in seen:
            return None
        seen.discard(event["comment_deleted"]["id"])
    return event


def _finite(value: Any) -> float | None:
    """A number sent by the browser (not a boolean, not JSON's NaN or Infinity, not huge)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) <= 2**53 else None


def _number(value: Any) -> int | None:
    found = _finite(value)
    return None if found is None else int(found)


async def _receive(socket: WebSocket, session_id: int, user: User, message: Any) -> None:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in (*sessions.CONTROLS, "stop", "goto"):
        await socket.send_json({"type": "error", "detail": "Message inconnu."})
        return
    position = _number(message.get("position_ms"))
    if message.get("position_ms") is not None and position is None:
        await socket.send_json({"type": "error", "detail": "position_ms : un nombre est attendu."})
        return
    rate = _finite(message.get("rate"))
    # The screen's id, given back in the event: it knows its own action coming back.
    client = message.get("client")
    client = client[:40] if isinstance(client, str) else None
    try:
        async with request_session(socket) as session:
            if kind == "stop":
                stop = stops.stop_here
                await write(socket, session, stop, session, session_id, user, position, client)
            elif kind == "goto":
                prepared_id = _number(message.get("prepared_id")) or 0
                go = stops.go_to
                await write(socket, session, go, session, session_id, user, prepared_id, client)
            else:
                await write(
                    socket,
                    session,
                    sessions.control,
                    session,
                    session_id,
                    user.id,
                    kind,
                    position,
                    rate,
                    _number(message.get("recording_id")),
                    {"client": client},
                )
    except DomainError as error:
        await socket.send_json({"type": "error", "detail": str(error)})
