"""Studies and their people and places: members, structures, counsellors, interviews."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from autoconf.auth.accounts import create_invited, get_user
from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.models import (
    Counsellor,
    Interview,
    InterviewRecording,
    Membership,
    Recording,
    Structure,
    Study,
    User,
)
from autoconf.schemes.codebooks import seed_default_codebooks
from autoconf.studies import access, codes
from autoconf.studies.access import (
    COUNSELLOR,
    RESEARCHER,
    sees_everything,
    visible_recording_filter,
    visible_study_ids,
)


def create_study(session: Session, creator: User, name: str, description: str = "") -> Study:
    """A new study with its creator as researcher and the default vocabularies."""
    study = Study(name=name, description=description)
    session.add(study)
    session.flush()
    assert study.id is not None and creator.id is not None
    session.add(Membership(study_id=study.id, user_id=creator.id, role=RESEARCHER))
    seed_default_codebooks(session, study.id)
    session.flush()
    return study


def list_studies(session: Session, user: User) -> list[tuple[Study, str]]:
    """The studies the user may see, by name, with the user's role in each."""
    ids = visible_study_ids(session, user)
    if ids is None:
        return [(s, "admin") for s in session.exec(select(Study).order_by(col(Study.name))).all()]
    rows = session.exec(
        select(Study, Membership.role)
        .join(Membership, col(Membership.study_id) == Study.id)
        .where(Membership.user_id == user.id)
        .order_by(col(Study.name))
    ).all()
    return [(study, role) for study, role in rows]


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    display_name: str
    role: str
    gender: str = ""
    account_role: str = ""  # the account's own role: a counsellor account stays a counsellor


def list_members(session: Session, viewer: User, study_id: int) -> list[Member]:
    """The study's members; a counsellor sees the researchers and themselves only (the other
    counsellors are pseudonymous participants)."""
    query = (
        select(User, Membership.role)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.study_id == study_id)
        .order_by(col(User.username))
    )
    if not sees_everything(session, viewer, study_id):
        query = query.where(or_(col(Membership.role) == RESEARCHER, col(User.id) == viewer.id))
    return [
        Member(user.id or 0, user.username, user.display_name, role, user.gender, user.role)
        for user, role in session.exec(query).all()
    ]


def add_member(session: Session, study_id: int, username: str, role: str) -> Member:
    """Add a user to a study, or change their role in it; a study keeps a researcher."""
    user = get_user(session, username)
    assert user.id is not None
    if role == RESEARCHER and user.role == COUNSELLOR:
        raise Invalid(
            f"« {username} » a un compte de conseiller : il ne peut être que conseiller "
            "dans une étude."
        )
    membership = session.exec(
        select(Membership).where(Membership.study_id == study_id, Membership.user_id == user.id)
    ).first()
    if membership is not None and membership.role == RESEARCHER and role != RESEARCHER:
        researchers = session.exec(
            select(func.count())
            .select_from(Membership)
            .where(Membership.study_id == study_id, Membership.role == RESEARCHER)
        ).one()
        if researchers <= 1:
            raise Conflict("L'étude doit garder au moins un chercheur.")
    if membership is None:
        membership = Membership(study_id=study_id, user_id=user.id, role=role)
    membership.role = role
    session.add(membership)
    session.flush()
    return Member(user.id, user.username, user.display_name, role, user.gender)


def invite_member(
    session: Session, study_id: int, username: str, role: str, display_name: str, gender: str
) -> tuple[Member, str]:
    """A new account made a member at once (its sign-in role is its role in the study), and
    its one-time password in clear, to be shown once."""
    if role not in (RESEARCHER, COUNSELLOR):
        raise Invalid(f"Rôle inconnu « {role} » dans une étude.")
    user, password = create_invited(session, username, role, display_name, gender)
    assert user.id is not None
    session.add(Membership(study_id=study_id, user_id=user.id, role=role))
    session.flush()
    return Member(user.id, user.username, user.display_name, role, user.gender), password


