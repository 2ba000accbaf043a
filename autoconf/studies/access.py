"""Access rules, in one place: every route, page, export and live event asks here.

Admins see everything. A researcher sees the studies they are a member of, and all of their
content. A counsellor member sees only their own recordings, interviews and live sessions
(those of the counsellor record linked to their account), and on them the stops, the
transcript, their own marks and the prepared moments shown to them; never the researchers'
coding (schemes, consensus, phases, categories) unless the study turns co-validation on, and
then only the segments a researcher shows them. They write only stops, comments, their own
marks and, with co-validation, what they say of the segments shown to them. What a user may
not see does not exist for them: 404, with the body an unknown id gets. What they may see but
not do is 403.
"""

import hmac
from dataclasses import dataclass, replace
from typing import cast

from sqlalchemy import ColumnElement, and_, bindparam, event, false, or_
from sqlmodel import Session, col, select

from autoconf.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from autoconf.models import (
    CODING_LAYERS,
    LAYERS,
    Annotation,
    Code,
    Codebook,
    CodingRound,
    Consent,
    Counsellor,
    CoValidation,
    Interview,
    LiveComment,
    LiveSession,
    LiveStop,
    Membership,
    Recording,
    Study,
    User,
)
from autoconf.schemes.annotations import AnnotationView, WriteLimits

ADMIN = "admin"
RESEARCHER = "researcher"
COUNSELLOR = "counsellor"


# A request asks the same questions several times (the object its path names, then the
# scope of what it shows): the answers are kept in the session for its transaction only, so
# that a change committed since is always seen by the next one, and until the session
# writes anything itself (a membership it changes is read again).
_MEMO = "access_memo"


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, _transaction: object) -> None:
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _forget_written(session: Session, _context: object) -> None:
    session.info.pop(_MEMO, None)


# Built once: asked by every request (building a statement costs more than running it).
_ROLE = select(Membership.role).where(
    Membership.study_id == bindparam("study"), Membership.user_id == bindparam("user")
)
_OWN_COUNSELLORS = select(Counsellor.id).where(
    Counsellor.study_id == bindparam("study"), Counsellor.user_id == bindparam("user")
)


def _memo(session: Session) -> dict[tuple[object, ...], object]:
    memo: dict[tuple[object, ...], object] = session.info.setdefault(_MEMO, {})
    return memo


def study_role(session: Session, user: User, study_id: int) -> str | None:
    """`admin`, the membership role, or None when the user has no access to the study."""
    if user.role == ADMIN:
        return ADMIN
    memo = _memo(session)
    key = ("role", user.id, study_id)
    if key not in memo:
        memo[key] = session.exec(_ROLE, params={"study": study_id, "user": user.id}).first()
    return cast(str | None, memo[key])


def require_study(session: Session, user: User, study_id: int, *, manage: bool = False) -> Study:
    """The study, if the user is a member; with `manage`, only its researchers (and admins)."""
    study = session.get(Study, study_id)
    role = study_role(session, user, study_id) if study is not None else None
    if study is None or role is None:
        raise NotFound(f"Aucune étude n° {study_id}.")
    if manage and role not in (ADMIN, RESEARCHER):
        raise Forbidden("Seuls les chercheurs de l'étude peuvent faire cela.")
    return study


def require_round(session: Session, user: User, round_id: int) -> CodingRound:
    """A coding round, for the researchers (and admins) of its study; 404 for anyone else."""
    found = session.get(CodingRound, round_id)
    if found is None or not sees_everything(session, user, found.study_id):
        raise NotFound(f"Aucun tour de codage n° {round_id}.")
    return found


def own_counsellor_ids(session: Session, user: User, study_id: int) -> list[int]:
    memo = _memo(session)
    key = ("counsellors", user.id, study_id)
    if key not in memo:
        ids = session.exec(_OWN_COUNSELLORS, params={"study": study_id, "user": user.id}).all()
        memo[key] = [i for i in ids if i is not None]
    return list(cast(list[int], memo[key]))


