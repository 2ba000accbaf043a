"""Access rules, in one place.

Admins see everything. A researcher sees the studies they are a member of, and all of their
content. A counsellor member sees only their own recordings and interviews (those of the
counsellor record linked to their account) and may annotate them; they edit only what they
wrote. Unknown ids are 404; known ones the user may not touch are 403.
"""

from sqlmodel import Session, col, select

from autoconf.errors import Forbidden, NotFound
from autoconf.models import (
    Annotation,
    Code,
    Codebook,
    Counsellor,
    Interview,
    Membership,
    Recording,
    Study,
    User,
)

ADMIN = "admin"
RESEARCHER = "researcher"
COUNSELLOR = "counsellor"


def study_role(session: Session, user: User, study_id: int) -> str | None:
    """`admin`, the membership role, or None when the user has no access to the study."""
    if user.role == ADMIN:
        return ADMIN
    return session.exec(
        select(Membership.role).where(
            Membership.study_id == study_id, Membership.user_id == user.id
        )
    ).first()


def require_study(session: Session, user: User, study_id: int, *, manage: bool = False) -> Study:
    """The study, if the user is a member; with `manage`, only its researchers (and admins)."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"Aucune étude n° {study_id}.")
    role = study_role(session, user, study_id)
    if role is None:
        raise Forbidden("Vous n'êtes pas membre de cette étude.")
    if manage and role not in (ADMIN, RESEARCHER):
        raise Forbidden("Seuls les chercheurs de l'étude peuvent faire cela.")
    return study


def own_counsellor_ids(session: Session, user: User, study_id: int) -> list[int]:
    ids = session.exec(
        select(Counsellor.id).where(Counsellor.study_id == study_id, Counsellor.user_id == user.id)
    ).all()
    return [i for i in ids if i is not None]


def sees_everything(session: Session, user: User, study_id: int) -> bool:
    return study_role(session, user, study_id) in (ADMIN, RESEARCHER)


def require_recording(
    session: Session, user: User, recording_id: int, *, manage: bool = False
) -> Recording:
    """The recording, if the user may see it; with `manage` (process again, stop, delete),
    only the study's researchers (and admins)."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFound(f"Aucun enregistrement n° {recording_id}.")
    role = study_role(session, user, recording.study_id)
    if role is None:
        raise Forbidden("Vous n'êtes pas membre de l'étude de cet enregistrement.")
    if manage and role not in (ADMIN, RESEARCHER):
        raise Forbidden("Seuls les chercheurs de l'étude peuvent faire cela.")
    if role == COUNSELLOR and recording.counsellor_id not in own_counsellor_ids(
        session, user, recording.study_id
    ):
        raise Forbidden("Cet enregistrement n'est pas l'un des vôtres.")
    return recording


def visible_recording_filter(session: Session, user: User, study_id: int) -> list[int] | None:
    """None when every recording of the study is visible, else the counsellor ids allowed."""
    if sees_everything(session, user, study_id):
        return None
    return own_counsellor_ids(session, user, study_id)


def require_interview(session: Session, user: User, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id)
    if interview is None:
        raise NotFound(f"Aucun entretien n° {interview_id}.")
    require_study(session, user, interview.study_id)
    allowed = visible_recording_filter(session, user, interview.study_id)
    if allowed is not None and interview.counsellor_id not in allowed:
        raise Forbidden("Cet entretien n'est pas l'un des vôtres.")
    return interview


def require_codebook(
    session: Session, user: User, codebook_id: int, *, manage: bool = False
) -> Codebook:
    codebook = session.get(Codebook, codebook_id)
    if codebook is None:
        raise NotFound(f"Aucun livre de codes n° {codebook_id}.")
    require_study(session, user, codebook.study_id, manage=manage)
    return codebook


def require_code(session: Session, user: User, code_id: int, *, manage: bool = False) -> Code:
    code = session.get(Code, code_id)
    if code is None:
        raise NotFound(f"Aucun code n° {code_id}.")
    require_codebook(session, user, code.codebook_id, manage=manage)
    return code


def require_annotation(
    session: Session, user: User, annotation_id: int, *, edit: bool = False
) -> Annotation:
    """The annotation; with `edit`, only its author or a researcher of the study. Someone
    else's private mark is unknown (404), as if it did not exist."""
    annotation = session.get(Annotation, annotation_id)
    if annotation is None or (not annotation.shared and annotation.author_id != user.id):
        raise NotFound(f"Aucune annotation n° {annotation_id}.")
    recording = require_recording(session, user, annotation.recording_id)
    if (
        edit
        and annotation.author_id != user.id
        and not sees_everything(session, user, recording.study_id)
    ):
        raise Forbidden("Vous ne pouvez modifier que vos propres annotations.")
    return annotation


def visible_study_ids(session: Session, user: User) -> list[int] | None:
    """None for admins (every study), else the ids of the user's studies."""
    if user.role == ADMIN:
        return None
    return list(
        session.exec(select(col(Membership.study_id)).where(Membership.user_id == user.id)).all()
    )
