"""Annotations (moments and segments) of a recording."""

from fastapi import APIRouter, Request, status

from autoconf.api.deps import (
    AnnotationDep,
    CurrentUser,
    EditableAnnotationDep,
    RecordingDep,
    SessionDep,
    write,
)
from autoconf.models import Annotation, Recording
from autoconf.payloads import AnnotationCreate, AnnotationPublic, AnnotationUpdate
from autoconf.schemes import annotations

router = APIRouter(prefix="/api/v1", tags=["annotations"])


@router.get("/recordings/{recording_id}/annotations")
def list_annotations(recording: RecordingDep, session: SessionDep) -> list[AnnotationPublic]:
    """Every annotation of the recording, in time order."""
    views = annotations.list_annotations(session, recording.id or 0)
    return [AnnotationPublic.model_validate(view) for view in views]


@router.post("/recordings/{recording_id}/annotations", status_code=status.HTTP_201_CREATED)
async def create_annotation(
    request: Request,
    body: AnnotationCreate,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
) -> AnnotationPublic:
    """A moment (no `end_ms`) or a segment, with codes of this study, note and fields."""
    view = await write(
        request,
        session,
        annotations.create_annotation,
        session,
        recording,
        user.id,
        **body.model_dump(),
    )
    return AnnotationPublic.model_validate(view)


@router.get("/annotations/{annotation_id}")
def get_annotation(annotation: AnnotationDep, session: SessionDep) -> AnnotationPublic:
    return AnnotationPublic.model_validate(annotations.get_view(session, annotation.id or 0))


def _update(
    session: SessionDep, annotation: Annotation, body: AnnotationUpdate
) -> annotations.AnnotationView:
    recording = session.get(Recording, annotation.recording_id)
    assert recording is not None
    changes = {name: getattr(body, name) for name in body.model_fields_set - {"version"}}
    return annotations.update_annotation(session, annotation, recording, body.version, changes)


@router.patch("/annotations/{annotation_id}")
async def update_annotation(
    request: Request,
    body: AnnotationUpdate,
    annotation: EditableAnnotationDep,
    session: SessionDep,
) -> AnnotationPublic:
    """Change what is given; `version` must be the one read, else 409 with the current one."""
    view = await write(request, session, _update, session, annotation, body)
    return AnnotationPublic.model_validate(view)


@router.delete("/annotations/{annotation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_annotation(
    request: Request,
    annotation: EditableAnnotationDep,
    session: SessionDep,
    version: int | None = None,
) -> None:
    """Delete; with `?version=`, only if nobody changed it since (else 409)."""
    await write(request, session, annotations.delete_annotation, session, annotation, version)
