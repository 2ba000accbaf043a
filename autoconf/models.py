"""Tables of autoconf (SQLModel). The schema itself is written only by Alembic migrations.

Each entity has its family of classes: `XBase` (shared fields), `X` (the table), and, in
`autoconf.payloads`, `XCreate`, `XUpdate`, `XPublic` for the API.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, MetaData, String, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Named constraints, so that migrations can address them on SQLite and PostgreSQL alike.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ROLES = ("admin", "researcher", "counsellor")
GENDERS = ("feminine", "masculine", "")
STUDY_ROLES = ("researcher", "counsellor")
CODEBOOK_KINDS = ("schemes", "categories", "phases", "principles")
RECORDING_STATUSES = ("uploaded", "queued", "processing", "ready", "failed")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
ANNOTATION_ORIGINS = ("prepared", "stop", "coding", "transcript", "import")
# The tracks of a recording's timeline, top to bottom (ELAN's tiers): where an annotation is
# drawn. A code of any codebook may be applied on any layer.
LAYERS = ("prepared", "stops", "schemes", "consensus", "phases", "categories", "transcript")
# The researchers' analysis: a counsellor never sees these layers (the method: they are not
# scored), except segments shown to them when their study turns co-validation on.
CODING_LAYERS = ("schemes", "consensus", "phases", "categories")
CONSENT_PARTIES = ("counsellor", "beneficiary")
CONSENT_SCOPES = ("research", "training")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        **kwargs,
    )


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(default="", max_length=200)
    role: str = Field(sa_type=String(16))
    password_hash: str = Field(max_length=255)
    language: str | None = Field(default=None, max_length=8)
    # Marking a moment while playing lands this long before the key press (reaction time).
    reaction_offset_ms: int = 0
    # How French labels speak of this person: "feminine" (conseillère, chercheuse),
    # "masculine" (conseiller, chercheur) or "" (neutral: conseiller·e, chercheur·e).
    gender: str = Field(default="", sa_type=String(16))
    # An account created with a one-time password: its owner is asked to choose their own.
    must_change_password: bool = False
    is_active: bool = True
    created_at: datetime = _timestamp()


class AuthToken(SQLModel, table=True):
    """A login session (cookie) or a personal API token; only its sha256 is stored."""

    __tablename__ = "auth_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    kind: str = Field(sa_type=String(16))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(default="", max_length=200)
    created_at: datetime = _timestamp()
    expires_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
    )


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, kept for the throttling window: the counts per account and per
    address live in the database, so they survive a restart and every process sees them."""

    __tablename__ = "login_failure"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=String(64), index=True)
    address: str = Field(sa_type=String(64), index=True)
    at: datetime = _timestamp(index=True)


class Study(SQLModel, table=True):
    # Ids never come back after an erasure: an audit entry never points at a later study.
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    description: str = ""
    # Counsellors see the coding segments a researcher shows them (off: they see none).
    co_validation: bool = False
    # Without research consent from both parties, a recording is not played nor exported.
    consent_required: bool = True
    # The pattern the codes of recordings, counsellors and interviews must follow (a Python
    # regular expression matched in full; empty: any code), and an example shown with it.
    code_pattern: str = Field(default="", max_length=200)
    code_example: str = Field(default="", max_length=64)
    created_at: datetime = _timestamp()


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    role: str = Field(sa_type=String(16))


class Structure(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=200)
    centre: str = Field(default="", max_length=200)


class Counsellor(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    structure_id: int | None = Field(
        default=None, foreign_key="structure.id", index=True, ondelete="SET NULL"
    )
    user_id: int | None = Field(
        default=None, foreign_key="app_user.id", index=True, ondelete="SET NULL"
    )


class Recording(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "code"), {"sqlite_autoincrement": True})
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    counsellor_id: int | None = Field(
        default=None, foreign_key="counsellor.id", index=True, ondelete="SET NULL"
    )
    # "session": a counselling session (a column of the tables); "autoconfrontation": the
    # recording of an interview itself (kept out of the tables of the sessions).
    category: str = Field(default="session", sa_type=String(32))
    status: str = Field(default="uploaded", sa_type=String(16))
    error: str | None = None
    original_filename: str = Field(default="", max_length=255)
    original_size: int = 0
    original_sha256: str = Field(default="", max_length=64)
    media_type: str = Field(default="", max_length=100)
    storage_key: str = Field(default="", max_length=500)
    duration_ms: int | None = None
    # What ffprobe found (container, streams, codecs, rotation…), see autoconf.media.probe.
    media_info: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The browser-ready files, relative to the media folder; empty until processed.
    proxy_key: str = Field(default="", max_length=500)
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = _timestamp()


