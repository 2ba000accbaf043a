"""Recordings: upload of the original, listing, details, processing (again), deletion."""

from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import File, Form, Request, UploadFile, status
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    ManagedStudyDep,
    RecordingDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    actor,
    write,
)
from autoconf.api.erasure import disposing
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.consent import records as consent
from autoconf.media import jobs
from autoconf.media.storage import StoredFile
from autoconf.media.store import store_for
from autoconf.models import MediaJob, Recording, User
from autoconf.payloads import MAX_ID, ConsentState, RecordingPublic, RecordingUpdate, ShortCode
from autoconf.settings import Settings
from autoconf.studies import access, recordings
from autoconf.studies.erasure import erase_recording

router = IndexedRouter(prefix="/api/v1", tags=["recordings"])


async def store_upload(
    request: Request,
    session: Session,
    settings: Settings,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    file: UploadFile,
    user: User,
    interview_id: int | None = None,
    interview_code: str = "",
) -> Recording:
    """Copy and hash the upload outside the write lock, then register it under the lock."""
    new = recordings.NewRecording(
        study_id,
        code,
        counsellor_id,
        file.filename or "",
        file.content_type or "",
        interview_id,
        interview_code,
    )
    receive = recordings.receive_original
    store = store_for(settings)
    stored = await anyio.to_thread.run_sync(  # the long copy, outside the write lock
        receive, session, store, settings.max_upload_bytes, new, file.file
    )
    return await register_stored(request, session, settings, stored, new, user)


async def register_stored(
    request: Request,
    session: Session,
    settings: Settings,
    stored: StoredFile,
    new: recordings.NewRecording,
    user: User,
) -> Recording:
    """The recording row of a received file, its job queued and a worker woken."""
    register = recordings.register_recording
    try:
        recording = await write(request, session, register, session, stored, new, user)
    except BaseException:  # refused, failed or cancelled: the file belongs to nobody
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(recordings.discard, store_for(settings), stored)
        raise
    wake_workers(request)
    return recording


def wake_workers(request: Request) -> None:
    runner = getattr(request.app.state, "job_runner", None)
    if runner is not None:
        runner.wake()


def public(
    recording: Recording, job: MediaJob | None, standing: consent.Standing
) -> RecordingPublic:
    """What the API says of a recording: its row, its job's progress, its consents
    (`consent.standing`), its media links (none while its consents forbid playing)."""
    result = RecordingPublic.model_validate(recording)
    base = f"/api/v1/recordings/{recording.id}"
    info = recording.media_info or {}
    result.media = info
    result.kind = ("video" if info.get("video") else "audio") if info else None
    if recording.status == "queued":
        result.progress, result.stage = 0.0, jobs.QUEUED_LABEL
    elif recording.status == "processing" and job is not None:
        result.progress, result.stage = job.progress, jobs.label(job)
    result.consent = ConsentState.model_validate(standing, from_attributes=True)
    if not standing.playable:
        return result
    if recording.status == "ready" and recording.proxy_key:
        files = info.get("files", {})
        result.media_url = f"{base}/media"
        result.poster_url = f"{base}/poster" if files.get("poster") else None
        result.waveform_url = f"{base}/waveform" if files.get("waveform") else None
        result.thumbnails_url = f"{base}/thumbnails.vtt" if files.get("thumbnails") else None
    return result


