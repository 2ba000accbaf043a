"""Annotations (moments and segments) of a recording, and its transcript.

An undo of a delete is a create that carries the links the delete answered with (asked
with `Prefer: return=representation`): the annotation comes back with them, under a new id.
"""

from dataclasses import asdict
from typing import Annotated, Literal
from urllib.parse import quote

import anyio.to_thread
from fastapi import File, Header, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlmodel import Session

from autoconf.api import downloads
from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    PathId,
    RecordingDep,
    SessionDep,
    actor,
    commit_as_writer,
    in_one_step,
    write,
)
from autoconf.api.rendering import language_of
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.consent import records as consent
from autoconf.errors import Invalid
from autoconf.i18n import gettext, set_language
from autoconf.interop import eaf_export
from autoconf.live import sessions, stops
from autoconf.models import Annotation, LiveSession, Recording, User
from autoconf.payloads import (
    MAX_ID,
    AnnotationCreate,
    AnnotationPublic,
    AnnotationUpdate,
    Id,
    TranscriptImported,
)
from autoconf.schemes import annotations, tracks, transcripts
from autoconf.studies import access, visibility

router = IndexedRouter(prefix="/api/v1", tags=["annotations"])
_CUE_MESSAGE = (
    "Une réplique de la transcription ne se modifie pas ici : corrigez le fichier "
    "et importez-le de nouveau."
)


class StopLinkBody(BaseModel):
    """A live session's stop: the session, who stopped, when (wall clock), the prepared
    moment it answers."""

    model_config = ConfigDict(extra="forbid")
    session_id: Id
    role: Literal["researcher", "counsellor"]
    stopped_at: AwareDatetime
    resumed_at: AwareDatetime | None = None
    prepared_id: Id | None = None


class AgendaLinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: Id
    status: Literal["planned", "brought_up", "discussed", "skipped"]


class AnnotationLinksBody(BaseModel):
    """What a delete takes with an annotation besides itself (see `AnnotationDeleted`)."""

    model_config = ConfigDict(extra="forbid")
    stop: StopLinkBody | None = Field(default=None, description="It was a live session's stop.")
    answered_by: list[Id] = Field(
        default_factory=list, max_length=1000, description="The stops that answered it."
    )
    agenda: list[AgendaLinkBody] = Field(
        default_factory=list,
        max_length=1000,
        description="Its statuses in live sessions' agendas (researchers only).",
    )


class AnnotationCreateWithLinks(AnnotationCreate):
    links: AnnotationLinksBody | None = Field(
        default=None,
        description="An undo of a delete: the links the delete answered with; those that "
        "still hold are given back (a stop, the stops that answered a prepared moment, its "
        "agenda statuses).",
    )


class AnnotationDeleted(BaseModel):
    """A delete's answer with `Prefer: return=representation`: what a create needs to give
    the annotation back as it was."""

    annotation: AnnotationPublic
    links: AnnotationLinksBody


def _links(body: AnnotationLinksBody) -> annotations.AnnotationLinks:
    stop = body.stop
    return annotations.AnnotationLinks(
        stop=annotations.StopLink(
            stop.session_id, stop.role, stop.stopped_at, stop.resumed_at, stop.prepared_id
        )
        if stop is not None
        else None,
        answered_by=tuple(body.answered_by),
        agenda=tuple(annotations.AgendaLink(a.session_id, a.status) for a in body.agenda),
    )


