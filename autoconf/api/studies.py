"""Studies and their members, structures, counsellors and interviews."""

from typing import Any

from fastapi import Request, status
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    InterviewDep,
    ManagedStudyDep,
    PathId,
    SessionDep,
    StudyDep,
    actor,
    write,
)
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.errors import Forbidden
from autoconf.models import Interview, Study, User
from autoconf.payloads import (
    CounsellorCreate,
    CounsellorPublic,
    InterviewCreate,
    InterviewPublic,
    MemberCreate,
    MemberPublic,
    StructureCreate,
    StructurePublic,
    StudyCreate,
    StudyPublic,
    StudyUpdate,
)
from autoconf.studies import access, service

router = IndexedRouter(prefix="/api/v1", tags=["studies"])


def _study(study: Study, role: str | None) -> StudyPublic:
    return StudyPublic.model_validate({**study.model_dump(), "my_role": role})


def _interview(interview: Interview, recording_ids: list[int]) -> InterviewPublic:
    return InterviewPublic.model_validate(
        {**interview.model_dump(), "recording_ids": recording_ids}
    )


@router.get("/studies")
def list_studies(user: CurrentUser, session: SessionDep) -> list[StudyPublic]:
    """The studies the caller may see (all of them for administrators)."""
    return [_study(study, role) for study, role in service.list_studies(session, user)]


def _create_study(session: Session, user: User, body: StudyCreate) -> StudyPublic:
    study = service.create_study(session, user, body.name, body.description)
    return _study(study, access.study_role(session, user, study.id or 0))


@router.post("/studies", status_code=status.HTTP_201_CREATED)
async def create_study(
    request: Request, body: StudyCreate, user: CurrentUser, session: SessionDep
) -> StudyPublic:
    """A new study, with the default vocabularies; its creator becomes its researcher."""
    if user.role == access.COUNSELLOR:
        raise Forbidden("Les conseillers ne peuvent pas créer d'étude.")
    return await write(request, session, _create_study, session, user, body)


@router.get("/studies/{study_id}")
def get_study(study: StudyDep, user: CurrentUser, session: SessionDep) -> StudyPublic:
    return _study(study, access.study_role(session, user, study.id or 0))


def _update_study(
    session: Session, study_id: int, changes: dict[str, Any], who: audit_log.Actor
) -> Study:
    study = service.update_settings(session, study_id, changes)
    settings = {k: v for k, v in changes.items() if k not in ("name", "description")}
    audit_log.record(session, who, audit_log.STUDY_SETTINGS, study_id=study_id, changes=settings)
    return study


@router.patch("/studies/{study_id}")
async def update_study(
    request: Request,
    body: StudyUpdate,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
) -> StudyPublic:
    """Name, description and settings: co-validation (counsellors see the coding segments a
    researcher shows them), consent required (no playback nor export without research consent
    from both parties), the pattern of codes (with an example)."""
    changes = body.model_dump(exclude_unset=True)
    who = actor(request, user)
    updated = await update_study_settings(request, session, study.id or 0, changes, who)
    return _study(updated, access.study_role(session, user, study.id or 0))


async def update_study_settings(
    request: Request, session: Session, study_id: int, changes: dict[str, Any], who: audit_log.Actor
) -> Study:
    """The settings' change (API and page); players re-check access at their next request."""
    updated = await write(request, session, _update_study, session, study_id, changes, who)
    request.app.state.media_grants.clear()
    return updated


@router.get("/studies/{study_id}/members")
def list_members(study: StudyDep, user: CurrentUser, session: SessionDep) -> list[MemberPublic]:
    members = service.list_members(session, user, study.id or 0)
    return [MemberPublic.model_validate(m) for m in members]


@router.post("/studies/{study_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    request: Request,
    body: MemberCreate,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
) -> MemberPublic:
    """Add an existing account to the study (or change its role there)."""
    who = actor(request, user)
    member = await write(request, session, _add_member, session, study.id or 0, body, who)
    request.app.state.media_grants.clear()
    return MemberPublic.model_validate(member)


