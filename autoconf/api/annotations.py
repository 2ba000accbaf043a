"""Annotations (moments and segments) of a recording, and its transcript."""

from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, File, Query, Request, UploadFile, status
from fastapi.responses import PlainTextResponse, Response
from sqlmodel import Session

from autoconf.api.deps import (
    AnnotationDep,
    CurrentUser,
    EditableAnnotationDep,
    ManagedRecordingDep,
    RecordingDep,
    SessionDep,
    actor,
    write,
)
from autoconf.audit import log as audit_log
from autoconf.consent import records as consent
from autoconf.errors import Invalid
from autoconf.live import stops
from autoconf.models import Annotation, Recording, User
from autoconf.payloads import (
    MAX_ID,
    AnnotationCreate,
    AnnotationPublic,
    AnnotationUpdate,
    TranscriptImported,
)
from autoconf.schemes import annotations, transcripts
from autoconf.studies import access

router = APIRouter(prefix="/api/v1", tags=["annotations"])
_CUE_MESSAGE = (
    "Une réplique de la transcription ne se modifie pas ici : corrigez le fichier "
    "et importez-le de nouveau."
)


@router.get("/recordings/{recording_id}/annotations")
def list_annotations(
    recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> list[AnnotationPublic]:
    """The recording's annotations you may see (shared ones and your private marks; a
    counsellor: stops, transcript, their own marks and what is shown to them), in time
    order."""
    scope = access.annotation_scope(session, user, recording.study_id)
    views = annotations.list_annotations(session, recording.id or 0, scope.clause())
    if not consent.content_allowed(session, recording):  # the transcript is its content
        views = [view for view in views if view.layer != "transcript"]
    return [AnnotationPublic.model_validate(scope.shown(view)) for view in views]


@router.post("/recordings/{recording_id}/annotations", status_code=status.HTTP_201_CREATED)
async def create_annotation(
    request: Request,
    body: AnnotationCreate,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
) -> AnnotationPublic:
    """A moment (no `end_ms`) or a segment, with codes of this study, note and fields. A
    counsellor writes only their own marks and stops (403 on the researchers' layers)."""
    limits = access.write_limits(session, user, recording.study_id)
    view = await write(
        request,
        session,
        annotations.create_annotation,
        session,
        recording,
        user.id,
        **body.model_dump(),
        limits=limits,
    )
    return AnnotationPublic.model_validate(view)


@router.get("/annotations/{annotation_id}")
def get_annotation(
    annotation: AnnotationDep, user: CurrentUser, session: SessionDep
) -> AnnotationPublic:
    recording = session.get(Recording, annotation.recording_id)
    assert recording is not None  # AnnotationDep checked it
    if annotation.layer == "transcript":
        consent.require(session, recording)
    scope = access.annotation_scope(session, user, recording.study_id)
    return AnnotationPublic.model_validate(
        scope.shown(annotations.get_view(session, annotation.id or 0))
    )


def _update(
    session: SessionDep, annotation: Annotation, body: AnnotationUpdate, user: User
) -> annotations.AnnotationView:
    recording = session.get(Recording, annotation.recording_id)
    assert recording is not None
    changes = {name: getattr(body, name) for name in body.model_fields_set - {"version"}}
    limits = access.write_limits(session, user, recording.study_id)
    update = annotations.update_annotation
    return update(session, annotation, recording, body.version, changes, user.id, limits)


@router.patch("/annotations/{annotation_id}")
async def update_annotation(
    request: Request,
    body: AnnotationUpdate,
    annotation: EditableAnnotationDep,
    user: CurrentUser,
    session: SessionDep,
) -> AnnotationPublic:
    """Change what is given; `version` must be the one read, else 409 with the current one.
    The transcript's cues are not edited here (import the transcript again)."""
    if annotation.origin == "transcript":
        raise Invalid(_CUE_MESSAGE)
    stops.check_annotation_change(session, annotation, user, deleting=False)
    view = await write(request, session, _update, session, annotation, body, user)
    return AnnotationPublic.model_validate(view)


@router.delete("/annotations/{annotation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_annotation(
    request: Request,
    annotation: EditableAnnotationDep,
    user: CurrentUser,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> None:
    """Delete; with `?version=`, only if nobody changed it since (else 409). A live session's
    stop: researchers only, and not while it holds comments."""
    if annotation.origin == "transcript":
        raise Invalid(_CUE_MESSAGE)
    if stops.check_annotation_change(session, annotation, user, deleting=True):
        await write(request, session, stops.delete_stop, session, annotation, user, version)
        return
    await write(request, session, annotations.delete_annotation, session, annotation, version)


def _import(session: Session, recording: Recording, user: User, content: bytes, name: str) -> int:
    cues = transcripts.parse_transcript(content, name)
    return transcripts.replace_transcript(session, recording, cues, user.id)


async def import_transcript_file(
    request: Request, session: Session, recording: Recording, user: User, file: UploadFile
) -> int:
    """Read an uploaded transcript (small: the 1 MiB body limit) and store it instead of the
    previous one; the number of cues (API and page)."""
    content = await file.read()
    return await write(
        request, session, _import, session, recording, user, content, file.filename or ""
    )


@router.post("/recordings/{recording_id}/transcript")
async def import_transcript(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="A WebVTT (.vtt) or SRT (.srt) file.")],
) -> TranscriptImported:
    """Replace the recording's transcript (annotations of origin `transcript`, one per cue,
    `<v Speaker>` voices kept as the speaker)."""
    count = await import_transcript_file(request, session, recording, user, file)
    return TranscriptImported(cues=count)


def _transcript_export(session: Session, recording: Recording) -> str:
    consent.require(session, recording)  # content of the recording: its consents apply
    return transcripts.transcript_vtt(session, recording.id or 0)


@router.get("/recordings/{recording_id}/transcript.vtt", response_class=PlainTextResponse)
async def export_transcript(
    request: Request, recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The transcript as WebVTT, with its voices; 403 while the consent its study requires is
    missing. Each export is in the audit log."""
    text = await anyio.to_thread.run_sync(_transcript_export, session, recording)
    await write(
        request,
        session,
        audit_log.record,
        session,
        actor(request, user),
        audit_log.EXPORT,
        study_id=recording.study_id,
        recording_id=recording.id,
        object_type="recording",
        object_id=recording.id,
        what="transcript",
        format="vtt",
    )
    filename = quote(f"{recording.code} - transcription.vtt")
    return Response(
        text,
        media_type="text/vtt; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )
