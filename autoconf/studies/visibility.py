"""Which annotations a user sees, recording by recording, and how: the rule of
`access.AnnotationScope`, a counsellor's view of someone else's stop, and the transcript
only where consent lets the recording's content be shown. One rule for the annotation list,
the ELAN file and the study's table of annotations."""

from dataclasses import dataclass

from sqlmodel import Session

from autoconf.consent import records as consent
from autoconf.models import Recording, User
from autoconf.schemes.annotations import AnnotationView, list_annotations
from autoconf.studies import access
from autoconf.studies.recordings import list_recordings


def recording_annotations(
    session: Session,
    user: User,
    recording: Recording,
    scope: access.AnnotationScope | None = None,
) -> list[AnnotationView]:
    """The annotations of `recording` (visible to `user`) that `user` may see, as they may
    see them, in time order."""
    scope = scope or access.annotation_scope(session, user, recording.study_id)
    views = list_annotations(session, recording.id or 0, scope.clause())
    if not consent.content_allowed(session, recording):  # the transcript is its content
        views = [view for view in views if view.layer != "transcript"]
    return [scope.shown(view) for view in views]


@dataclass(frozen=True)
class StudyAnnotations:
    """Every recording of a study the user sees (by code), each with the annotations they
    see; the codebooks whose codes their pages show (None: all)."""

    recordings: list[tuple[Recording, list[AnnotationView]]]
    codebook_kinds: tuple[str, ...] | None


def study_annotations(session: Session, user: User, study_id: int) -> StudyAnnotations:
    """What `user`, a member of the study, sees of its annotations (a counsellor: on their
    own recordings, never the researchers' coding unless shown to them)."""
    scope = access.annotation_scope(session, user, study_id)
    recordings = list_recordings(session, user, study_id)
    return StudyAnnotations(
        [(r, recording_annotations(session, user, r, scope)) for r in recordings],
        scope.codebook_kinds,
    )