@router.post(
    "/studies/{study_id}/recordings",
    status_code=status.HTTP_201_CREATED,
    responses=documented(415),
)
async def upload_recording(
    request: Request,
    study: ManagedStudyDep,
    file: Annotated[UploadFile, File(description="The original audio or video file.")],
    code: Annotated[ShortCode, Form(description="The situation's code, e.g. `A8 - 1`.")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    counsellor_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
    interview_id: Annotated[
        int | None, Form(ge=1, le=MAX_ID, description="Join this interview (its counsellor's).")
    ] = None,
    interview_code: Annotated[
        ShortCode | None,
        Form(description="Create an interview with this code for the counsellor, with it."),
    ] = None,
) -> RecordingPublic:
    """Store the original byte for byte (sha256 recorded); processing comes after. With an
    interview (existing or new), the session is ready for preparation and a live session."""
    recording = await store_upload(
        request,
        session,
        settings,
        study.id or 0,
        code,
        counsellor_id,
        file,
        user,
        interview_id,
        interview_code or "",
    )
    return await public_soon(session, recording, None)


async def public_soon(
    session: Session, recording: Recording, job: MediaJob | None
) -> RecordingPublic:
    """`public()` from an async route: its consent queries in a worker thread."""
    standing = await anyio.to_thread.run_sync(consent.standing, session, recording)
    return public(recording, job, standing)


@router.get("/studies/{study_id}/recordings")
def list_recordings(
    study: StudyDep, user: CurrentUser, session: SessionDep
) -> list[RecordingPublic]:
    """The recordings of the study this user may see, by code."""
    found = recordings.list_recordings(session, user, study.id or 0)
    by_recording = jobs.jobs_by_recording(session, [r.id or 0 for r in found])
    shown = [public(r, by_recording.get(r.id or 0), consent.standing(session, r)) for r in found]
    return [_as_seen(session, user, view) for view in shown]


@router.get("/recordings/{recording_id}")
def get_recording(
    recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> RecordingPublic:
    """The recording, with its processing status, progress and media links."""
    job = jobs.job_of(session, recording)
    return _as_seen(session, user, public(recording, job, consent.standing(session, recording)))


def _as_seen(session: Session, user: User, view: RecordingPublic) -> RecordingPublic:
    """The uploaded file's name may hold a person's name: the study's researchers only."""
    if access.sees_everything(session, user, view.study_id):
        return view
    return view.model_copy(update={"original_filename": ""})


async def reprocess(request: Request, session: Session, recording: Recording) -> MediaJob:
    """Queue the recording's processing again (API and page), waking a worker."""
    job = await write(request, session, jobs.enqueue, session, recording)
    request.app.state.media_grants.forget(recording.id or 0)
    wake_workers(request)
    return job


async def stop_processing(request: Request, session: Session, recording: Recording) -> None:
    await write(request, session, jobs.cancel, session, recording)
    request.app.state.media_grants.forget(recording.id or 0)


async def erase(
    request: Request, session: Session, settings: Settings, recording: Recording
) -> None:
    """Erase the recording with everything made from it (`studies/erasure.py`), leaving one
    audit entry, as `POST …/erase` does; a running job stops."""
    who = actor(request, request.state.auth_user)  # signed in by the recording's dependency
    async with disposing(request, session, settings) as disposal:
        recording_id = recording.id or 0
        await write(request, session, erase_recording, session, disposal, who, recording_id)


@router.post("/recordings/{recording_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_processing(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> RecordingPublic:
    """Process the recording again from its original (after a failure or a stop)."""
    return await public_soon(session, recording, await reprocess(request, session, recording))


@router.post("/recordings/{recording_id}/cancel")
async def cancel_processing(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> RecordingPublic:
    """Stop the processing: ffmpeg is killed within a second, the recording is `failed`."""
    await stop_processing(request, session, recording)
    return await public_soon(session, recording, None)


@router.delete("/recordings/{recording_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_recording(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, settings: SettingsDep
) -> None:
    """Erase the recording for good, as `POST /recordings/{id}/erase` does (every file,
    annotation, transcript, live data; one audit entry), answering 204."""
    await erase(request, session, settings, recording)


def _update(session: Session, recording_id: int, changes: RecordingUpdate) -> RecordingPublic:
    updated = recordings.update_recording(
        session, recording_id, changes.model_dump(exclude_unset=True)
    )
    return public(updated, jobs.job_of(session, updated), consent.standing(session, updated))


@router.patch("/recordings/{recording_id}")
async def patch_recording(
    request: Request, recording: ManagedRecordingDep, changes: RecordingUpdate, session: SessionDep
) -> RecordingPublic:
    """Change a recording's code (the study's pattern applies) or its counsellor (the
    study's researchers only)."""
    result: RecordingPublic = await write(
        request, session, _update, session, recording.id or 0, changes
    )
    request.app.state.media_grants.forget(recording.id or 0)  # its counsellor may change
    return result