def set_member_role(session: Session, study_id: int, user_id: int, role: str) -> Member:
    """Change a member's role in the study (add_member's rules apply)."""
    membership = session.exec(
        select(Membership).where(Membership.study_id == study_id, Membership.user_id == user_id)
    ).first()
    user = session.get(User, user_id)
    if membership is None or user is None:
        raise NotFound(f"L'utilisateur n° {user_id} n'est pas membre de cette étude.")
    return add_member(session, study_id, user.username, role)


def _researchers(session: Session, study_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.study_id == study_id, Membership.role == RESEARCHER)
    ).one()


def remove_member(session: Session, study_id: int, user_id: int) -> Member:
    """Take a user out of a study: they lose access at once; what they wrote stays, under
    their name. A study keeps a researcher."""
    row = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == Membership.user_id)
        .where(Membership.study_id == study_id, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"L'utilisateur n° {user_id} n'est pas membre de cette étude.")
    membership, user = row
    if membership.role == RESEARCHER and _researchers(session, study_id) <= 1:
        raise Conflict("L'étude doit garder au moins un chercheur.")
    session.delete(membership)
    session.flush()
    return Member(user_id, user.username, user.display_name, membership.role)


def update_settings(session: Session, study_id: int, changes: dict[str, Any]) -> Study:
    """Change what `changes` holds of name, description, co_validation, consent_required,
    code_pattern and code_example (re-read under the write lock)."""
    study = session.get(Study, study_id, populate_existing=True)
    if study is None:
        raise NotFound(f"Aucune étude n° {study_id}.")
    pattern = changes.get("code_pattern", study.code_pattern)
    example = changes.get("code_example", study.code_example)
    if "code_pattern" in changes or "code_example" in changes:
        compiled = codes.compile_pattern(pattern or "", example or "")
        if compiled is not None:
            broken = codes.codes_breaking(session, study_id, compiled)
            if broken:
                raise Invalid(
                    f"Ces codes de l'étude ne suivent pas le motif « {pattern} » : "
                    f"{', '.join(broken[:10])}. Changez-les d'abord, ou choisissez un autre motif."
                )
    for name in ("name", "description", "co_validation", "consent_required"):
        if changes.get(name) is not None:
            setattr(study, name, changes[name])
    study.code_pattern = pattern or ""
    study.code_example = (example or "") if pattern else ""
    session.add(study)
    session.flush()
    return study


def _ensure_unique(
    session: Session, table: type[Structure | Counsellor | Interview], study_id: int, code: str
) -> None:
    """Counsellors and interviews follow the study's pattern of codes; no code twice."""
    if table is not Structure:
        codes.check_code(session, study_id, code)
    taken = session.exec(
        select(table.id).where(table.study_id == study_id, table.code == code)
    ).first()
    if taken is not None:
        raise Conflict(f"Le code « {code} » est déjà pris dans cette étude.")


def check_interview_code(session: Session, study_id: int, code: str) -> None:
    """A new interview's code: the study's pattern, not taken."""
    _ensure_unique(session, Interview, study_id, code)


def create_structure(
    session: Session, study_id: int, code: str, name: str = "", city: str = "", centre: str = ""
) -> Structure:
    _ensure_unique(session, Structure, study_id, code)
    structure = Structure(study_id=study_id, code=code, name=name, city=city, centre=centre)
    session.add(structure)
    session.flush()
    return structure


def list_structures(session: Session, study_id: int) -> list[Structure]:
    query = select(Structure).where(Structure.study_id == study_id).order_by(col(Structure.code))
    return list(session.exec(query).all())


def create_counsellor(
    session: Session,
    study_id: int,
    code: str,
    structure_id: int | None = None,
    username: str | None = None,
) -> Counsellor:
    if structure_id is not None:
        structure = session.get(Structure, structure_id)
        if structure is None or structure.study_id != study_id:
            raise Invalid(f"La structure n° {structure_id} n'appartient pas à cette étude.")
    _ensure_unique(session, Counsellor, study_id, code)
    user_id = _counsellor_account(session, study_id, username) if username else None
    counsellor = Counsellor(
        study_id=study_id, code=code, structure_id=structure_id, user_id=user_id
    )
    session.add(counsellor)
    session.flush()
    return counsellor