class MediaJob(SQLModel, table=True):
    """The processing of one recording (probe, proxy, derived files): one row per recording,
    claimed by a worker, its heartbeat and progress written as it runs."""

    __tablename__ = "media_job"
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", unique=True, ondelete="CASCADE")
    status: str = Field(default="queued", sa_type=String(16), index=True)
    stage: str = Field(default="", max_length=32)
    progress: float = 0.0
    attempts: int = 0
    worker: str = Field(default="", max_length=100)
    error: str | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TranscriptionJob(SQLModel, table=True):
    """The automatic transcription of one recording (`autoconf.transcribe`): one row per
    recording, claimed by a worker like a media job, its heartbeat and progress written as
    the model runs; what it finds lands in `draft_cue`."""

    __tablename__ = "transcription_job"
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", unique=True, ondelete="CASCADE")
    status: str = Field(default="queued", sa_type=String(16), index=True)
    stage: str = Field(default="", max_length=32)
    progress: float = 0.0
    attempts: int = 0
    worker: str = Field(default="", max_length=100)
    error: str | None = None
    model: str = Field(default="", max_length=200)  # what ran, for the draft's mention
    requested_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DraftCue(SQLModel, table=True):
    """A cue of a recording's automatic transcript, until the researcher validates the
    draft (it then becomes the transcript: annotations of origin `transcript`)."""

    __tablename__ = "draft_cue"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", index=True, ondelete="CASCADE")
    start_ms: int
    end_ms: int
    speaker: str = Field(default="", max_length=100)
    text: str = ""
    # The model's words, [[start_ms, end_ms, text], …]: a split at a word takes its time.
    words: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = 1
    updated_at: datetime = _timestamp()


class Interview(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "code"), {"sqlite_autoincrement": True})
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    code: str = Field(max_length=64)
    counsellor_id: int | None = Field(
        default=None, foreign_key="counsellor.id", index=True, ondelete="SET NULL"
    )
    notes: str = ""
    # The interview's own recording, and the wall-clock time its 0 corresponds to: a stop at
    # wall-clock time w is at w - ac_started_at in it.
    ac_recording_id: int | None = Field(
        default=None, foreign_key="recording.id", ondelete="SET NULL"
    )
    ac_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _timestamp()