def sees_everything(session: Session, user: User, study_id: int) -> bool:
    return study_role(session, user, study_id) in (ADMIN, RESEARCHER)


def _role_over(session: Session, user: User, owned: Recording | Interview | None) -> str | None:
    """The user's role over a recording or an interview, None when they may not see it (a
    counsellor sees only those of their own counsellor record)."""
    if owned is None:
        return None
    role = study_role(session, user, owned.study_id)
    if role == COUNSELLOR and owned.counsellor_id not in own_counsellor_ids(
        session, user, owned.study_id
    ):
        return None
    return role


def require_recording(
    session: Session, user: User, recording_id: int, *, manage: bool = False
) -> Recording:
    """The recording, if the user may see it; with `manage` (process again, stop, delete),
    only the study's researchers (and admins)."""
    recording = session.get(Recording, recording_id)
    role = _role_over(session, user, recording)
    if recording is None or role is None:
        raise NotFound(f"Aucun enregistrement n° {recording_id}.")
    if manage and role not in (ADMIN, RESEARCHER):
        raise Forbidden("Seuls les chercheurs de l'étude peuvent faire cela.")
    return recording


def visible_recording_filter(session: Session, user: User, study_id: int) -> list[int] | None:
    """None when every recording of the study is visible, else the counsellor ids allowed."""
    if sees_everything(session, user, study_id):
        return None
    return own_counsellor_ids(session, user, study_id)


def require_interview(session: Session, user: User, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id)
    if interview is None or _role_over(session, user, interview) is None:
        raise NotFound(f"Aucun entretien n° {interview_id}.")
    return interview


def require_live_session(session: Session, user: User, session_id: int) -> LiveSession:
    """The live session, if the user may see its interview (a counsellor: their own), else,
    for a session without one, its recording: the same rule, whichever recording it shows."""
    live = session.get(LiveSession, session_id)
    try:
        if live is None:
            raise NotFound("")
        if live.interview_id is not None:
            require_interview(session, user, live.interview_id)
        else:
            require_recording(session, user, live.recording_id)
    except NotFound:
        raise NotFound(f"Aucune session n° {session_id}.") from None
    return live


def require_codebook(
    session: Session, user: User, codebook_id: int, *, manage: bool = False
) -> Codebook:
    codebook = session.get(Codebook, codebook_id)
    if codebook is None or study_role(session, user, codebook.study_id) is None:
        raise NotFound(f"Aucun livre de codes n° {codebook_id}.")
    require_study(session, user, codebook.study_id, manage=manage)
    return codebook


def require_code(session: Session, user: User, code_id: int, *, manage: bool = False) -> Code:
    code = session.get(Code, code_id)
    if code is None:
        raise NotFound(f"Aucun code n° {code_id}.")
    try:
        require_codebook(session, user, code.codebook_id, manage=manage)
    except NotFound:
        raise NotFound(f"Aucun code n° {code_id}.") from None
    return code


def require_annotation(
    session: Session, user: User, annotation_id: int, *, edit: bool = False
) -> Annotation:
    """The annotation; with `edit`, only its author or a researcher of the study. What the
    user may not see (someone else's private mark, coding hidden from a counsellor) is
    unknown (404), as if it did not exist."""
    return require_annotation_and_recording(session, user, annotation_id, edit=edit)[0]


def require_annotation_and_recording(
    session: Session, user: User, annotation_id: int, *, edit: bool = False
) -> tuple[Annotation, Recording]:
    """`require_annotation`, and its recording (the session keeps loaded objects only while
    they are used: asked again, the recording would be read again)."""
    annotation = session.get(Annotation, annotation_id)
    unknown = NotFound(f"Aucune annotation n° {annotation_id}.")
    if annotation is None:
        raise unknown
    try:
        recording = require_recording(session, user, annotation.recording_id)
    except NotFound:
        raise unknown from None
    if not annotation_scope(session, user, recording.study_id).sees(annotation):
        raise unknown
    if (
        edit
        and annotation.author_id != user.id
        and not sees_everything(session, user, recording.study_id)
    ):
        raise Forbidden("Vous ne pouvez modifier que vos propres annotations.")
    return annotation, recording


