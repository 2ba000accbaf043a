"""The tables of a study archive: which columns each one carries, the order they are written
and imported in, and what their foreign keys point at (`values` checks what they hold).

Every column of an archived table is either carried, or left out on purpose (`left_out`,
and `study_id`: a table's rows are the study's); `tests/unit/test_archive_tables.py` fails
when a column added to the models is in neither, and when a table is neither archived nor in
`NOT_ARCHIVED`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Table
from sqlmodel import SQLModel

from autoconf.models import (
    Annotation,
    AnnotationCode,
    AuditEvent,
    Code,
    Codebook,
    CodingRound,
    CodingRoundCoder,
    CodingRoundRecording,
    ConsensusDecision,
    ConsensusSource,
    Consent,
    Counsellor,
    CoValidation,
    Interview,
    InterviewRecording,
    LiveAgendaItem,
    LiveComment,
    LiveSession,
    LiveStop,
    Membership,
    Recording,
    Structure,
    Study,
    User,
)

STUDY_COLUMN = "study_id"


@dataclass(frozen=True)
class TableSpec:
    """One table of the archive (`tables/<name>.jsonl`)."""

    name: str
    model: type[SQLModel]
    columns: tuple[str, ...]
    # The column its rows are known by, renumbered on import; None: rows with no id of their
    # own (links), or whose id nothing points at.
    key: str | None = "id"
    # Columns an archive may lack (written by an autoconf that did not have them yet), and
    # the value they then take: adding a column to the format adds it here.
    optional: Mapping[str, Any] = field(default_factory=dict)
    # Columns of the model the archive does not carry, on purpose (see each table).
    left_out: tuple[str, ...] = ()

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__  # type: ignore[attr-defined]
        return table

    @property
    def entry(self) -> str:
        return f"tables/{self.name}.jsonl"

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]


# Accounts: only what names and labels a person (never a password hash, a token, a setting
# of theirs); a username is the identity across instances.
USER = TableSpec(
    "user",
    User,
    ("id", "username", "display_name", "role", "gender", "language"),
    optional={"display_name": "", "gender": "", "language": None},
    left_out=(
        "password_hash",
        "reaction_offset_ms",
        "must_change_password",
        "is_active",
        "created_at",
    ),
)
STUDY = TableSpec(
    "study",
    Study,
    (
        "id",
        "name",
        "description",
        "co_validation",
        "consent_required",
        "code_pattern",
        "code_example",
        "created_at",
    ),
    optional={"description": "", "co_validation": False, "code_pattern": "", "code_example": ""},
)
MEMBERSHIP = TableSpec("membership", Membership, ("user_id", "role"), key=None, left_out=("id",))
STRUCTURE = TableSpec(
    "structure",
    Structure,
    ("id", "code", "name", "city", "centre"),
    optional={"name": "", "city": "", "centre": ""},
)
COUNSELLOR = TableSpec("counsellor", Counsellor, ("id", "code", "structure_id", "user_id"))
# `storage_key` and `proxy_key` are the exporting instance's: they name the files (their last
# part), the importing instance makes its own keys.
RECORDING = TableSpec(
    "recording",
    Recording,
    (
        "id",
        "code",
        "counsellor_id",
        "category",
        "status",
        "error",
        "original_filename",
        "original_size",
        "original_sha256",
        "media_type",
        "storage_key",
        "duration_ms",
        "media_info",
        "proxy_key",
        "created_by",
        "created_at",
    ),
    optional={"category": "session", "error": None, "media_type": ""},
)
INTERVIEW = TableSpec(
    "interview",
    Interview,
    ("id", "code", "counsellor_id", "notes", "ac_recording_id", "ac_started_at", "created_at"),
    optional={"notes": "", "ac_recording_id": None, "ac_started_at": None},
)
INTERVIEW_RECORDING = TableSpec(
    "interview_recording",
    InterviewRecording,
    ("interview_id", "recording_id", "position"),
    key=None,
)
CODEBOOK = TableSpec("codebook", Codebook, ("id", "kind", "name", "position"))
CODE = TableSpec(
    "code",
    Code,
    (
        "id",
        "codebook_id",
        "parent_id",
        "position",
        "label",
        "description",
        "label_en",
        "description_en",
        "color",
        "hotkey",
        "archived",
    ),
    optional={"description": "", "label_en": "", "description_en": "", "hotkey": None},
)
# `client_key` is what one browser made up for one create: it means nothing elsewhere.
ANNOTATION = TableSpec(
    "annotation",
    Annotation,
    (
        "id",
        "recording_id",
        "start_ms",
        "end_ms",
        "note",
        "speaker",
        "fields",
        "origin",
        "layer",
        "shared",
        "shown_to_counsellor",
        "verbatims",
        "author_id",
        "coding_round_id",
        "version",
        "created_at",
        "updated_at",
    ),
    optional={
        "note": "",
        "speaker": None,
        "fields": {},
        "shown_to_counsellor": False,
        "verbatims": [],
        "coding_round_id": None,
    },
    left_out=("client_key",),
)
CODING_ROUND = TableSpec(
    "coding_round",
    CodingRound,
    ("id", "name", "layer", "blind", "created_by", "created_at", "revealed_at"),
)
CODING_ROUND_RECORDING = TableSpec(
    "coding_round_recording", CodingRoundRecording, ("round_id", "recording_id"), key=None
)
CODING_ROUND_CODER = TableSpec(
    "coding_round_coder", CodingRoundCoder, ("round_id", "user_id", "done_at"), key=None
)
CONSENSUS_DECISION = TableSpec(
    "consensus_decision",
    ConsensusDecision,
    (
        "id",
        "recording_id",
        "annotation_id",
        "kind",
        "start_ms",
        "end_ms",
        "sources",
        "decided_by",
        "decided_at",
    ),
)
CONSENSUS_SOURCE = TableSpec(
    "consensus_source", ConsensusSource, ("decision_id", "annotation_id"), key=None
)
# A counsellor's verdict on a segment shown to them; `proposed_code_ids` hold code ids,
# renumbered on import like a foreign key (`importing`).
CO_VALIDATION = TableSpec(
    "co_validation",
    CoValidation,
    (
        "id",
        "annotation_id",
        "state",
        "words",
        "start_ms",
        "end_ms",
        "codes",
        "proposed_code_ids",
        "said_by_id",
        "recorded_by_id",
        "created_at",
        "updated_at",
    ),
)
ANNOTATION_CODE = TableSpec(
    "annotation_code", AnnotationCode, ("annotation_id", "code_id"), key=None
)
CONSENT = TableSpec(
    "consent",
    Consent,
    (
        "id",
        "recording_id",
        "party",
        "scopes",
        "given_on",
        "recorded_by",
        "created_at",
        "withdrawn_on",
        "withdrawn_by",
        "withdrawn_at",
    ),
)
# The join `code` stays when the importing instance has no session of that code, else a new
# one is drawn: it is a handle to type, not data.
LIVE_SESSION = TableSpec(
    "live_session",
    LiveSession,
    (
        "id",
        "interview_id",
        "recording_id",
        "code",
        "created_by",
        "playing",
        "position_ms",
        "position_at",
        "rate",
        "seq",
        "created_at",
        "ended_at",
    ),
)
# A stop is known by its annotation (its comments point at it).
LIVE_STOP = TableSpec(
    "live_stop",
    LiveStop,
    ("annotation_id", "session_id", "role", "stopped_at", "resumed_at", "prepared_id"),
    key=None,
)
LIVE_COMMENT = TableSpec(
    "live_comment",
    LiveComment,
    (
        "id",
        "stop_id",
        "author_id",
        "speaker",
        "text",
        "said_at",
        "version",
        "created_at",
        "updated_at",
    ),
)
LIVE_AGENDA_ITEM = TableSpec(
    "live_agenda_item",
    LiveAgendaItem,
    ("session_id", "prepared_id", "status", "updated_at"),
    key=None,
)

# In the order they are imported: each table after those its foreign keys point at.
TABLES = (
    USER,
    STUDY,
    MEMBERSHIP,
    STRUCTURE,
    COUNSELLOR,
    RECORDING,
    INTERVIEW,
    INTERVIEW_RECORDING,
    CODEBOOK,
    CODE,
    CODING_ROUND,
    CODING_ROUND_RECORDING,
    CODING_ROUND_CODER,
    ANNOTATION,
    ANNOTATION_CODE,
    CONSENT,
    LIVE_SESSION,
    LIVE_STOP,
    LIVE_COMMENT,
    LIVE_AGENDA_ITEM,
    CONSENSUS_DECISION,
    CONSENSUS_SOURCE,
    CO_VALIDATION,
)
BY_NAME = {spec.name: spec for spec in TABLES}
BY_TABLE = {spec.table.name: spec for spec in TABLES}

# The study's audit entries travel in `audit.jsonl`, as a document: they are not imported
# (see ARCHITECTURE.md, "Study archives").
AUDIT = TableSpec(
    "audit",
    AuditEvent,
    tuple(column.name for column in AuditEvent.__table__.columns),  # type: ignore[attr-defined]
)
# Tables of an instance that no study archive carries, and why.
NOT_ARCHIVED = {
    "auth_token": "login sessions and API tokens belong to the instance",
    "login_failure": "sign-in throttling of the instance",
    "media_job": "remade by the importing instance (a recording to process is queued)",
    "live_event": "the live stream of a session: its outcome is in the session, stops, "
    "comments and agenda; its payloads hold ids of the exporting instance",
    "live_presence": "who is connected right now",
    "process_signal": "messages between the instance's processes, kept a minute",
    "audit_event": "carried apart, as a document (audit.jsonl), not imported",
    "transcription_job": "the instance's work: the importing instance transcribes again on demand",
    "draft_cue": "an automatic transcript not validated yet; validated, it is the transcript "
    "(annotations), which travels",
}


def reference(spec: TableSpec, column: str) -> str | None:
    """The archived table whose ids `column` holds (`study` for the study's own column),
    None when it is not a foreign key."""
    for key in spec.column(column).foreign_keys:
        target = key.column
        if target.table.name == "live_stop":  # a stop is known by its annotation
            return ANNOTATION.name
        return BY_TABLE[target.table.name].name if target.table.name in BY_TABLE else None
    return None
