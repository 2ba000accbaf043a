"""Erasure of a recording, or of a whole study: every row that holds or points at it, every
file made from it (`studies/disposal.py`: when and how the files go), what the live
sessions said about it; one audit entry stays, written in the same transaction.

On SQLite, `secure_delete` (db.py) zeroes what is deleted in the database file, and
`checkpoint` then empties the write-ahead log, which still holds the pages as they were.
"""

import logging
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, or_
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, delete, select, update
from sqlmodel.sql.expression import SelectOfScalar

from autoconf.audit import log as audit_log
from autoconf.db import is_sqlite
from autoconf.errors import Invalid, NotFound
from autoconf.live import sessions as live_sessions
from autoconf.media.store import Store
from autoconf.models import (
    Annotation,
    Code,
    Codebook,
    ConsensusDecision,
    Consent,
    Counsellor,
    CoValidation,
    Interview,
    InterviewRecording,
    LiveComment,
    LiveEvent,
    LiveSession,
    LiveStop,
    Membership,
    Recording,
    Structure,
    Study,
)
from autoconf.studies.disposal import Disposal, file_stats, folders

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class RecordingContents:
    """What erasing a recording removes (or removed): for the confirmation, the answer and,
    without the ids, the audit entry (codes and counts, never content)."""

    recording_id: int
    study_id: int
    code: str
    annotations: int  # marks, coding, notes: all layers, all authors, private marks too
    stops: int
    comments: int
    transcript_cues: int
    consensus_decisions: int
    covalidations: int  # the counsellor's verdicts on the segments shown to them
    consents: int
    interviews: int  # the interviews it belongs to (the links go, the interviews stay)
    live_sessions_moved: int  # to another recording of their interview
    live_sessions_erased: int  # shown on it, with no other recording to go to
    files: int
    bytes: int

    def detail(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("recording_id", "study_id")}