def visible_study_ids(session: Session, user: User) -> list[int] | None:
    """None for admins (every study), else the ids of the user's studies."""
    if user.role == ADMIN:
        return None
    return list(
        session.exec(select(col(Membership.study_id)).where(Membership.user_id == user.id)).all()
    )


@dataclass(frozen=True)
class AnnotationScope:
    """Which annotations of a recording a user sees (the recording itself being visible)."""

    user_id: int | None
    counsellor: bool
    co_validation: bool
    # A counsellor's: the codes they may see on a stop someone else made (the principles).
    principle_codes: frozenset[int] = frozenset()

    def clause(self) -> ColumnElement[bool]:
        """The rule as a WHERE clause on `annotation`."""
        own = col(Annotation.author_id) == self.user_id
        shown = col(Annotation.shown_to_counsellor).is_(True)
        if not self.counsellor:
            return or_(col(Annotation.shared).is_(True), own)
        coding = (
            # Not while a blind round holds it (unshared): shown once the round is revealed.
            and_(col(Annotation.layer).in_(CODING_LAYERS), shown, col(Annotation.shared).is_(True))
            if self.co_validation
            else false()
        )
        return or_(
            col(Annotation.layer).in_(COUNSELLOR_LAYERS),
            and_(col(Annotation.layer) == "prepared", or_(own, shown)),
            coding,
        )

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers (timeline rows) this user sees anything on."""
        if not self.counsellor:
            return LAYERS
        coding = CODING_LAYERS if self.co_validation else ()
        return tuple(
            layer for layer in LAYERS if layer in ("prepared", *COUNSELLOR_LAYERS, *coding)
        )

    @property
    def annotator_layers(self) -> tuple[str, ...]:
        """The layers this user writes on in the annotator (a counsellor's stops are made in
        the live session)."""
        if not self.counsellor:
            return tuple(layer for layer in LAYERS if layer != "transcript")
        return ("prepared",)

    @property
    def codebook_kinds(self) -> tuple[str, ...] | None:
        """The codebooks whose codes this user sees on their pages (None: all)."""
        if not self.counsellor:
            return None
        return COUNSELLOR_CODEBOOKS + (
            ("schemes", "phases", "categories") if self.co_validation else ()
        )

    def shown(self, view: AnnotationView) -> AnnotationView:
        """What of a visible annotation this user gets: a counsellor gets a stop someone else
        made without its codes (but principles), note, fields or quotes, unless a researcher
        showed it to them: the researchers' reading of a moment is theirs."""
        if (
            not self.counsellor
            or view.layer != "stops"
            or view.author_id == self.user_id
            or view.shown_to_counsellor
        ):
            return view
        codes = [c for c in view.code_ids if c in self.principle_codes]
        return replace(view, code_ids=codes, note="", fields={}, verbatims=[])

    def sees(self, annotation: Annotation) -> bool:
        """The same rule, on one loaded annotation."""
        own = annotation.author_id == self.user_id
        if not self.counsellor:
            return annotation.shared or own
        if annotation.layer in COUNSELLOR_LAYERS:
            return True
        if annotation.layer == "prepared":
            return own or annotation.shown_to_counsellor
        return (
            self.co_validation
            and annotation.layer in CODING_LAYERS
            and annotation.shown_to_counsellor
            and annotation.shared
        )


# What a counsellor sees of every annotation of their recordings: the stops (they choose
# them) and the transcript.
COUNSELLOR_LAYERS = ("stops", "transcript")
# What a counsellor may write: stops and their own marks.
COUNSELLOR_WRITABLE_LAYERS = ("prepared", "stops")
# Codes a counsellor may put on their marks: the principles to question, not the coding.
COUNSELLOR_CODEBOOKS = ("principles",)


