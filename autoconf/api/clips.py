"""Clips for training: a segment cut from the original, for the study's researchers, when
both parties' consents cover training use (and research, if the study requires it). Each
clip sent is a `download` in the audit log."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.responses import FileResponse
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from autoconf.api.deps import (
    PathId,
    SettingsDep,
    actor,
    briefly_signed_in,
    request_session,
    write,
)
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.consent import records as consent
from autoconf.errors import Conflict, Forbidden, NotFound
from autoconf.media import clips
from autoconf.media.runner import FFmpeg, Stopped
from autoconf.media.store import Store, store_for
from autoconf.models import Recording, User
from autoconf.settings import Settings
from autoconf.studies import access

router = IndexedRouter(prefix="/api/v1", tags=["recordings"])

# Clips encoded at once by this process (each takes the CPU ffmpeg can get); the others wait
# on the event loop, holding no thread and no database session.
CLIP_SLOTS = 2
DISCONNECT_POLL_S = 0.5


@dataclass(frozen=True)
class ClipWorkers:
    runner: FFmpeg
    limiter: anyio.CapacityLimiter


def clip_workers(request: Request, settings: Settings) -> ClipWorkers:
    """This application's clip runner, made on first use (on the event loop, so once)."""
    state = request.app.state
    found: ClipWorkers | None = getattr(state, "clip_workers", None)
    if found is None:
        runner = FFmpeg.create(settings.ffmpeg_binary, settings.media_timeout_seconds, CLIP_SLOTS)
        found = ClipWorkers(runner, anyio.CapacityLimiter(CLIP_SLOTS))
        state.clip_workers = found
    return found


@dataclass(frozen=True)
class ClipRequest:
    """An allowed clip: what to cut, and what the audit log says of it."""

    plan: clips.ClipPlan
    annotation_id: int
    recording_id: int
    study_id: int


def clip_plan(session: Session, user: User, annotation_id: int, store: Store) -> ClipRequest:
    """The clip of an annotation the user may read, if they are a researcher of its study
    and the recording's consents allow it."""
    annotation = access.require_annotation(session, user, annotation_id)
    recording = session.get(Recording, annotation.recording_id)
    if recording is None:
        raise NotFound(f"Aucune annotation n° {annotation_id}.")
    if not access.sees_everything(session, user, recording.study_id):
        raise Forbidden("Seuls les chercheurs de l'étude peuvent exporter un extrait.")
    if annotation.end_ms is not None and annotation.end_ms > annotation.start_ms:
        consent.require(session, recording)
        consent.require(session, recording, consent.TRAINING)
    plan = clips.plan_clip(recording, annotation, store)
    return ClipRequest(plan, annotation_id, recording.id or 0, recording.study_id)


async def _plan(
    request: Request,
    annotation_id: PathId,
    user: Annotated[User, Depends(briefly_signed_in)],
    settings: SettingsDep,
) -> ClipRequest:
    # A session of its own, closed before the encode: a request holds one of the
    # MAX_SESSIONS slots for the few queries only, not for the minutes ffmpeg may take.
    async with request_session(request) as session:
        return await anyio.to_thread.run_sync(
            clip_plan, session, user, annotation_id, store_for(settings)
        )


ClipDep = Annotated[ClipRequest, Depends(_plan)]


class ClipResponse(FileResponse):
    """The clip's file, removed once sent, or once the client has gone."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(partial(Path(self.path).unlink, missing_ok=True))


async def make_clip(request: Request, settings: Settings, plan: clips.ClipPlan) -> Path:
    """Encode the clip in a worker thread (at most CLIP_SLOTS at once); ffmpeg stops when
    the client hangs up."""
    workers = clip_workers(request, settings)
    stop = threading.Event()

    failure: Exception | None = None
    path: Path | None = None

    async def watch() -> None:
        while not stop.is_set():
            if await request.is_disconnected():
                stop.set()
            await anyio.sleep(DISCONNECT_POLL_S)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            async with workers.limiter:  # waiting here holds no thread
                path = await anyio.to_thread.run_sync(
                    _cut,
                    workers.runner,
                    plan,
                    settings.data_dir,
                    stop.is_set,
                    abandon_on_cancel=True,
                )
        except Exception as error:  # raised after the group, not wrapped in an ExceptionGroup
            failure = error
        finally:
            stop.set()
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    assert path is not None
    return path


def _cut(
    runner: FFmpeg, plan: clips.ClipPlan, data_dir: Path, should_stop: Callable[[], bool]
) -> Path:
    try:
        return clips.cut(runner, plan, clips.new_clip_path(data_dir, plan), should_stop)
    except Stopped:
        raise Conflict("La préparation de l'extrait a été interrompue.") from None


@router.get(
    "/annotations/{annotation_id}/clip",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "audio/mp4": {}}}},
)
async def annotation_clip(
    request: Request,
    clip: ClipDep,
    user: Annotated[User, Depends(briefly_signed_in)],
    settings: SettingsDep,
) -> FileResponse:
    """The segment as a clip for training, cut from the original at full quality (H.264
    CRF 18 + AAC 192k in MP4, or AAC in M4A for sound only), named after the recording's
    code and the times (`A8 - 1 — 10’02-10’15.mp4`). Researchers of the study only, when
    both parties' consents cover training use (403 names the missing one); ten minutes at
    most. Each clip sent is in the audit log."""
    plan = clip.plan
    path = await make_clip(request, settings, plan)
    try:
        async with request_session(request) as session:
            await write(request, session, _log_download, session, clip, actor(request, user))
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(partial(path.unlink, missing_ok=True))
        raise
    headers = {
        "Content-Disposition": clips.content_disposition(plan.filename),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return ClipResponse(path, media_type=plan.media_type, headers=headers)


def _log_download(session: Session, clip: ClipRequest, who: audit_log.Actor) -> None:
    audit_log.record(
        session,
        who,
        audit_log.DOWNLOAD,
        study_id=clip.study_id,
        recording_id=clip.recording_id,
        object_type="annotation",
        object_id=clip.annotation_id,
        what="clip",
        start_ms=clip.plan.start_ms,
        end_ms=clip.plan.end_ms,
    )