@router.get("/recordings/{recording_id}/annotations")
def list_annotations(
    recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> list[AnnotationPublic]:
    """The recording's annotations you may see (shared ones and your private marks; a
    counsellor: stops, transcript, their own marks and what is shown to them), in time
    order."""
    return [AnnotationPublic.model_validate(view) for view in _visible(session, user, recording)]


def _visible(
    session: Session, user: User, recording: Recording
) -> list[annotations.AnnotationView]:
    """The annotations `user` may see, as they may see them (the list, the ELAN file, the
    tracks): the one rule of `studies.visibility`."""
    return visibility.recording_annotations(session, user, recording)


def _restore(
    session: Session,
    recording: Recording,
    user: User,
    body: AnnotationCreateWithLinks,
    limits: annotations.WriteLimits | None,
) -> annotations.AnnotationView:
    """Create, then give the links back; each stop changed is told to the live screens."""
    assert body.links is not None
    fields = body.model_dump(exclude={"links"})
    view = annotations.create_annotation(session, recording, user.id, **fields, limits=limits)
    scope = access.annotation_scope(session, user, recording.study_id)
    researcher = access.sees_everything(session, user, recording.study_id)
    links = _links(body.links)
    for session_id, stop_id in annotations.restore_links(
        session, recording, view, links, scope.clause(), researcher
    ):
        live = session.get(LiveSession, session_id)
        assert live is not None
        payload = {"stop": stops.stop_view(session, stop_id).public()}
        sessions.append(session, session_id, live.seq, "stop_edit", payload, user.id)
    return view


@router.post("/recordings/{recording_id}/annotations", status_code=status.HTTP_201_CREATED)
async def create_annotation(
    request: Request, recording_id: PathId, body: AnnotationCreateWithLinks
) -> AnnotationPublic:
    """A moment (no `end_ms`) or a segment, with codes of this study, note and fields. A
    counsellor writes only their own marks and stops (403 on the researchers' layers). With
    `links` (an undo of a delete), the links that still hold come back too."""

    def step(session: Session, user: User) -> AnnotationPublic:
        recording = access.require_recording(session, user, recording_id)
        limits = access.write_limits(session, user, recording.study_id)
        if body.links is not None:
            view = commit_as_writer(
                request, session, _restore, session, recording, user, body, limits
            )
        else:
            fields = body.model_dump(exclude={"links"})
            plan = annotations.plan_annotation(session, recording, user.id, **fields, limits=limits)
            insert = annotations.insert_annotation
            view = commit_as_writer(request, session, insert, session, recording, plan)
        return AnnotationPublic.model_validate(view)

    return await in_one_step(request, step)


@router.get("/annotations/{annotation_id}")
async def get_annotation(request: Request, annotation_id: PathId) -> AnnotationPublic:
    def step(session: Session, user: User) -> AnnotationPublic:
        found = access.require_annotation_and_recording(session, user, annotation_id)
        annotation, recording = found
        if annotation.layer == "transcript":
            consent.require(session, recording)
        scope = access.annotation_scope(session, user, recording.study_id)
        return AnnotationPublic.model_validate(
            scope.shown(annotations.view_of(session, annotation))
        )

    return await in_one_step(request, step)


def _update(
    session: Session, annotation: Annotation, body: AnnotationUpdate, user: User
) -> annotations.AnnotationView:
    recording = session.get(Recording, annotation.recording_id)
    assert recording is not None
    changes = {name: getattr(body, name) for name in body.model_fields_set - {"version"}}
    limits = access.write_limits(session, user, recording.study_id)
    update = annotations.update_annotation
    return update(session, annotation, recording, body.version, changes, user.id, limits)


@router.patch("/annotations/{annotation_id}")
async def update_annotation(
    request: Request, annotation_id: PathId, body: AnnotationUpdate
) -> AnnotationPublic:
    """Change what is given; `version` must be the one read, else 409 with the current one.
    The transcript's cues are not edited here (import the transcript again)."""

    def step(session: Session, user: User) -> AnnotationPublic:
        annotation = access.require_annotation(session, user, annotation_id, edit=True)
        if annotation.origin == "transcript":
            raise Invalid(_CUE_MESSAGE)
        stops.check_annotation_change(session, annotation, user, deleting=False)
        view = commit_as_writer(request, session, _update, session, annotation, body, user)
        return AnnotationPublic.model_validate(view)

    return await in_one_step(request, step)


def _delete(
    session: Session,
    annotation: Annotation,
    user: User,
    version: int | None,
    stop: bool,
    representation: bool,
) -> AnnotationDeleted | None:
    """Delete (a stop: with its event); with `representation`, what it was and its links,
    read just before, in the same transaction."""
    deleted = None
    if representation:
        assert annotation.id is not None
        recording = session.get(Recording, annotation.recording_id)
        assert recording is not None
        study_id = recording.study_id
        scope = access.annotation_scope(session, user, study_id)
        researcher = access.sees_everything(session, user, study_id)
        view = scope.shown(annotations.get_view(session, annotation.id))
        links = annotations.links_of(session, annotation.id, scope.clause(), agenda=researcher)
        deleted = AnnotationDeleted(
            annotation=AnnotationPublic.model_validate(view),
            links=AnnotationLinksBody.model_validate(asdict(links)),
        )
    if stop:
        stops.delete_stop(session, annotation, user, version)
    else:
        annotations.delete_annotation(session, annotation, version)
    return deleted


@router.delete(
    "/annotations/{annotation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        200: {
            "model": AnnotationDeleted,
            "description": "With `Prefer: return=representation`: the annotation as it was "
            "and its links, for an undo.",
        }
    },
)
async def delete_annotation(
    request: Request,
    annotation_id: PathId,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    prefer: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Delete; with `?version=`, only if nobody changed it since (else 409). A live session's
    stop: researchers only, and not while it holds comments. With `Prefer:
    return=representation`, 200 and what an undo needs (give it back as the create's
    `links`)."""
    wanted = "return=representation" in (prefer or "").replace(" ", "").lower()

    def step(session: Session, user: User) -> AnnotationDeleted | None:
        annotation = access.require_annotation(session, user, annotation_id, edit=True)
        if annotation.origin == "transcript":
            raise Invalid(_CUE_MESSAGE)
        stop = stops.check_annotation_change(session, annotation, user, deleting=True)
        return commit_as_writer(
            request, session, _delete, session, annotation, user, version, stop, wanted
        )

    deleted = await in_one_step(request, step)
    if deleted is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return JSONResponse(
        deleted.model_dump(mode="json"), headers={"Preference-Applied": "return=representation"}
    )


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


@router.get(
    "/recordings/{recording_id}/transcript.vtt",
    response_class=Response,
    responses={200: {"description": "The WebVTT file.", "content": {"text/vtt": {}}}},
)
async def export_transcript(
    request: Request, recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The transcript as WebVTT, with its voices; 403 while the consent its study requires is
    missing. Each export is in the audit log."""
    text = await anyio.to_thread.run_sync(_transcript_export, session, recording)
    return await _recording_file(
        request, session, user, recording, text, "text/vtt", "transcription.vtt", "transcript"
    )


async def _recording_file(
    request: Request,
    session: Session,
    user: User,
    recording: Recording,
    content: str | bytes,
    media_type: str,
    name: str,
    what: str,
) -> Response:
    """A file made of a recording's content, to download (`<code> - <name>`), and its entry
    in the audit log."""
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
        what=what,
        format=name.rsplit(".", 1)[-1],
    )
    return Response(
        content,
        media_type=f"{media_type}; charset=utf-8",
        headers=downloads.attachment(f"{recording.code} - {name}"),
    )


