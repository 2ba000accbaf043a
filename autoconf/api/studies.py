"""Studies and their members, structures, counsellors and interviews."""

from fastapi import APIRouter, status

from autoconf.api.deps import (
    CurrentUser,
    InterviewDep,
    ManagedStudyDep,
    SessionDep,
    StudyDep,
)
from autoconf.errors import Forbidden
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
)
from autoconf.studies import access, service

router = APIRouter(prefix="/api/v1", tags=["studies"])


def _public(study: object, role: str | None) -> StudyPublic:
    result = StudyPublic.model_validate(study)
    result.my_role = role  # type: ignore[assignment]
    return result


@router.get("/studies", response_model=list[StudyPublic])
def list_studies(user: CurrentUser, session: SessionDep):
    return [_public(study, role) for study, role in service.list_studies(session, user)]


@router.post("/studies", response_model=StudyPublic, status_code=status.HTTP_201_CREATED)
def create_study(body: StudyCreate, user: CurrentUser, session: SessionDep):
    """A new study, with the default vocabularies; its creator becomes its researcher."""
    if user.role == access.COUNSELLOR:
        raise Forbidden("Les conseillers ne peuvent pas créer d'étude.")
    study = service.create_study(session, user, body.name, body.description)
    return _public(study, access.study_role(session, user, study.id or 0))


@router.get("/studies/{study_id}", response_model=StudyPublic)
def get_study(study: StudyDep, user: CurrentUser, session: SessionDep):
    return _public(study, access.study_role(session, user, study.id or 0))


@router.get("/studies/{study_id}/members", response_model=list[MemberPublic])
def list_members(study: StudyDep, session: SessionDep):
    return service.list_members(session, study.id or 0)


@router.post(
    "/studies/{study_id}/members", response_model=MemberPublic, status_code=status.HTTP_201_CREATED
)
def add_member(body: MemberCreate, study: ManagedStudyDep, session: SessionDep):
    """Add an existing account to the study (or change its role there)."""
    return service.add_member(session, study.id or 0, body.username, body.role)


@router.get("/studies/{study_id}/structures", response_model=list[StructurePublic])
def list_structures(study: StudyDep, session: SessionDep):
    return service.list_structures(session, study.id or 0)


@router.post(
    "/studies/{study_id}/structures",
    response_model=StructurePublic,
    status_code=status.HTTP_201_CREATED,
)
def create_structure(body: StructureCreate, study: ManagedStudyDep, session: SessionDep):
    return service.create_structure(session, study.id or 0, **body.model_dump())


@router.get("/studies/{study_id}/counsellors", response_model=list[CounsellorPublic])
def list_counsellors(study: StudyDep, user: CurrentUser, session: SessionDep):
    return service.list_counsellors(session, user, study.id or 0)


@router.post(
    "/studies/{study_id}/counsellors",
    response_model=CounsellorPublic,
    status_code=status.HTTP_201_CREATED,
)
def create_counsellor(body: CounsellorCreate, study: ManagedStudyDep, session: SessionDep):
    return service.create_counsellor(session, study.id or 0, **body.model_dump())


def _interview(interview: object, recording_ids: list[int]) -> InterviewPublic:
    data = {name: getattr(interview, name) for name in ("id", "study_id", "code", "counsellor_id")}
    return InterviewPublic(**data, notes=getattr(interview, "notes"), recording_ids=recording_ids)


@router.get("/studies/{study_id}/interviews", response_model=list[InterviewPublic])
def list_interviews(study: StudyDep, user: CurrentUser, session: SessionDep):
    return [_interview(i, ids) for i, ids in service.list_interviews(session, user, study.id or 0)]


@router.post(
    "/studies/{study_id}/interviews",
    response_model=InterviewPublic,
    status_code=status.HTTP_201_CREATED,
)
def create_interview(body: InterviewCreate, study: ManagedStudyDep, session: SessionDep):
    """An auto-confrontation covering one or more recordings of the same study."""
    interview, ids = service.create_interview(session, study.id or 0, **body.model_dump())
    return _interview(interview, ids)


@router.get("/interviews/{interview_id}", response_model=InterviewPublic)
def get_interview(interview: InterviewDep, session: SessionDep):
    return _interview(interview, service.interview_recording_ids(session, interview.id or 0))
