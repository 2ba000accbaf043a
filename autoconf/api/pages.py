"""Server-rendered pages (French first): login, studies, a study, a recording."""

from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from autoconf.api import covalidation, transcription
from autoconf.api.annotations import import_transcript_file
from autoconf.api.auth import end_session, log_in, open_session
from autoconf.api.consent_pages import consent_context
from autoconf.api.deps import (
    SESSION_COOKIE,
    CurrentUser,
    ManagedRecordingDep,
    ManagedStudyDep,
    MaybeUser,
    RecordingDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    write,
)
from autoconf.api.recordings import erase, public, reprocess, stop_processing, store_upload
from autoconf.api.rendering import language_of, render
from autoconf.api.routing import IndexedRouter
from autoconf.api.transcription import queue_transcription
from autoconf.archive.importing import MEDIA_MISSING_PREFIX
from autoconf.consent import records as consent
from autoconf.errors import Forbidden, Invalid, NotAuthenticated, TooManyAttempts
from autoconf.i18n import gettext as _
from autoconf.i18n import set_language
from autoconf.live import sessions
from autoconf.media import jobs
from autoconf.models import Counsellor, Recording, Study, User
from autoconf.payloads import MAX_ID, AnnotationPublic, ShortCode, UserPublic
from autoconf.schemes import annotations, codebooks, rounds
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.studies import access, recordings, service
from autoconf.transcribe import drafts
from autoconf.transcribe import jobs as transcription_jobs

router = IndexedRouter(include_in_schema=False)

# What the recording page's player (web/templates/_player.html) reads of the API's view.
PLAYER_FIELDS = {"status", "progress", "stage", "kind", "media_url", "poster_url"}
PLAYER_FIELDS |= {"waveform_url", "thumbnails_url", "consent"}


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target:
        return "/studies"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/studies"
    return target


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/studies", status_code=303)


def player_media(session: Session, recording: Recording) -> dict[str, Any]:
    """What `_player.html` shows of a recording: its processing or its media."""
    job = jobs.job_of(session, recording)
    view = public(recording, job, consent.standing(session, recording))
    base = f"/api/v1/recordings/{recording.id}"
    return {
        **view.model_dump(include=PLAYER_FIELDS),
        "api_url": base,
        "retry_url": f"{base}/retry",
        "cancel_url": f"{base}/cancel",
        # The player's tracks (live.js changes them with the recording it plays).
        "chapters_url": f"{base}/chapters.vtt",
        "segments_url": f"{base}/segments.vtt",
        # A recording imported from an archive without its file: nothing to process again.
        "without_file": (recording.error or "").startswith(MEDIA_MISSING_PREFIX),
    }


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: MaybeUser, next: str = "") -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        signed_in, clear = await log_in(request, settings, username, password)
    except (NotAuthenticated, TooManyAttempts) as error:
        page = render(
            request,
            "login.html",
            429 if isinstance(error, TooManyAttempts) else 401,
            next=_safe_next(next),
            error=str(error),
            username=username,
        )
        if isinstance(error, TooManyAttempts):
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    # A one-time password is replaced first: the account page asks for a new one.
    target = "/account?first=1" if signed_in.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    open_session(request, response, settings, clear)
    return response