def annotation_scope(session: Session, user: User, study_id: int) -> AnnotationScope:
    if sees_everything(session, user, study_id):
        return AnnotationScope(user.id, False, False)
    study = session.get(Study, study_id)
    principles = session.exec(
        select(Code.id)
        .join(Codebook, col(Codebook.id) == Code.codebook_id)
        .where(Codebook.study_id == study_id, col(Codebook.kind).in_(list(COUNSELLOR_CODEBOOKS)))
    ).all()
    return AnnotationScope(
        user.id, True, bool(study and study.co_validation), frozenset(i for i in principles if i)
    )


def write_limits(session: Session, user: User, study_id: int) -> WriteLimits | None:
    """None for the study's researchers (they write everywhere); for a counsellor, the
    layers and codebooks they may write with, and no showing to anyone."""
    if sees_everything(session, user, study_id):
        return None
    return WriteLimits(COUNSELLOR_WRITABLE_LAYERS, COUNSELLOR_CODEBOOKS)


@dataclass(frozen=True)
class CoValidationRole:
    """A user's part in the co-validation of a recording they see."""

    # A researcher of the study (or an admin): reads every verdict with who said what,
    # enters one on the counsellor's behalf, reads codes into the counsellor's words.
    researcher: bool
    # Who says the verdicts: the account of the recording's counsellor (None: none).
    said_by: int | None

    def reads_answer(self, said_by_id: int | None) -> bool:
        """Whether this reader reads (and may change) an answer said by `said_by_id`: the
        researchers every answer; a counsellor their own only (the recording may have had
        another counsellor, whose words are theirs)."""
        return self.researcher or said_by_id is None or said_by_id == self.said_by


def covalidation_role(session: Session, user: User, recording: Recording) -> CoValidationRole:
    """The user's part in the co-validation of `recording`, which they see
    (`require_recording`): its study's researchers, or its counsellor (the only counsellor
    who sees it), who gives their own verdicts and never sees the codes the researchers read
    into them, nor any figure."""
    if sees_everything(session, user, recording.study_id):
        counsellor = session.get(Counsellor, recording.counsellor_id or 0)
        return CoValidationRole(True, counsellor.user_id if counsellor else None)
    return CoValidationRole(False, user.id)


def require_covalidation_segment(
    session: Session,
    user: User,
    recording: Recording,
    annotation_id: int,
    *,
    proposes: bool = False,
    removing: bool = False,
) -> tuple[Annotation, CoValidationRole]:
    """A segment of `recording` (which the user sees) that its counsellor gives a verdict on,
    with the user's part: Conflict while the study has co-validation off or the recording
    has no counsellor; unknown (404) when the user does not see it; Invalid for what is not
    a coding segment; Conflict while it is not shown to the counsellor (but for a researcher
    `removing` an answer) or while another counsellor's answer is there; with `proposes`
    (codes read into the counsellor's words), only the study's researchers (403)."""
    study = session.get(Study, recording.study_id)
    if study is None or not study.co_validation:
        raise Conflict(
            "La co-validation n'est pas activée pour cette étude : un chercheur l'active dans "
            "les réglages de l'étude."
        )
    if recording.counsellor_id is None:
        raise Conflict("Cet enregistrement n'a pas de conseiller : personne ne co-valide.")
    annotation = session.get(Annotation, annotation_id)
    if (
        annotation is None
        or annotation.recording_id != recording.id
        or not annotation_scope(session, user, recording.study_id).sees(annotation)
    ):
        raise NotFound(f"Aucune annotation n° {annotation_id}.")
    if annotation.layer not in CODING_LAYERS or annotation.end_ms is None:
        raise Invalid(
            f"L'annotation n° {annotation_id} n'est pas un segment codé (schèmes, consensus, "
            "phases ou catégories) : on ne co-valide que ceux-là."
        )
    role = covalidation_role(session, user, recording)
    if not (annotation.shown_to_counsellor and annotation.shared) and not (
        removing and role.researcher
    ):
        if annotation.shown_to_counsellor:  # held by a blind coding round
            raise Conflict(
                "Ce segment est retenu par un tour de codage en aveugle : le conseiller le "
                "verra quand chaque codeur aura terminé."
            )
        raise Conflict(
            "Ce segment n'est pas montré au conseiller : cochez d'abord « Montrer au "
            "conseiller » dans le panneau du segment."
        )
    if proposes and not role.researcher:
        raise Forbidden("Seuls les chercheurs de l'étude peuvent associer des codes à ces mots.")
    answer = session.exec(
        select(CoValidation).where(CoValidation.annotation_id == annotation.id)
    ).first()
    if answer is not None and not role.reads_answer(answer.said_by_id):
        raise Conflict(
            "Un autre conseiller a déjà répondu sur ce moment : seul un chercheur de l'étude "
            "peut retirer sa réponse."
        )
    return annotation, role