def _eaf(session: Session, recording: Recording, user: User) -> bytes:
    # What was said at the stops is what the session report shows: the same consents apply.
    reader = user if consent.content_allowed(session, recording) else None
    return eaf_export.recording_eaf(session, recording, _visible(session, user, recording), reader)


@router.get(
    "/recordings/{recording_id}/export.eaf",
    response_class=Response,
    responses={200: {"description": "The ELAN file (EAF 3.0).", "content": {"text/xml": {}}}},
)
async def export_eaf(
    request: Request, recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The recording's annotations you may see as an ELAN file (EAF 3.0): a tier per layer
    and author (the transcript: per speaker), codebooks as controlled vocabularies (French and
    English), notes and structured fields as reference annotations, and under each stop of a
    live session the comments you may see (with the consents the study asks). Each export is
    in the audit log."""
    content = await anyio.to_thread.run_sync(_eaf, session, recording, user)
    return await _recording_file(
        request, session, user, recording, content, "text/xml", "annotations.eaf", "annotations"
    )


def _chapters(session: Session, recording: Recording, user: User, untitled: str) -> str:
    found = tracks.chapters(_visible(session, user, recording), recording.duration_ms, untitled)
    return tracks.chapters_vtt(found)


@router.get(
    "/recordings/{recording_id}/chapters.vtt",
    response_class=Response,
    responses={200: {"description": "A WebVTT `chapters` track.", "content": {"text/vtt": {}}}},
)
async def export_chapters(
    request: Request, recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The prepared moments you may see as a WebVTT `chapters` track (the player's): a
    chapter from each moment to the next, the last to the recording's end (a minute when its
    duration is unknown), titled by its note ("Moment préparé 3" without one). The first
    export per login session is in the audit log."""
    set_language(language_of(request, user))
    untitled = gettext(tracks.UNTITLED)
    text = await anyio.to_thread.run_sync(_chapters, session, recording, user, untitled)
    return await _track(request, session, user, recording, text, "chapitres.vtt", "chapters")


def _segments(session: Session, recording: Recording, user: User) -> str:
    found = tracks.segments(session, recording.study_id, _visible(session, user, recording))
    return tracks.segments_vtt(found)


@router.get(
    "/recordings/{recording_id}/segments.vtt",
    response_class=Response,
    responses={200: {"description": "A WebVTT `metadata` track.", "content": {"text/vtt": {}}}},
)
async def export_segments(
    request: Request, recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The coding segments you may see (layers `schemes` and `consensus`) as a WebVTT
    `metadata` track (the player's): each cue's text a JSON object `{"id", "layer", "codes"
    (paths), "author" (username), "note"}` on one line. The first export per login session
    is in the audit log."""
    text = await anyio.to_thread.run_sync(_segments, session, recording, user)
    return await _track(request, session, user, recording, text, "segments.vtt", "segments")


def _log_track(session: Session, recording: Recording, who: audit_log.Actor, what: str) -> None:
    # Checked again under the write lock: a page asks for its tracks all at once.
    if not audit_log.exported_before(session, recording.id or 0, who.credential, what):
        audit_log.record(
            session,
            who,
            audit_log.EXPORT,
            study_id=recording.study_id,
            recording_id=recording.id,
            object_type="recording",
            object_id=recording.id,
            what=what,
            format="vtt",
        )


async def _track(
    request: Request,
    session: Session,
    user: User,
    recording: Recording,
    text: str,
    name: str,
    what: str,
) -> Response:
    """A track of the player, shown inline and never cached, logged once per login session
    and recording (the player asks for it on every page, and again after a save)."""
    who = actor(request, user)
    logged = audit_log.exported_before
    if not await anyio.to_thread.run_sync(logged, session, recording.id or 0, who.credential, what):
        await write(request, session, _log_track, session, recording, who, what)
    filename = quote(f"{recording.code} - {name}")
    return Response(
        text,
        media_type="text/vtt; charset=utf-8",
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{filename}",
            "Cache-Control": "no-store",
        },
    )
