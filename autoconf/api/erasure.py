"""Erasure of a recording or a whole study, files included (API).

`disposing()` wraps the transaction (`write()`) with what happens to the files, the media
grants and SQLite's write-ahead log; the order is explained in `studies/disposal.py`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import Request
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    actor,
    write,
    write_alone,
)
from autoconf.api.routing import IndexedRouter
from autoconf.media.clips import CLIPS_FOLDER
from autoconf.media.store import store_for
from autoconf.settings import Settings
from autoconf.studies import access, erasure
from autoconf.studies.disposal import Disposal, sweep

router = IndexedRouter(prefix="/api/v1", tags=["erasure"])


@asynccontextmanager
async def disposing(
    request: Request, session: Session, settings: Settings
) -> AsyncIterator[Disposal]:
    """The files of the erasure run inside: leftovers of an interrupted erasure finished
    first; on failure the folders set aside go back; once committed they are deleted, the
    media grants of the erased recordings forgotten and SQLite's log emptied."""
    store, clips_dir = store_for(settings), settings.data_dir / CLIPS_FOLDER
    await anyio.to_thread.run_sync(sweep, session, store, clips_dir)
    disposal = Disposal(store, clips_dir)
    try:
        yield disposal
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(disposal.settle, session)
        raise
    with anyio.CancelScope(shield=True):
        for recording_id in disposal.recording_ids:
            request.app.state.media_grants.forget(recording_id)
        await anyio.to_thread.run_sync(disposal.remove)
        await write_alone(request, erasure.checkpoint, request.app.state.engine)


@router.post("/recordings/{recording_id}/erase")
async def erase_recording(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> erasure.RecordingContents:
    """Erase the recording for good (the study's researchers): the original, proxy and
    derived files, its clips, annotations of every layer and author, transcript, consents,
    live stops, comments and agenda, the live sessions shown on it (moved to another
    recording of their interview, else erased with it) and its interview links. One audit
    entry stays, with its code and the counts answered here. Erased already: 404."""
    async with disposing(request, session, settings) as disposal:
        return await write(
            request,
            session,
            erasure.erase_recording,
            session,
            disposal,
            actor(request, user),
            recording.id or 0,
        )


@router.post("/studies/{study_id}/erase")
async def erase_study(
    request: Request,
    study: StudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> erasure.StudyContents:
    """Erase the study for good (administrators): every recording as above, then its
    members, counsellors, structures, interviews, codebooks and codes. One audit entry stays,
    with the counts answered here. Erased already: 404."""
    access.require_admin(user)
    async with disposing(request, session, settings) as disposal:
        return await write(
            request,
            session,
            erasure.erase_study,
            session,
            disposal,
            actor(request, user),
            study.id or 0,
        )