@router.post("/logout")
async def logout_form(request: Request, session: SessionDep) -> Response:
    await end_session(request, session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/studies", response_class=HTMLResponse)
def studies_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    return render(
        request,
        "studies.html",
        studies=service.list_studies(session, user),
        can_create=user.role != access.COUNSELLOR,
    )


@router.post("/studies")
async def create_study_form(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    if user.role == access.COUNSELLOR:
        raise Forbidden("Les conseillers ne peuvent pas créer d'étude.")
    if not name.strip():
        raise Invalid("Donnez un nom à l'étude.")
    create = service.create_study
    study = await write(request, session, create, session, user, name.strip(), description.strip())
    return RedirectResponse(f"/studies/{study.id}", status_code=303)


@router.post("/studies/{study_id}/recordings")
async def upload_recording_form(
    request: Request,
    study: ManagedStudyDep,
    file: Annotated[UploadFile, File()],
    code: Annotated[ShortCode, Form()],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    counsellor_id: Annotated[str, Form()] = "",
    interview: Annotated[str, Form(max_length=16)] = "",
    interview_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The study page's upload form; same service as the API. `interview`: "" (none yet),
    "new" (a new interview coded `interview_code`) or an interview's id."""
    chosen = int(counsellor_id) if counsellor_id.isdigit() else None
    if chosen is not None and chosen > MAX_ID:
        raise Invalid("Conseiller inconnu.")
    joined = int(interview) if interview.isdigit() and int(interview) <= MAX_ID else None
    if interview not in ("", "new") and joined is None:
        raise Invalid("Entretien inconnu.")
    new_code = interview_code.strip() if interview == "new" else ""
    if interview == "new" and not new_code:
        raise Invalid("Donnez un code au nouvel entretien.")
    await store_upload(
        request, session, settings, study.id or 0, code, chosen, file, user, joined, new_code
    )
    return RedirectResponse(f"/studies/{study.id}", status_code=303)


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(
    request: Request, study: StudyDep, user: CurrentUser, session: SessionDep
) -> Response:
    study_id = study.id or 0
    manages = access.sees_everything(session, user, study_id)
    recording_list = recordings.list_recordings(session, user, study_id)
    counsellors = {c.id: c for c in service.list_counsellors(session, user, study_id)}
    structures = {s.id: s for s in service.list_structures(session, study_id)}
    return render(
        request,
        "study.html",
        study=study,
        role=access.study_role(session, user, study_id),
        recordings=recording_list,
        recording_codes={r.id: r.code for r in recording_list},
        counts=annotations.count_by_recording(
            session,
            [r.id or 0 for r in recording_list],
            access.annotation_scope(session, user, study_id).clause(),
        ),
        counsellors=counsellors,
        structures=structures,
        interviews=service.list_interviews(session, user, study_id),
        codebooks=codebooks.list_codebooks(session, study_id),
        members=service.list_members(session, user, study_id),
        rounds=rounds.list_rounds(session, study_id) if manages else [],
    )


@router.post("/recordings/{recording_id}/retry")
async def retry_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    """The recording page's "Relancer le traitement" without JavaScript."""
    await reprocess(request, session, recording)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


@router.post("/recordings/{recording_id}/cancel")
async def cancel_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    """The recording page's "Arrêter le traitement" without JavaScript."""
    await stop_processing(request, session, recording)
    return RedirectResponse(f"/recordings/{recording.id}", status_code=303)


@router.post("/recordings/{recording_id}/transcription")
async def transcription_form(
    request: Request,
    recording: ManagedRecordingDep,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> Response:
    """The recording page's "Transcrire automatiquement" without JavaScript."""
    await queue_transcription(request, session, settings, recording, user.id or 0)
    return RedirectResponse(f"/recordings/{recording.id}#transcription", status_code=303)


@router.post("/recordings/{recording_id}/transcription/cancel")
async def transcription_cancel_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    """The recording page's "Arrêter la transcription" without JavaScript."""
    await write(request, session, transcription_jobs.cancel, session, recording.id)
    return RedirectResponse(f"/recordings/{recording.id}#transcription", status_code=303)


@router.post("/recordings/{recording_id}/draft/validate")
async def draft_validate_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, user: CurrentUser
) -> Response:
    """The recording page's "Valider le brouillon": it becomes the transcript."""
    await write(request, session, drafts.validate, session, recording, user.id)
    return RedirectResponse(f"/recordings/{recording.id}#transcription", status_code=303)


@router.post("/recordings/{recording_id}/draft/discard")
async def draft_discard_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep
) -> Response:
    """The recording page's "Jeter le brouillon"."""
    await write(request, session, drafts.discard, session, recording)
    return RedirectResponse(f"/recordings/{recording.id}#transcription", status_code=303)


@router.post("/recordings/{recording_id}/delete")
async def delete_form(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """The recording page's "Supprimer l'enregistrement": row, annotations and files."""
    study_id = recording.study_id
    await erase(request, session, settings, recording)
    return RedirectResponse(f"/studies/{study_id}", status_code=303)


@router.post("/recordings/{recording_id}/transcript")
async def transcript_form(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The recording page's "Importer une transcription"."""
    await import_transcript_file(request, session, recording, user, file)
    return RedirectResponse(f"/recordings/{recording.id}#transcription", status_code=303)


@router.post("/recordings/{recording_id}/counsellor")
async def counsellor_form(
    request: Request,
    recording: ManagedRecordingDep,
    session: SessionDep,
    counsellor_id: Annotated[str, Form()] = "",
) -> Response:
    """The recording page's "Conseiller" choice (a recording in no interview yet): the
    counsellor whose session it is, so that a live session can start on it."""
    chosen: int | None = None
    if counsellor_id.strip():
        if not counsellor_id.strip().isdigit() or not 1 <= int(counsellor_id) <= MAX_ID:
            raise Invalid(_("Conseiller inconnu dans cette étude."))
        chosen = int(counsellor_id)
    changes = {"counsellor_id": chosen}
    await write(request, session, recordings.update_recording, session, recording.id or 0, changes)
    request.app.state.media_grants.forget(recording.id or 0)  # its counsellor sees it now
    return RedirectResponse(f"/recordings/{recording.id}#conseiller", status_code=303)


@router.get("/recordings/{recording_id}", response_class=HTMLResponse)
def recording_page(
    request: Request, recording: RecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    study = session.get(Study, recording.study_id)  # RecordingDep checked the access
    media = player_media(session, recording)
    counsellor = session.get(Counsellor, recording.counsellor_id or 0)
    user = request.state.auth_user
    scope = access.annotation_scope(session, user, recording.study_id)
    books = codebooks.list_codebooks(session, recording.study_id)
    if scope.codebook_kinds is not None:  # a counsellor: the principles (and shown coding)
        books = [(book, nodes) for book, nodes in books if book.kind in scope.codebook_kinds]
    codes = {node.id: node for _, nodes in books for node in nodes}
    views = [
        scope.shown(v)
        for v in annotations.list_annotations(session, recording.id or 0, scope.clause())
    ]
    if not consent.content_allowed(session, recording):  # the transcript is its content
        views = [v for v in views if v.layer != "transcript"]
    writable = scope.annotator_layers
    manages = access.sees_everything(session, user, recording.study_id)
    set_language(language_of(request, user))  # the transcription card's messages

    def keyed(kind: str) -> bool:
        """A code's key starts a segment on its codebook's layer: only where one may write."""
        return not scope.counsellor or kind in access.COUNSELLOR_CODEBOOKS

    return render(
        request,
        "recording.html",
        study=study,
        recording=recording,
        media=media,
        can_manage=manages,
        transcription=transcription.state(session, settings, recording) if manages else None,
        counsellor=counsellor,
        study_counsellors=service.list_counsellors(session, user, recording.study_id)
        if manages
        else [],
        in_interview=service.interview_holding(session, recording.id or 0) if manages else None,
        annotations=views,
        codes=codes,
        field_labels=STRUCTURED_FIELDS,
        me=UserPublic.model_validate(user),
        annotations_json=[
            AnnotationPublic.model_validate(v).model_dump(mode="json") for v in views
        ],
        codebooks_json=[
            {
                **book.model_dump(mode="json"),
                "codes": [
                    {**asdict(node), "hotkey": node.hotkey if keyed(book.kind) else None}
                    for node in nodes
                ],
            }
            for book, nodes in books
        ],
        members=_member_names(session, user, recording.study_id),
        speakers=sorted({v.speaker for v in views if v.speaker}),
        hotkey_codes=[
            node
            for book, nodes in books
            for node in nodes
            if node.hotkey and not node.archived and keyed(book.kind)
        ],
        visible_layers=scope.layers,
        writable_layers=writable,
        ongoing=sessions.ongoing(session, recording.id or 0),
        open_rounds=rounds.open_rounds_of(session, recording.id or 0) if manages else [],
        covalidation=covalidation.page_context(session, user, recording),
        **consent_context(session, recording),
    )


def _member_names(session: Session, user: User, study_id: int) -> dict[int, str]:
    """The names of the members `user` may see (themselves included), by user id."""
    names = {
        m.user_id: m.display_name or m.username
        for m in service.list_members(session, user, study_id)
    }
    names[user.id or 0] = user.display_name or user.username
    return names


@router.get("/recordings/{recording_id}/preparation", response_class=HTMLResponse)
def preparation_page(request: Request, recording: RecordingDep, session: SessionDep) -> Response:
    """The prepared moments you may see, as notes to print: `10’02 — il reformule…`."""
    user = request.state.auth_user
    scope = access.annotation_scope(session, user, recording.study_id)
    views = [
        scope.shown(v)
        for v in annotations.list_annotations(session, recording.id or 0, scope.clause())
    ]
    marks = [v for v in views if v.layer == "prepared"]
    books = codebooks.list_codebooks(session, recording.study_id)
    members = _member_names(session, user, recording.study_id)
    by_author: dict[int | None, list[annotations.AnnotationView]] = {}
    for mark in marks:
        by_author.setdefault(mark.author_id, []).append(mark)
    # Mine first, then the others' shared marks.
    authors = sorted(by_author, key=lambda a: (a != user.id, members.get(a or 0, "")))
    return render(
        request,
        "preparation.html",
        study=session.get(Study, recording.study_id),
        recording=recording,
        counsellor=session.get(Counsellor, recording.counsellor_id or 0),
        groups=[(a, members.get(a or 0), by_author[a]) for a in authors],
        me=user,
        codes={node.id: node for _, nodes in books for node in nodes},
    )
