"""Named dependencies: the settings, a database session, the current user, loaded objects."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Path, Request
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.requests import HTTPConnection

from autoconf.audit import log as audit_log
from autoconf.auth.accounts import API, SESSION, user_for_token
from autoconf.db import Writer
from autoconf.errors import NotAuthenticated
from autoconf.live import sessions as live_sessions
from autoconf.models import (
    Annotation,
    Code,
    Codebook,
    CodingRound,
    Consent,
    Interview,
    Recording,
    Study,
    User,
)
from autoconf.payloads import MAX_ID, UserPublic
from autoconf.settings import Settings
from autoconf.studies import access

SESSION_COOKIE = "autoconf_session"
T = TypeVar("T")
P = ParamSpec("P")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session, for reading; `write()` is the only place that commits.

    A request waits (on the event loop, holding nothing) for one of MAX_SESSIONS slots, the
    size of the connection pool: otherwise worker threads could all block waiting for
    connections held by requests that need a thread to finish. Closing the session (which
    rolls back anything left) is shielded: a client that hangs up must not keep its slot.
    """
    async with request_session(request) as session:
        yield session


@asynccontextmanager
async def request_session(request: HTTPConnection) -> AsyncIterator[Session]:
    """A session in one of the MAX_SESSIONS slots (see `get_session`), for code that needs
    one for a moment only, not for the whole request."""
    slots: anyio.Semaphore = request.app.state.session_slots
    async with slots:
        session = Session(request.app.state.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close)


SettingsDep = Annotated[Settings, Depends(get_settings)]
# "function" scope: closed when the handler ends, before the response leaves.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def write(
    request: HTTPConnection,
    session: Session,
    work: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run `work(*args, **kwargs)`, which writes through `session`, and commit it: in one
    worker thread, as SQLite's one writer (`db.Writer`), held for that step only; the
    response is built after it. Handlers that write are `async` and call this."""
    result = await anyio.to_thread.run_sync(
        lambda: commit_as_writer(request, session, work, *args, **kwargs)
    )
    if session.info.pop(live_sessions.APPENDED, False):
        request.app.state.live_hub.poke()  # a live event committed: followers here read it now
    return result


async def write_alone(
    request: HTTPConnection, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`work(*args, **kwargs)` in a worker thread as SQLite's one writer, for work that
    commits (or checkpoints) on its own connection."""
    writer: Writer = request.app.state.writer
    return await anyio.to_thread.run_sync(partial(writer.run, work, *args, **kwargs))


async def in_one_step(request: Request, step: Callable[[Session, User], T]) -> T:
    """Sign in, then `step(session, user)`: the whole of a request's database work (what the
    path names, the policy's answer, the read or the write through `commit_as_writer`) in
    one worker-thread step, with a session of its own, closed in that step.

    For the annotator's requests, sent several times a second by every coder: each step
    through the thread pool, and each dependency FastAPI solves, costs more than the
    queries (bench/README.md, "Where a request's time goes"); a request made of
    `SessionDep`, `CurrentUser` and a loaded object makes four. The steps run in their own
    lane of `db.quick_lane_threads` threads (one on SQLite).
    """
    engine = request.app.state.engine
    lane: anyio.CapacityLimiter = request.app.state.quick_lane
    slots: anyio.Semaphore = request.app.state.session_slots

    def run() -> tuple[T, bool]:
        with Session(engine, expire_on_commit=False) as session:
            result = step(session, _signed_in(request, session))
            return result, bool(session.info.pop(live_sessions.APPENDED, False))

    # The lane first: a request waiting for it holds no session slot.
    async with lane, slots:
        result, appended = await anyio.to_thread.run_sync(run)
    if appended:
        request.app.state.live_hub.poke()  # a live event committed: followers here read it now
    return result


