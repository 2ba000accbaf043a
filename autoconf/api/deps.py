"""Named dependencies: the settings, a database session, the current user, loaded objects."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from autoconf.auth.accounts import API, SESSION, user_for_token
from autoconf.errors import NotAuthenticated
from autoconf.i18n import set_language
from autoconf.models import Annotation, Code, Codebook, Interview, Recording, Study, User
from autoconf.settings import Settings
from autoconf.studies import access

SESSION_COOKIE = "autoconf_session"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler succeeds, else rolled back."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def optional_user(request: Request, session: SessionDep, settings: SettingsDep) -> User | None:
    """The user of the Bearer API token, else of the session cookie, else None."""
    token = bearer_token(request)
    if token is not None:
        user = user_for_token(session, token, API)
        if user is None:
            raise NotAuthenticated("Jeton d'API invalide ou révoqué.")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        user = user_for_token(session, cookie, SESSION) if cookie else None
    set_language((user.language if user else None) or settings.default_language)
    request.state.user = user
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("Connectez-vous pour accéder à cette page.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def _study(study_id: int, session: SessionDep, user: CurrentUser) -> Study:
    return access.require_study(session, user, study_id)


def _managed_study(study_id: int, session: SessionDep, user: CurrentUser) -> Study:
    return access.require_study(session, user, study_id, manage=True)


def _recording(recording_id: int, session: SessionDep, user: CurrentUser) -> Recording:
    return access.require_recording(session, user, recording_id)


def _managed_recording(recording_id: int, session: SessionDep, user: CurrentUser) -> Recording:
    return access.require_recording(session, user, recording_id, manage=True)


def _interview(interview_id: int, session: SessionDep, user: CurrentUser) -> Interview:
    return access.require_interview(session, user, interview_id)


def _managed_codebook(codebook_id: int, session: SessionDep, user: CurrentUser) -> Codebook:
    return access.require_codebook(session, user, codebook_id, manage=True)


def _managed_code(code_id: int, session: SessionDep, user: CurrentUser) -> Code:
    return access.require_code(session, user, code_id, manage=True)


def _editable_annotation(annotation_id: int, session: SessionDep, user: CurrentUser) -> Annotation:
    return access.require_annotation(session, user, annotation_id, edit=True)


StudyDep = Annotated[Study, Depends(_study)]
ManagedStudyDep = Annotated[Study, Depends(_managed_study)]
RecordingDep = Annotated[Recording, Depends(_recording)]
ManagedRecordingDep = Annotated[Recording, Depends(_managed_recording)]
InterviewDep = Annotated[Interview, Depends(_interview)]
ManagedCodebookDep = Annotated[Codebook, Depends(_managed_codebook)]
ManagedCodeDep = Annotated[Code, Depends(_managed_code)]
EditableAnnotationDep = Annotated[Annotation, Depends(_editable_annotation)]