def require_admin(user: User) -> None:
    """Accounts and the audit log are the administrators' (403 for anyone else signed in)."""
    if user.role != ADMIN:
        raise Forbidden("Réservé aux administrateurs.")


def require_metrics_reader(configured_token: str, authorization: str | None) -> None:
    """The metrics are the monitoring system's: the `AUTOCONF_METRICS_TOKEN` it sends, no
    user's credential (they say when sessions take place). None configured: no metrics."""
    if not configured_token:
        raise NotFound("Les métriques ne sont pas activées (AUTOCONF_METRICS_TOKEN).")
    scheme, _, sent = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        sent.strip().encode(), configured_token.encode()
    ):
        raise NotAuthenticated("Jeton des métriques absent ou incorrect.")


def study_role_of(session: Session, username: str, study_id: int) -> str | None:
    """The membership role of the account named `username` in the study, or None."""
    return session.exec(
        select(Membership.role)
        .join(User, col(User.id) == Membership.user_id)
        .where(Membership.study_id == study_id, User.username == username)
    ).first()


def require_consent(
    session: Session, user: User, consent_id: int, *, manage: bool = False
) -> Consent:
    """The consent, if the user may see its recording; with `manage` (record, withdraw), only
    the study's researchers (and admins). Unknown or invisible: 404 alike."""
    consent = session.get(Consent, consent_id)
    try:
        if consent is None:
            raise NotFound("")
        require_recording(session, user, consent.recording_id, manage=manage)
    except NotFound:
        raise NotFound(f"Aucun consentement n° {consent_id}.") from None
    return consent


def require_stop(session: Session, user: User, stop_id: int) -> LiveStop:
    """A live session's stop, if the user may see its session; else unknown (404)."""
    stop = session.get(LiveStop, stop_id)
    try:
        if stop is None:
            raise NotFound("")
        require_live_session(session, user, stop.session_id)
    except NotFound:
        raise NotFound(f"Aucun arrêt n° {stop_id}.") from None
    return stop


def sees_comment(session: Session, user: User, comment: LiveComment, study_id: int) -> bool:
    """Researchers see every comment; a counsellor, the words said as theirs and what they
    typed themselves, never the researchers' notes."""
    return (
        sees_everything(session, user, study_id)
        or comment.speaker == COUNSELLOR
        or comment.author_id == user.id
    )


def require_comment(session: Session, user: User, comment_id: int) -> LiveComment:
    """A comment made at a stop, if the user may see it; else unknown (404)."""
    comment = session.get(LiveComment, comment_id)
    unknown = NotFound(f"Aucun commentaire n° {comment_id}.")
    if comment is None:
        raise unknown
    try:
        stop = require_stop(session, user, comment.stop_id)
    except NotFound:
        raise unknown from None
    live = session.get(LiveSession, stop.session_id)
    if live is None or not sees_comment(session, user, comment, live.study_id):
        raise unknown
    return comment


def require_live_code(session: Session, user: User, live: LiveSession) -> LiveSession:
    """A session found by its join code, if the user may see it; else the answer of an
    unknown code (a code that works for someone else is not confirmed)."""
    try:
        return require_live_session(session, user, live.id or 0)
    except NotFound:
        raise NotFound(UNKNOWN_CODE) from None


UNKNOWN_CODE = "Aucune session en cours avec ce code : vérifiez-le auprès du chercheur."