def commit_as_writer(
    request: HTTPConnection,
    session: Session,
    work: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Inside a step of `in_one_step`: `work(*args, **kwargs)` and the commit, as SQLite's
    one writer (what `write` does from the event loop)."""
    writer: Writer = request.app.state.writer

    def step() -> T:
        return _commit(session, work, *args, **kwargs)

    return writer.run(step)


def _commit(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        result = work(*args, **kwargs)
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(live_sessions.APPENDED, None)
        raise
    return result


def actor(request: HTTPConnection, user: User | None) -> audit_log.Actor:
    """Who acts, for the audit log: the user, the client's address and a digest of the
    credential they signed in with (never the credential itself)."""
    found = credential_of(request)
    address = request.client.host if request.client else ""
    return audit_log.Actor.of(user, address, found[1] if found else None)


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


_UNKNOWN = object()


def credential_of(request: HTTPConnection) -> tuple[str, str] | None:
    """What the caller signs in with: (API, the Bearer token), else (SESSION, the cookie)."""
    token = bearer_token(request)
    if token is not None:
        return API, token
    cookie = request.cookies.get(SESSION_COOKIE)
    return (SESSION, cookie) if cookie else None


def _authenticate(request: Request, session: Session) -> User | None:
    """The user of the Bearer API token, else of the session cookie, else None; once per
    request (remembered in `request.state`)."""
    known = getattr(request.state, "auth_user", _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    found = credential_of(request)
    user = user_for_token(session, found[1], found[0]) if found else None
    if found and found[0] == API and user is None:
        raise NotAuthenticated("Jeton d'API invalide ou révoqué.")
    request.state.auth_user = user
    # A detached copy for the pages: an error page must render even after a rollback.
    request.state.user = UserPublic.model_validate(user) if user else None
    return user


def _signed_in(request: Request, session: Session) -> User:
    user = _authenticate(request, session)
    if user is None:
        raise NotAuthenticated("Connectez-vous pour accéder à cette page.")
    return user


async def optional_user(request: Request, session: SessionDep) -> User | None:
    return await anyio.to_thread.run_sync(_authenticate, request, session)


async def current_user(request: Request, session: SessionDep) -> User:
    return await anyio.to_thread.run_sync(_signed_in, request, session)


async def briefly_signed_in(request: Request) -> User:
    """Sign-in in a session of its own, closed before the handler runs: for requests that
    stream for minutes (upload PATCHes) and must not hold one of the MAX_SESSIONS slots."""
    async with request_session(request) as session:
        return await anyio.to_thread.run_sync(_signed_in, request, session)


MaybeUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(current_user)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def _load(
    request: Request, session: Session, require: Callable[..., T], object_id: int, **options: bool
) -> T:
    """Sign the user in (if not done yet) and load the object the path names, checking
    access, in one worker-thread step: each trip through the thread pool costs latency under
    load, so a request makes as few as it can."""

    def load() -> T:
        return require(session, _signed_in(request, session), object_id, **options)

    return await anyio.to_thread.run_sync(load)


async def _study(request: Request, study_id: PathId, session: SessionDep) -> Study:
    return await _load(request, session, access.require_study, study_id)


async def _managed_study(request: Request, study_id: PathId, session: SessionDep) -> Study:
    return await _load(request, session, access.require_study, study_id, manage=True)


async def _recording(request: Request, recording_id: PathId, session: SessionDep) -> Recording:
    return await _load(request, session, access.require_recording, recording_id)


async def _managed_recording(
    request: Request, recording_id: PathId, session: SessionDep
) -> Recording:
    return await _load(request, session, access.require_recording, recording_id, manage=True)


async def _interview(request: Request, interview_id: PathId, session: SessionDep) -> Interview:
    return await _load(request, session, access.require_interview, interview_id)


async def _managed_codebook(request: Request, codebook_id: PathId, session: SessionDep) -> Codebook:
    return await _load(request, session, access.require_codebook, codebook_id, manage=True)


async def _managed_code(request: Request, code_id: PathId, session: SessionDep) -> Code:
    return await _load(request, session, access.require_code, code_id, manage=True)


async def _annotation(request: Request, annotation_id: PathId, session: SessionDep) -> Annotation:
    return await _load(request, session, access.require_annotation, annotation_id)


async def _editable_annotation(
    request: Request, annotation_id: PathId, session: SessionDep
) -> Annotation:
    return await _load(request, session, access.require_annotation, annotation_id, edit=True)


async def _managed_consent(request: Request, consent_id: PathId, session: SessionDep) -> Consent:
    return await _load(request, session, access.require_consent, consent_id, manage=True)


async def _round(request: Request, round_id: PathId, session: SessionDep) -> CodingRound:
    return await _load(request, session, access.require_round, round_id)


StudyDep = Annotated[Study, Depends(_study)]
ManagedStudyDep = Annotated[Study, Depends(_managed_study)]
RecordingDep = Annotated[Recording, Depends(_recording)]
ManagedRecordingDep = Annotated[Recording, Depends(_managed_recording)]
InterviewDep = Annotated[Interview, Depends(_interview)]
ManagedCodebookDep = Annotated[Codebook, Depends(_managed_codebook)]
ManagedCodeDep = Annotated[Code, Depends(_managed_code)]
AnnotationDep = Annotated[Annotation, Depends(_annotation)]
EditableAnnotationDep = Annotated[Annotation, Depends(_editable_annotation)]
ManagedConsentDep = Annotated[Consent, Depends(_managed_consent)]
RoundDep = Annotated[CodingRound, Depends(_round)]


# Formats a page shows rather than saves: asked for without `download`, not an export.
_SHOWN_FORMATS = ("json", "svg", "png")
_FLAG = TypeAdapter(bool)


def _flag(value: str | None) -> bool:
    """A query's boolean as the routes read it (`download=yes` is true); anything else (a
    route without the parameter ignores it) false."""
    try:
        return _FLAG.validate_python(value or "false")
    except ValidationError:
        return False


async def audit_export(request: Request, user: CurrentUser) -> AsyncIterator[None]:
    """An audit entry for a table or figure saved as a file (`format` other than what a page
    shows, or `download=true`), once the handler has made it: a request refused (invalid, not
    allowed) or failing leaves none, and the path's ids are valid by then."""
    yield
    query = request.query_params
    if query.get("format", "json") in _SHOWN_FORMATS and not _flag(query.get("download")):
        return
    params = request.path_params
    study_id = params.get("study_id")
    codebook_id = params.get("codebook_id")
    async with request_session(request) as session:
        await write(
            request,
            session,
            audit_log.record,
            session,
            actor(request, user),
            audit_log.EXPORT,
            study_id=int(study_id) if study_id else None,
            object_type="codebook" if codebook_id else "study",
            object_id=int(codebook_id or study_id or 0) or None,
            what=request.url.path.rsplit("/", 1)[-1],
            format=query.get("format", ""),
        )


# Its entry is written when the handler returns, before the answer leaves.
AuditedExport = Annotated[None, Depends(audit_export, scope="function")]


def _record_study_export(
    session: Session, who: audit_log.Actor, study_id: int, what: str, detail: dict[str, Any]
) -> None:
    audit_log.record(
        session,
        who,
        audit_log.EXPORT,
        study_id=study_id,
        object_type="study",
        object_id=study_id,
        what=what,
        **detail,
    )


async def audit_study_export(
    request: Request, session: Session, user: User, study_id: int, what: str, **detail: Any
) -> None:
    """The audit entry of a file made of a study (`what`, its format and details), written
    once the file is made: a refused or failed export leaves none."""
    await write(
        request,
        session,
        _record_study_export,
        session,
        actor(request, user),
        study_id,
        what,
        detail,
    )