def _counsellor_account(session: Session, study_id: int, username: str) -> int:
    """The account a counsellor code links to: made a counsellor member of the study if it
    is not one; one code per account."""
    user = get_user(session, username)
    assert user.id is not None
    role = access.study_role_of(session, username, study_id)
    if role == RESEARCHER:
        raise Invalid(
            f"« {username} » est chercheur dans cette étude : un compte de conseiller doit "
            "n'y être que conseiller."
        )
    if user.role != COUNSELLOR:
        raise Invalid(f"« {username} » n'est pas un compte de conseiller (son rôle : {user.role}).")
    linked = session.exec(
        select(Counsellor.code).where(
            Counsellor.study_id == study_id, Counsellor.user_id == user.id
        )
    ).first()
    if linked is not None:
        raise Conflict(f"Le compte « {username} » est déjà celui du conseiller {linked}.")
    if role is None:
        session.add(Membership(study_id=study_id, user_id=user.id, role=COUNSELLOR))
    return user.id


def link_counsellor_account(
    session: Session,
    study_id: int,
    counsellor_id: int,
    username: str,
    new: bool = False,
    display_name: str = "",
    gender: str = "",
) -> tuple[Counsellor, str | None]:
    """Give a counsellor code without an account its account: an existing one, or a new one
    (`new`) whose one-time password comes back in clear."""  # fmt: skip
    counsellor = session.get(Counsellor, counsellor_id)
    if counsellor is None or counsellor.study_id != study_id:
        raise NotFound(f"Aucun conseiller n° {counsellor_id} dans cette étude.")
    if counsellor.user_id is not None:
        raise Conflict(f"Le conseiller {counsellor.code} a déjà un compte.")
    password = None
    if new:
        _, password = create_invited(session, username, COUNSELLOR, display_name, gender)
    counsellor.user_id = _counsellor_account(session, study_id, username)
    session.add(counsellor)
    session.flush()
    return counsellor, password


def create_counsellor_with_account(
    session: Session,
    study_id: int,
    code: str,
    structure_id: int | None,
    username: str,
    display_name: str,
    gender: str,
) -> tuple[Counsellor, str]:
    """A counsellor code and the counsellor's own account in one step; the one-time
    password in clear, to be shown once."""
    _ensure_unique(session, Counsellor, study_id, code)  # before an account is made for it
    _, password = create_invited(session, username, COUNSELLOR, display_name, gender)
    return create_counsellor(session, study_id, code, structure_id, username), password


def list_counsellors(session: Session, user: User, study_id: int) -> list[Counsellor]:
    query = select(Counsellor).where(Counsellor.study_id == study_id)
    allowed = visible_recording_filter(session, user, study_id)
    if allowed is not None:
        query = query.where(col(Counsellor.id).in_(allowed))
    return list(session.exec(query.order_by(col(Counsellor.code))).all())


def check_counsellor(session: Session, study_id: int, counsellor_id: int | None) -> None:
    if counsellor_id is None:
        return
    counsellor = session.get(Counsellor, counsellor_id)
    if counsellor is None or counsellor.study_id != study_id:
        raise Invalid(f"Le conseiller n° {counsellor_id} n'appartient pas à cette étude.")