def _add_member(
    session: Session, study_id: int, body: MemberCreate, who: audit_log.Actor
) -> service.Member:
    before = access.study_role_of(session, body.username, study_id)
    member = service.add_member(session, study_id, body.username, body.role)
    action = audit_log.MEMBER_ADDED if before is None else audit_log.MEMBER_ROLE
    audit_log.record(
        session,
        who,
        action,
        study_id=study_id,
        object_type="user",
        object_id=member.user_id,
        role=body.role,
        before=before,
    )
    return member


def _remove_member(
    session: Session, study_id: int, user_id: int, who: audit_log.Actor
) -> service.Member:
    member = service.remove_member(session, study_id, user_id)
    audit_log.record(
        session,
        who,
        audit_log.MEMBER_REMOVED,
        study_id=study_id,
        object_type="user",
        object_id=user_id,
        role=member.role,
    )
    return member


@router.delete("/studies/{study_id}/members/{user_id}")
async def remove_member(
    request: Request,
    user_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
) -> MemberPublic:
    """Take someone out of the study: their access ends at once; what they wrote stays,
    under their name. The study keeps at least one researcher."""
    who = actor(request, user)
    member = await remove_member_from(request, session, study.id or 0, user_id, who)
    return MemberPublic.model_validate(member)


async def remove_member_from(
    request: Request, session: Session, study_id: int, user_id: int, who: audit_log.Actor
) -> service.Member:
    """Take a member out (API and page); their players stop at the next request."""
    member = await write(request, session, _remove_member, session, study_id, user_id, who)
    request.app.state.media_grants.clear()
    return member


@router.get("/studies/{study_id}/structures")
def list_structures(study: StudyDep, session: SessionDep) -> list[StructurePublic]:
    return [
        StructurePublic.model_validate(s) for s in service.list_structures(session, study.id or 0)
    ]


@router.post("/studies/{study_id}/structures", status_code=status.HTTP_201_CREATED)
async def create_structure(
    request: Request, body: StructureCreate, study: ManagedStudyDep, session: SessionDep
) -> StructurePublic:
    """An organisation where counsellors work (APEC, Mission Locale…), with its code."""
    create = service.create_structure
    structure = await write(request, session, create, session, study.id or 0, **body.model_dump())
    return StructurePublic.model_validate(structure)


@router.get("/studies/{study_id}/counsellors")
def list_counsellors(
    study: StudyDep, user: CurrentUser, session: SessionDep
) -> list[CounsellorPublic]:
    counsellors = service.list_counsellors(session, user, study.id or 0)
    return [CounsellorPublic.model_validate(c) for c in counsellors]


@router.post("/studies/{study_id}/counsellors", status_code=status.HTTP_201_CREATED)
async def create_counsellor(
    request: Request, body: CounsellorCreate, study: ManagedStudyDep, session: SessionDep
) -> CounsellorPublic:
    """A pseudonymous counsellor (code such as `A8`), optionally linked to their account."""
    create = service.create_counsellor
    counsellor = await write(request, session, create, session, study.id or 0, **body.model_dump())
    return CounsellorPublic.model_validate(counsellor)


@router.get("/studies/{study_id}/interviews")
def list_interviews(
    study: StudyDep, user: CurrentUser, session: SessionDep
) -> list[InterviewPublic]:
    return [_interview(i, ids) for i, ids in service.list_interviews(session, user, study.id or 0)]


@router.post("/studies/{study_id}/interviews", status_code=status.HTTP_201_CREATED)
async def create_interview(
    request: Request, body: InterviewCreate, study: ManagedStudyDep, session: SessionDep
) -> InterviewPublic:
    """An auto-confrontation covering one or more recordings of the same study."""
    create = service.create_interview
    interview, ids = await write(
        request, session, create, session, study.id or 0, **body.model_dump()
    )
    return _interview(interview, ids)


@router.get("/interviews/{interview_id}")
def get_interview(interview: InterviewDep, session: SessionDep) -> InterviewPublic:
    return _interview(interview, service.interview_recording_ids(session, interview.id or 0))