class InterviewRecording(SQLModel, table=True):
    __tablename__ = "interview_recording"
    interview_id: int = Field(foreign_key="interview.id", primary_key=True, ondelete="CASCADE")
    recording_id: int = Field(
        foreign_key="recording.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    position: int = 0


class Codebook(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    kind: str = Field(sa_type=String(16))
    name: str = Field(max_length=200)
    position: int = 0


class Code(SQLModel, table=True):
    """A node of a codebook; identified by its path of labels, not by its label alone."""

    id: int | None = Field(default=None, primary_key=True)
    codebook_id: int = Field(foreign_key="codebook.id", index=True, ondelete="CASCADE")
    parent_id: int | None = Field(default=None, foreign_key="code.id", ondelete="CASCADE")
    position: int = 0
    label: str = Field(max_length=300)
    description: str = ""
    # English, for the interface in English and the ELAN vocabularies (empty: none).
    label_en: str = Field(default="", max_length=300)
    description_en: str = ""
    color: str = Field(default="#888888", max_length=7)
    hotkey: str | None = Field(default=None, max_length=16)
    archived: bool = False


class Annotation(SQLModel, table=True):
    """A moment (end_ms null or equal to start_ms) or a segment on a recording's timeline."""

    __table_args__ = (
        Index("ix_annotation_recording_id_start_ms", "recording_id", "start_ms"),
        # Ids never come back after a delete: a stale edit must not reach a newer annotation.
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", ondelete="CASCADE")
    start_ms: int
    end_ms: int | None = None
    note: str = ""
    speaker: str | None = Field(default=None, max_length=100)
    fields: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    origin: str = Field(default="coding", sa_type=String(16))
    layer: str = Field(default="schemes", sa_type=String(16))
    # A prepared mark stays private to its author until shared; everything else is shared.
    shared: bool = True
    # Co-validation: a researcher shows this coding segment to the counsellor.
    shown_to_counsellor: bool = False
    # Quotes linked to a segment: [{"text", "speaker", "ms"}].
    verbatims: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    author_id: int | None = Field(
        default=None, foreign_key="app_user.id", index=True, ondelete="SET NULL"
    )
    # Made up by the client for a create: a create sent twice is stored once.
    client_key: str | None = Field(default=None, max_length=64, unique=True)
    # The coding round this segment was coded in; while a blind round is not revealed, its
    # coders' segments are held (`shared` false: only their author sees them).
    coding_round_id: int | None = Field(
        default=None, foreign_key="coding_round.id", index=True, ondelete="SET NULL"
    )
    version: int = 1
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class CodingRound(SQLModel, table=True):
    """Coders code the same recordings on one layer; in a blind round each sees only their own
    segments of the round until every coder has marked their coding done (`revealed_at`)."""

    __tablename__ = "coding_round"
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    layer: str = Field(default="schemes", sa_type=String(16))
    blind: bool = True
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = _timestamp()
    # Every coder done (or the round ended early by its creator): the segments are shown.
    revealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CodingRoundRecording(SQLModel, table=True):
    __tablename__ = "coding_round_recording"
    round_id: int = Field(foreign_key="coding_round.id", primary_key=True, ondelete="CASCADE")
    recording_id: int = Field(
        foreign_key="recording.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class CodingRoundCoder(SQLModel, table=True):
    __tablename__ = "coding_round_coder"
    round_id: int = Field(foreign_key="coding_round.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(
        foreign_key="app_user.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


CONSENSUS_KINDS = ("accept", "merge", "new", "none")


class ConsensusDecision(SQLModel, table=True):
    """How the researchers settled a disagreement: one side accepted, the two merged, a new
    segment written, or no code there (`none`); who decided, when, from which segments."""

    __tablename__ = "consensus_decision"
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", index=True, ondelete="CASCADE")
    # The consensus segment the decision wrote (None for `none`, or once it is deleted).
    annotation_id: int | None = Field(
        default=None, foreign_key="annotation.id", index=True, ondelete="SET NULL"
    )
    kind: str = Field(sa_type=String(16))
    start_ms: int
    end_ms: int
    # The coders' segments it was decided from as they were then ({"coder": username,
    # "start_ms", "end_ms", "codes": [paths]}): it stays readable once they change.
    sources: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    decided_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    decided_at: datetime = _timestamp()


class ConsensusSource(SQLModel, table=True):
    """A coder's segment a consensus decision was made from (while it exists)."""

    __tablename__ = "consensus_source"
    decision_id: int = Field(
        foreign_key="consensus_decision.id", primary_key=True, ondelete="CASCADE"
    )
    annotation_id: int = Field(
        foreign_key="annotation.id", primary_key=True, index=True, ondelete="CASCADE"
    )


COVALIDATION_STATES = ("agreed", "contested", "reformulated")


class CoValidation(SQLModel, table=True):
    """What the counsellor said of a coding segment a researcher showed them (co-validation):
    agreed, contested or reformulated in their own words; one per segment. The segment's
    times and codes as they were at the first verdict stay with it (the prior coding), so
    that it reads the same once the researchers change the segment."""

    __tablename__ = "co_validation"
    id: int | None = Field(default=None, primary_key=True)
    annotation_id: int = Field(foreign_key="annotation.id", unique=True, ondelete="CASCADE")
    state: str = Field(sa_type=String(16))
    words: str = ""  # the counsellor's own words (required but for `agreed`)
    start_ms: int
    end_ms: int
    # The segment's code paths when the verdict was first given.
    codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The codes the researchers read in the counsellor's words (ids of the study's codes).
    proposed_code_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The counsellor who said it (their account, when they have one).
    said_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    # Who typed it: the counsellor on their page, or a researcher during the session.
    recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class AnnotationCode(SQLModel, table=True):
    __tablename__ = "annotation_code"
    # Covering index for counts per code (the synthesis) without touching the table.
    __table_args__ = (
        Index("ix_annotation_code_code_id_annotation_id", "code_id", "annotation_id"),
    )
    annotation_id: int = Field(foreign_key="annotation.id", primary_key=True, ondelete="CASCADE")
    code_id: int = Field(foreign_key="code.id", primary_key=True, ondelete="CASCADE")


class LiveSession(SQLModel, table=True):
    """An auto-confrontation replayed together: one shared playhead (playing, position at a
    moment of the server's clock, rate), changed only through its events."""

    __tablename__ = "live_session"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    interview_id: int | None = Field(
        default=None, foreign_key="interview.id", index=True, ondelete="SET NULL"
    )
    recording_id: int = Field(foreign_key="recording.id", index=True, ondelete="CASCADE")
    # What the counsellor types to join (short, unambiguous letters and digits).
    code: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    created_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    playing: bool = False
    position_ms: int = 0
    position_at: datetime = _timestamp()
    rate: float = 1.0
    seq: int = 0
    created_at: datetime = _timestamp()
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LiveEvent(SQLModel, table=True):
    """What happened in a live session, in order: the stream every browser follows (through
    the database, so that two app processes share it)."""

    __tablename__ = "live_event"
    __table_args__ = (
        Index("ix_live_event_session_id_id", "session_id", "id"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="live_session.id", ondelete="CASCADE")
    seq: int
    kind: str = Field(sa_type=String(16))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    author_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = _timestamp()


class LiveStop(SQLModel, table=True):
    """What a stop of a live session adds to its annotation (a moment on the stops layer, by
    who stopped): when on the wall clock, until when, which prepared moment it answers."""

    __tablename__ = "live_stop"
    annotation_id: int = Field(foreign_key="annotation.id", primary_key=True, ondelete="CASCADE")
    session_id: int = Field(foreign_key="live_session.id", index=True, ondelete="CASCADE")
    role: str = Field(sa_type=String(16))  # "counsellor" | "researcher": who stopped
    stopped_at: datetime = Field(sa_type=UTCDateTime)
    resumed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    prepared_id: int | None = Field(default=None, foreign_key="annotation.id", ondelete="SET NULL")


class LiveComment(SQLModel, table=True):
    """Something said at a stop, as typed during the session: a researcher's note or the
    counsellor's words (`speaker`), by `author_id` (who typed it)."""

    __tablename__ = "live_comment"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    stop_id: int = Field(foreign_key="live_stop.annotation_id", index=True, ondelete="CASCADE")
    author_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    speaker: str = Field(sa_type=String(16))  # "researcher" | "counsellor"
    text: str
    said_at: datetime = Field(sa_type=UTCDateTime)  # wall clock, when typed
    version: int = 1
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class LiveAgendaItem(SQLModel, table=True):
    """The status of a prepared moment in a live session (planned when there is no row)."""

    __tablename__ = "live_agenda_item"
    session_id: int = Field(foreign_key="live_session.id", primary_key=True, ondelete="CASCADE")
    prepared_id: int = Field(foreign_key="annotation.id", primary_key=True, ondelete="CASCADE")
    status: str = Field(sa_type=String(16))
    updated_at: datetime = _timestamp()


class ProcessSignal(SQLModel, table=True):
    """A message from one app process to the others sharing an SQLite database (which has
    no LISTEN/NOTIFY): they poll for new rows; kept a minute (`autoconf.bus.table_bus`)."""

    __tablename__ = "process_signal"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(sa_type=String(32))
    topic: str = Field(sa_type=String(16))
    message: str = Field(sa_type=String(200))
    created_at: datetime = _timestamp()


class LivePresence(SQLModel, table=True):
    """A browser connected to a live session, on any app process; refreshed while connected,
    forgotten when it leaves or stops answering."""

    __tablename__ = "live_presence"
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    session_id: int = Field(foreign_key="live_session.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="app_user.id", ondelete="CASCADE")
    role: str = Field(sa_type=String(16))
    seen_at: datetime = Field(sa_type=UTCDateTime)


class Consent(SQLModel, table=True):
    """What one party (the counsellor or the beneficiary) agreed to for one recording: its
    scopes (`research`, `training`), the day it was given, until a withdrawal."""

    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", index=True, ondelete="CASCADE")
    party: str = Field(sa_type=String(16))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    given_on: date
    recorded_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = _timestamp()
    withdrawn_on: date | None = None
    withdrawn_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """One line of the audit log: who did what, when, from where. Append-only (database
    triggers refuse UPDATE and DELETE); no foreign keys, so that an entry outlives what it
    is about (an erased recording keeps the entry of its erasure)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_study_id_id", "study_id", "id"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _timestamp(index=True)
    user_id: int | None = None
    username: str = Field(default="", max_length=64)
    action: str = Field(sa_type=String(32), index=True)
    study_id: int | None = None
    recording_id: int | None = None
    object_type: str = Field(default="", max_length=32)
    object_id: int | None = None
    # Codes and counts only, never names or content (what is said of an erased recording).
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    address: str = Field(default="", max_length=64)
    # A short digest of the login session or token (never the secret): "first play per
    # recording and session" is found by it.
    credential: str = Field(default="", max_length=16)
