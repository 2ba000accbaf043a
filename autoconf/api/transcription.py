"""Automatic transcription (issue 21): queue, follow and cancel a recording's transcription;
read, correct, split, merge, rename the speakers of, validate or discard its draft. The
draft is the study's researchers' work in progress: the recording's managers only (its
counsellor sees the transcript once validated). Who may: `studies.access`, through
`ManagedRecordingDep`."""

from fastapi import Depends, Request, Response, status
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    SessionDep,
    SettingsDep,
    write,
)
from autoconf.api.refusals import documented
from autoconf.api.rendering import language_of
from autoconf.api.routing import IndexedRouter
from autoconf.i18n import set_language
from autoconf.models import Recording
from autoconf.payloads import (
    DraftCueMerge,
    DraftCuePublic,
    DraftCueSplit,
    DraftCueUpdate,
    DraftPublic,
    DraftSpeakers,
    DraftValidated,
    TranscriptionJobPublic,
    TranscriptionPublic,
)
from autoconf.settings import Settings
from autoconf.transcribe import drafts, jobs, model


async def _in_their_language(request: Request, user: CurrentUser) -> None:
    """The job's step and the refusals in the user's language (set here, in the request's
    context, which the route and its worker threads inherit)."""
    set_language(language_of(request, user))


router = IndexedRouter(
    prefix="/api/v1", tags=["transcription"], dependencies=[Depends(_in_their_language)]
)


def state(session: Session, settings: Settings, recording: Recording) -> TranscriptionPublic:
    """Whether the server can transcribe, the recording's job and draft."""
    why = model.unavailable(settings) or ""
    job = jobs.job_of(session, recording.id)
    cues = drafts.draft_of(session, recording.id)
    shown = None
    if job is not None:
        shown = TranscriptionJobPublic.model_validate(job).model_copy(
            update={"stage": jobs.label(job), "progress": round(job.progress, 1)}
        )
    return TranscriptionPublic(
        available=not why,
        why_not=why,
        job=shown,
        draft_cues=len(cues),
        speakers=drafts.speakers(cues),
    )


def wake(request: Request) -> None:
    runner = getattr(request.app.state, "transcription_runner", None)
    if runner is not None:
        runner.wake()


@router.get("/recordings/{recording_id}/transcription")
def transcription_state(
    recording: ManagedRecordingDep, session: SessionDep, settings: SettingsDep
) -> TranscriptionPublic:
    """Whether this server can transcribe (and if not, why), the job's progress, the
    draft's size and speakers."""
    return state(session, settings, recording)


async def queue_transcription(
    request: Request, session: Session, settings: Settings, recording: Recording, user_id: int
) -> None:
    """Queue the transcription (API and page), waking this process's transcriber."""
    await write(request, session, jobs.enqueue, session, recording, user_id, settings)
    wake(request)


@router.post(
    "/recordings/{recording_id}/transcription",
    status_code=status.HTTP_202_ACCEPTED,
    responses=documented(503),
)
async def start_transcription(
    request: Request,
    recording: ManagedRecordingDep,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> TranscriptionPublic:
    """Transcribe the recording automatically into a draft (replacing the current draft
    once done). 503 when this server cannot transcribe (the answer says why), 409 while
    one runs or before the recording is processed."""
    await queue_transcription(request, session, settings, recording, user.id or 0)
    return state(session, settings, recording)


@router.post("/recordings/{recording_id}/transcription/cancel")
async def cancel_transcription(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, settings: SettingsDep
) -> TranscriptionPublic:
    """Stop the transcription; the draft stays as it was."""
    await write(request, session, jobs.cancel, session, recording.id)
    return state(session, settings, recording)


@router.get("/recordings/{recording_id}/draft")
def read_draft(recording: ManagedRecordingDep, session: SessionDep) -> DraftPublic:
    """The draft's cues, in time order, with the model's word times."""
    cues = drafts.draft_of(session, recording.id)
    return DraftPublic(
        cues=[DraftCuePublic.model_validate(cue) for cue in cues], speakers=drafts.speakers(cues)
    )


@router.patch("/recordings/{recording_id}/draft")
async def correct_cue(
    request: Request, recording: ManagedRecordingDep, changes: DraftCueUpdate, session: SessionDep
) -> DraftCuePublic:
    """Correct one cue's text, speaker or times (409 with the stored cue if it changed
    since `version`)."""
    given = changes.model_dump(exclude_unset=True, exclude={"cue_id", "version"})
    cue = await write(
        request, session, drafts.edit, session, recording, changes.cue_id, changes.version, **given
    )
    return DraftCuePublic.model_validate(cue)


@router.post("/recordings/{recording_id}/draft/split", status_code=201)
async def split_cue(
    request: Request, recording: ManagedRecordingDep, cut: DraftCueSplit, session: SessionDep
) -> DraftPublic:
    """Cut a cue in two at a character of its text (the second part starts at its first
    word's time); the whole draft after the cut."""
    await write(request, session, drafts.split, session, recording, cut.cue_id, cut.version, cut.at)
    return read_draft(recording, session)


@router.post("/recordings/{recording_id}/draft/merge")
async def merge_cue(
    request: Request, recording: ManagedRecordingDep, merge: DraftCueMerge, session: SessionDep
) -> DraftPublic:
    """Join a cue and the next one; the whole draft after."""
    await write(request, session, drafts.merge, session, recording, merge.cue_id, merge.version)
    return read_draft(recording, session)


@router.post("/recordings/{recording_id}/draft/speakers")
async def rename_speakers(
    request: Request, recording: ManagedRecordingDep, names: DraftSpeakers, session: SessionDep
) -> DraftPublic:
    """Rename the draft's speakers in one action (`{"A": "B", "B": "A"}` swaps them)."""
    await write(request, session, drafts.rename_speakers, session, recording, names.names)
    return read_draft(recording, session)


@router.post("/recordings/{recording_id}/draft/validate")
async def validate_draft(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, user: CurrentUser
) -> DraftValidated:
    """The draft becomes the recording's transcript (replacing the current one): its cues
    then behave as imported ones (click to seek, coded, quoted in reports)."""
    count = await write(request, session, drafts.validate, session, recording, user.id)
    return DraftValidated(cues=count)


@router.delete("/recordings/{recording_id}/draft", status_code=status.HTTP_204_NO_CONTENT)
async def discard_draft(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    """Throw the draft away (the transcript, if any, stays)."""
    await write(request, session, drafts.discard, session, recording)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