@dataclass(frozen=True)
class StudyContents:
    """What erasing a study removes (or removed); the audit entry keeps the counts only
    (the study's name was typed by people)."""

    study_id: int
    name: str
    recordings: int
    members: int
    counsellors: int
    structures: int
    interviews: int
    codebooks: int
    codes: int
    annotations: int
    stops: int
    comments: int
    transcript_cues: int
    consensus_decisions: int
    covalidations: int
    consents: int
    live_sessions: int
    files: int
    bytes: int

    def detail(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("study_id", "name")}


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database and truncate it, so that the pages
    as they were before the erasure no longer sit in the -wal file. Nothing elsewhere."""
    if not is_sqlite(engine):
        return
    try:
        with engine.connect() as connection:
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    except OperationalError:  # the erasure is committed: the next checkpoint will do
        busy = None
    if busy is None or busy[0]:
        log.warning("the write-ahead log could not be truncated after an erasure (busy)")


def matches(typed: str, expected: str) -> bool:
    """Whether what the user typed to confirm is the code (or name): spaces and case aside."""

    def plain(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).split()).casefold()

    return bool(typed.strip()) and plain(typed) == plain(expected)


def recording_contents(session: Session, store: Store, recording: Recording) -> RecordingContents:
    """What erasing `recording` will remove."""
    assert recording.id is not None
    rid = recording.id
    counts = _annotation_counts(session, [rid])
    moved = erased = 0
    for live in session.exec(select(LiveSession).where(LiveSession.recording_id == rid)).all():
        others = live_sessions.interview_recordings(session, live.interview_id)
        if any(other.id != rid for other in others):
            moved += 1
        else:
            erased += 1
    files, size = file_stats(store, folders([recording]))
    return RecordingContents(
        recording_id=rid,
        study_id=recording.study_id,
        code=recording.code,
        **counts,
        consents=_count(session, select(func.count()).where(Consent.recording_id == rid)),
        interviews=_count(
            session, select(func.count()).where(InterviewRecording.recording_id == rid)
        ),
        live_sessions_moved=moved,
        live_sessions_erased=erased,
        files=files,
        bytes=size,
    )


def study_contents(session: Session, store: Store, study: Study) -> StudyContents:
    """What erasing `study` will remove."""
    assert study.id is not None
    sid = study.id
    recordings = list(session.exec(select(Recording).where(Recording.study_id == sid)).all())
    ids = [r.id for r in recordings if r.id is not None]
    files, size = file_stats(store, folders(recordings))
    codebooks = select(Codebook.id).where(Codebook.study_id == sid)

    def per_study(model: Any) -> int:
        return _count(session, select(func.count()).where(model.study_id == sid))

    return StudyContents(
        study_id=sid,
        name=study.name,
        recordings=len(ids),
        members=per_study(Membership),
        counsellors=per_study(Counsellor),
        structures=per_study(Structure),
        interviews=per_study(Interview),
        codebooks=per_study(Codebook),
        codes=_count(session, select(func.count()).where(col(Code.codebook_id).in_(codebooks))),
        **_annotation_counts(session, ids),
        consents=_count(
            session, select(func.count()).where(col(Consent.recording_id).in_(ids or [0]))
        ),
        live_sessions=per_study(LiveSession),
        files=files,
        bytes=size,
    )


def erase_recording(
    session: Session,
    disposal: Disposal,
    actor: audit_log.Actor,
    recording_id: int,
    confirm: str | None = None,
) -> RecordingContents:
    """Erase the recording (re-read here, under the write lock; NotFound when already
    erased) and leave one audit entry; its folder set aside. `confirm`: what the user typed,
    checked against the code again. The caller commits, then calls `disposal.remove()`."""
    recording = _locked(session, Recording, recording_id)
    if recording is None:
        raise NotFound(f"Aucun enregistrement n° {recording_id}.")
    if confirm is not None and not matches(confirm, recording.code):
        raise Invalid(f"Le code tapé n'est pas « {recording.code} » : rien n'a été effacé.")
    contents = recording_contents(session, disposal.store, recording)
    _forget_live_events(session, recording_id)
    live_sessions.recording_gone(session, recording_id)
    session.exec(
        update(Interview)
        .where(col(Interview.ac_recording_id) == recording_id)
        .values(ac_recording_id=None, ac_started_at=None)
    )
    # The database cascades the rest: annotations, their codes, stops, comments, agenda
    # rows, consents, interview links, the job, the live sessions left on it.
    gone = session.exec(delete(Recording).where(col(Recording.id) == recording_id))
    if gone.rowcount != 1:
        raise NotFound(f"Aucun enregistrement n° {recording_id}.")
    audit_log.record(
        session,
        actor,
        audit_log.ERASE_RECORDING,
        study_id=recording.study_id,
        recording_id=recording_id,
        object_type="recording",
        object_id=recording_id,
        **contents.detail(),
    )
    session.flush()
    _set_aside(disposal, [recording])
    return contents


def erase_study(
    session: Session,
    disposal: Disposal,
    actor: audit_log.Actor,
    study_id: int,
    confirm: str | None = None,
) -> StudyContents:
    """Erase the study and everything in it (re-read here; NotFound when already erased),
    leaving one audit entry; the recordings' folders set aside. `confirm`: the study's name
    as typed. The caller commits, then calls `disposal.remove()`."""
    study = _locked(session, Study, study_id)
    if study is None:
        raise NotFound(f"Aucune étude n° {study_id}.")
    if confirm is not None and not matches(confirm, study.name):
        raise Invalid(f"Le nom tapé n'est pas « {study.name} » : rien n'a été effacé.")
    contents = study_contents(session, disposal.store, study)
    recordings = list(session.exec(select(Recording).where(Recording.study_id == study_id)).all())
    # Sessions first, so that none moves to another recording on the way; the database
    # cascades the rest (members, counsellors, structures, interviews, codebooks, codes,
    # and each recording's annotations, stops, comments, consents, job).
    session.exec(delete(LiveSession).where(col(LiveSession.study_id) == study_id))
    session.exec(delete(Recording).where(col(Recording.study_id) == study_id))
    gone = session.exec(delete(Study).where(col(Study.id) == study_id))
    if gone.rowcount != 1:
        raise NotFound(f"Aucune étude n° {study_id}.")
    audit_log.record(
        session,
        actor,
        audit_log.ERASE_STUDY,
        study_id=study_id,
        object_type="study",
        object_id=study_id,
        **contents.detail(),
    )
    session.flush()
    _set_aside(disposal, recordings)
    return contents


def _locked(session: Session, model: type[Recording] | type[Study], object_id: int) -> Any:
    """The row, read again and locked (PostgreSQL; SQLite has its write lock): a concurrent
    erasure of the same thing waits, then finds nothing."""
    return session.exec(
        select(model)
        .where(col(model.id) == object_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _set_aside(disposal: Disposal, recordings: list[Recording]) -> None:
    for recording in recordings:
        disposal.recording_ids.append(recording.id or 0)
    for name in folders(recordings):
        disposal.set_aside(name)


def _count(session: Session, query: SelectOfScalar[int]) -> int:
    return int(session.exec(query).one())


def _annotation_counts(session: Session, recording_ids: list[int]) -> dict[str, int]:
    """Annotations (without stops and cues), stops, comments, transcript cues, consensus
    decisions and co-validation verdicts."""
    if not recording_ids:
        return dict.fromkeys(
            (
                "annotations",
                "stops",
                "comments",
                "transcript_cues",
                "consensus_decisions",
                "covalidations",
            ),
            0,
        )
    on = col(Annotation.recording_id).in_(recording_ids)
    total = _count(session, select(func.count()).select_from(Annotation).where(on))
    cues = _count(
        session,
        select(func.count()).select_from(Annotation).where(on, Annotation.layer == "transcript"),
    )
    stops = _count(
        session,
        select(func.count())
        .select_from(LiveStop)
        .join(Annotation, col(Annotation.id) == LiveStop.annotation_id)
        .where(on),
    )
    comments = _count(
        session,
        select(func.count())
        .select_from(LiveComment)
        .join(Annotation, col(Annotation.id) == LiveComment.stop_id)
        .where(on),
    )
    decisions = _count(
        session,
        select(func.count()).where(col(ConsensusDecision.recording_id).in_(recording_ids)),
    )
    verdicts = _count(
        session,
        select(func.count())
        .select_from(CoValidation)
        .join(Annotation, col(Annotation.id) == CoValidation.annotation_id)
        .where(on),
    )
    return {
        "annotations": total - cues - stops,
        "stops": stops,
        "comments": comments,
        "transcript_cues": cues,
        "consensus_decisions": decisions,
        "covalidations": verdicts,
    }


def _forget_live_events(session: Session, recording_id: int) -> None:
    """The events of live sessions that stay (moved to another recording of their
    interview) which speak of the erased recording: its playhead, its stops, what was said
    there (a comment's event carries its text) and its prepared moments on the agenda."""
    erased = set(
        session.exec(select(Annotation.id).where(Annotation.recording_id == recording_id)).all()
    )
    interviews = select(InterviewRecording.interview_id).where(
        InterviewRecording.recording_id == recording_id
    )
    stopped_there = (
        select(LiveStop.session_id)
        .join(Annotation, col(Annotation.id) == LiveStop.annotation_id)
        .where(Annotation.recording_id == recording_id)
    )
    concerned = select(LiveSession.id).where(
        or_(
            col(LiveSession.recording_id) == recording_id,
            col(LiveSession.interview_id).in_(interviews),
            col(LiveSession.id).in_(stopped_there),
        )
    )
    events = session.exec(
        select(LiveEvent.id, LiveEvent.payload).where(col(LiveEvent.session_id).in_(concerned))
    ).all()
    # Stops of the recording deleted before: known only from their events (a comment event
    # names its stop, not its recording).
    for _, payload in events:
        for key in ("stop", "stop_deleted"):
            part = payload.get(key) if isinstance(payload, dict) else None
            if isinstance(part, dict) and part.get("recording_id") == recording_id:
                erased.add(part.get("id"))
    doomed = [eid for eid, payload in events if _speaks_of(payload, recording_id, erased)]
    for start in range(0, len(doomed), BATCH):
        batch = doomed[start : start + BATCH]
        session.exec(delete(LiveEvent).where(col(LiveEvent.id).in_(batch)))


# Where an event's payload names an annotation: the stop made, edited or deleted, the stop a
# comment belongs to, the prepared moment on the agenda.
_ANNOTATION_REFERENCES = (
    ("stop", "id"),
    ("stop_deleted", "id"),
    ("comment", "stop_id"),
    ("comment_deleted", "stop_id"),
    ("agenda", "prepared_id"),
)


def _speaks_of(payload: Any, recording_id: int, annotation_ids: set[int | None]) -> bool:
    if not isinstance(payload, dict):
        return False
    if payload.get("recording_id") == recording_id:
        return True
    stop = payload.get("stop")
    if isinstance(stop, dict) and stop.get("recording_id") == recording_id:
        return True
    for key, name in _ANNOTATION_REFERENCES:
        part = payload.get(key)
        if isinstance(part, dict) and part.get(name) in annotation_ids:
            return True
    return False