def create_interview(
    session: Session,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    recording_ids: list[int],
    notes: str = "",
) -> tuple[Interview, list[int]]:
    """An auto-confrontation covering `recording_ids` (in that order), all of this study."""
    check_counsellor(session, study_id, counsellor_id)
    if len(set(recording_ids)) != len(recording_ids):
        raise Invalid("Un même enregistrement est cité deux fois.")
    found = set(
        session.exec(
            select(Recording.id).where(
                col(Recording.id).in_(recording_ids), Recording.study_id == study_id
            )
        ).all()
    )
    interviews_own = session.exec(
        select(Recording.code).where(
            col(Recording.id).in_(recording_ids), Recording.category != "session"
        )
    ).all()
    if interviews_own:
        raise Invalid(
            f"{interviews_own[0]} est l'enregistrement d'une auto-confrontation, pas une séance "
            "de conseil à rejouer."
        )
    missing = [rid for rid in recording_ids if rid not in found]
    if missing:
        raise Invalid(
            "Enregistrement(s) inconnu(s) dans cette étude : " + ", ".join(map(str, missing))
        )
    if counsellor_id is not None:
        # The counsellor will see the interview: it must hold only their own recordings.
        others = session.exec(
            select(Recording.code).where(
                col(Recording.id).in_(recording_ids),
                or_(
                    col(Recording.counsellor_id) != counsellor_id,
                    col(Recording.counsellor_id).is_(None),
                ),
            )
        ).all()
        if others:
            raise Invalid(
                "Ces enregistrements ne sont pas ceux du conseiller de l'entretien : "
                + ", ".join(sorted(others))
            )
    _ensure_unique(session, Interview, study_id, code)
    interview = Interview(study_id=study_id, code=code, counsellor_id=counsellor_id, notes=notes)
    session.add(interview)
    session.flush()
    assert interview.id is not None
    for position, recording_id in enumerate(recording_ids):
        session.add(
            InterviewRecording(
                interview_id=interview.id, recording_id=recording_id, position=position
            )
        )
    session.flush()
    return interview, recording_ids


def list_interviews(
    session: Session, user: User, study_id: int
) -> list[tuple[Interview, list[int]]]:
    query = select(Interview).where(Interview.study_id == study_id)
    allowed = visible_recording_filter(session, user, study_id)
    if allowed is not None:
        query = query.where(col(Interview.counsellor_id).in_(allowed))
    interviews = list(session.exec(query.order_by(col(Interview.code))).all())
    links = session.exec(
        select(InterviewRecording.interview_id, InterviewRecording.recording_id)
        .where(col(InterviewRecording.interview_id).in_([i.id for i in interviews]))
        .order_by(col(InterviewRecording.position))
    ).all()
    by_interview: dict[int, list[int]] = {}
    for interview_id, recording_id in links:
        by_interview.setdefault(interview_id, []).append(recording_id)
    return [(i, by_interview.get(i.id or 0, [])) for i in interviews]


def attach_recording(session: Session, interview: Interview, recording_id: int) -> list[int]:
    """Add a counselling session's recording to an interview (after those it has): the
    interview's rules apply (same study, a session, the interview's counsellor's)."""
    assert interview.id is not None
    ids = interview_recording_ids(session, interview.id)
    if recording_id in ids:
        raise Conflict("Cet enregistrement fait déjà partie de l'entretien.")
    recording = session.get(Recording, recording_id)
    if recording is None or recording.study_id != interview.study_id:
        raise Invalid(f"Enregistrement inconnu dans cette étude : {recording_id}.")
    if recording.category != "session":
        raise Invalid(
            f"{recording.code} est l'enregistrement d'une auto-confrontation, pas une séance "
            "de conseil à rejouer."
        )
    if interview.counsellor_id is not None and recording.counsellor_id != interview.counsellor_id:
        raise Invalid(f"{recording.code} n'est pas un enregistrement du conseiller de l'entretien.")
    session.add(
        InterviewRecording(interview_id=interview.id, recording_id=recording_id, position=len(ids))
    )
    session.flush()
    return [*ids, recording_id]


def interview_holding(session: Session, recording_id: int) -> str | None:
    """The code of an interview the recording is part of (a session of it, or its own
    recording), if any."""
    return (
        session.exec(
            select(Interview.code)
            .join(InterviewRecording, col(InterviewRecording.interview_id) == Interview.id)
            .where(InterviewRecording.recording_id == recording_id)
        ).first()
        or session.exec(
            select(Interview.code).where(Interview.ac_recording_id == recording_id)
        ).first()
    )


def interview_recording_ids(session: Session, interview_id: int) -> list[int]:
    return list(
        session.exec(
            select(InterviewRecording.recording_id)
            .where(InterviewRecording.interview_id == interview_id)
            .order_by(col(InterviewRecording.position))
        ).all()
    )
