"""Recordings: upload of the original, listing, details."""

from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile, status
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedStudyDep,
    RecordingDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    write,
)
from autoconf.models import Recording, User
from autoconf.payloads import MAX_ID, RecordingPublic, ShortCode
from autoconf.settings import Settings
from autoconf.studies import recordings

router = APIRouter(prefix="/api/v1", tags=["recordings"])


async def store_upload(
    request: Request,
    session: Session,
    settings: Settings,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    file: UploadFile,
    user: User,
) -> Recording:
    """Copy and hash the upload outside the write lock, then register it under the lock."""
    new = recordings.NewRecording(
        study_id, code, counsellor_id, file.filename or "", file.content_type or ""
    )
    receive = recordings.receive_original
    media_dir = settings.media_dir
    stored = await anyio.to_thread.run_sync(  # the long copy, outside the write lock
        receive, session, media_dir, settings.max_upload_bytes, new, file.file
    )
    register = recordings.register_recording
    try:
        return await write(request, session, register, session, stored, new, user)
    except BaseException:  # refused, failed or cancelled: the file belongs to nobody
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(recordings.discard, media_dir, stored)
        raise


@router.post("/studies/{study_id}/recordings", status_code=status.HTTP_201_CREATED)
async def upload_recording(
    request: Request,
    study: ManagedStudyDep,
    file: Annotated[UploadFile, File(description="The original audio or video file.")],
    code: Annotated[ShortCode, Form(description="The situation's code, e.g. `A8 - 1`.")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    counsellor_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> RecordingPublic:
    """Store the original byte for byte (sha256 recorded); processing comes after."""
    recording = await store_upload(
        request, session, settings, study.id or 0, code, counsellor_id, file, user
    )
    return RecordingPublic.model_validate(recording)


@router.get("/studies/{study_id}/recordings")
def list_recordings(
    study: StudyDep, user: CurrentUser, session: SessionDep
) -> list[RecordingPublic]:
    """The recordings of the study this user may see, by code."""
    found = recordings.list_recordings(session, user, study.id or 0)
    return [RecordingPublic.model_validate(r) for r in found]


@router.get("/recordings/{recording_id}")
def get_recording(recording: RecordingDep) -> RecordingPublic:
    return RecordingPublic.model_validate(recording)
