"""What the API reads (`XCreate`, `XUpdate`) and writes (`XPublic`); never a table model."""

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

Role = Literal["admin", "researcher", "counsellor"]
Gender = Literal["feminine", "masculine", ""]
StudyRole = Literal["researcher", "counsellor"]
CodebookKind = Literal["schemes", "categories", "phases", "principles"]
Origin = Literal["prepared", "stop", "coding", "transcript", "import"]
Layer = Literal["prepared", "stops", "schemes", "consensus", "phases", "categories", "transcript"]
# The transcript is imported as a whole (POST /recordings/{id}/transcript), never annotated.
EditableLayer = Literal["prepared", "stops", "schemes", "consensus", "phases", "categories"]
EditableOrigin = Literal["prepared", "stop", "coding", "import"]

MAX_ID = 2**31 - 1  # INTEGER on PostgreSQL; larger ids cannot exist
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Position = Annotated[int, Field(ge=0, le=100_000)]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
OptionalLabel = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
ShortCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00]*$"),
]
Milliseconds = Annotated[int, Field(ge=0, le=100 * 3600 * 1000)]

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("le caractère NUL (\\u0000) n'est pas accepté")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


def _document_not_null(schema: dict[str, Any], model: type[Any]) -> None:
    """The JSON schema of a field listed in `_not_null` does not offer null either."""
    properties = schema.get("properties", {})
    for name in getattr(model, "_not_null", ()):
        field = properties.get(name, {})
        kinds = [kind for kind in field.pop("anyOf", []) if kind != {"type": "null"}]
        if len(kinds) == 1:
            field.update(kinds[0])
        elif kinds:
            field["anyOf"] = kinds
        if field.get("default", ...) is None:
            del field["default"]


class _Input(BaseModel):
    """Unknown fields are errors; so are NUL characters (PostgreSQL cannot store them) and
    an explicit null for a field listed in `_not_null` (omit a field to leave it as it is)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_not_null)
    _not_null: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _refuse_nul(data)
        return data

    @model_validator(mode="after")
    def _nulls(self) -> Self:
        nulls = sorted(
            n for n in self._not_null & self.model_fields_set if getattr(self, n) is None
        )
        if nulls:
            raise ValueError(f"ne peut pas être null : {', '.join(nulls)} (omettez-le plutôt)")
        return self


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginRequest(_Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserPublic(_Output):
    id: int
    username: str
    display_name: str
    role: Role
    language: str | None
    reaction_offset_ms: int
    gender: Gender = ""
    must_change_password: bool = Field(
        default=False, description="Created with a one-time password, not yet replaced."
    )
    is_active: bool = True


class UserActive(_Input):
    is_active: StrictBool = Field(
        description="False disables the account: it signs in no more, its sessions and "
        "tokens stop at once; what it wrote stays."
    )


class PasswordChange(_Input):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    new_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserUpdate(_Input):
    _not_null = frozenset({"display_name", "reaction_offset_ms", "gender"})
    display_name: DisplayName | None = None
    language: Literal["fr", "en"] | None = Field(default=None, description="Null: the default.")
    reaction_offset_ms: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        default=None, description="Marks made while playing land this long before the key press."
    )
    gender: Gender | None = Field(
        default=None,
        description="How French labels speak of this person: feminine (conseillère), "
        'masculine (conseiller) or "" (neutral: conseiller·e).',
    )


class TokenCreate(_Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    expires_in_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=90, description="The token stops working after this many days (1 to 365)."
    )


class TokenCreated(BaseModel):
    id: int
    name: str
    expires_at: datetime | None
    token: str = Field(description="Shown once; send it as `Authorization: Bearer …`.")


class TokenPublic(_Output):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None


class StudyCreate(_Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Text = ""


class StudyPublic(_Output):
    id: int
    name: str
    description: str
    co_validation: bool
    consent_required: bool
    code_pattern: str
    code_example: str
    created_at: datetime
    my_role: Role | None = Field(
        default=None, description="The caller's role in this study (admin for administrators)."
    )


class StudyUpdate(_Input):
    _not_null = frozenset({"name", "description", "co_validation", "consent_required"})
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    description: Text | None = None
    co_validation: StrictBool | None = Field(
        default=None,
        description="Counsellors see the coding segments a researcher shows them (default off).",
    )
    consent_required: StrictBool | None = Field(
        default=None,
        description="Recordings play and export only with research consent from both parties.",
    )
    code_pattern: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = Field(
        default=None,
        description="A regular expression every code of recordings, counsellors and "
        "interviews must match in full (empty: none).",
    )
    code_example: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        Field(default=None, description="A code that follows the pattern, shown with it.")
    )


class MemberCreate(_Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    role: StudyRole


class MemberPublic(_Output):
    user_id: int
    username: str
    display_name: str
    role: StudyRole


class StructureCreate(_Input):
    code: ShortCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    centre: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class StructurePublic(_Output):
    id: int
    study_id: int
    code: str
    name: str
    city: str
    centre: str


class CounsellorCreate(_Input):
    code: ShortCode
    structure_id: Id | None = None
    username: str | None = Field(
        default=None, description="Account of the counsellor, if they log in themselves."
    )


class CounsellorPublic(_Output):
    id: int
    study_id: int
    code: str
    structure_id: int | None
    user_id: int | None


class InterviewCreate(_Input):
    code: ShortCode
    counsellor_id: Id | None = None
    recording_ids: list[Id] = Field(default_factory=list, max_length=100)
    notes: Text = ""


class InterviewPublic(BaseModel):
    id: int
    study_id: int
    code: str
    counsellor_id: int | None
    recording_ids: list[int]
    notes: str


ConsentParty = Literal["counsellor", "beneficiary"]
ConsentScope = Literal["research", "training"]


class ConsentState(BaseModel):
    """What a recording may be used for, from its consents in force."""

    required: bool = Field(
        description="The study requires research consent from both parties to play, download "
        "or export its recordings."
    )
    research: bool = Field(description="Both parties consent to research use.")
    training: bool = Field(description="Both parties consent to training use (clips).")
    missing_research: list[ConsentParty]
    missing_training: list[ConsentParty]
    playable: bool = Field(description="It may be played, downloaded and exported now.")
    withdrawn: bool = Field(
        description="A withdrawal is what stops it from playing (the page offers erasure)."
    )
    message: str | None = Field(
        default=None, description="Why it cannot be played, in French (null: it can)."
    )


class RecordingPublic(_Output):
    id: int
    study_id: int
    code: str
    counsellor_id: int | None
    status: Literal["uploaded", "queued", "processing", "ready", "failed"]
    error: str | None
    original_filename: str
    original_size: int
    original_sha256: str
    media_type: str
    duration_ms: int | None
    category: Literal["session", "autoconfrontation"] = Field(
        default="session",
        description="A counselling session, or an interview's own recording (not a column "
        "of the synthesis).",
    )
    created_at: datetime
    progress: float | None = Field(
        default=None, description="Percent done while `queued` or `processing`."
    )
    stage: str | None = Field(default=None, description="The processing step, in French.")
    kind: Literal["video", "audio"] | None = Field(default=None, description="Known once probed.")
    media: dict[str, Any] = Field(
        default_factory=dict,
        description="What ffprobe found (container, duration, video and audio streams with "
        "codecs, size, rotation, frame rate, channels) and how the proxy was made.",
    )
    media_url: str | None = Field(default=None, description="The browser-ready proxy (Range).")
    poster_url: str | None = None
    waveform_url: str | None = Field(
        default=None, description="Peaks in the audiowaveform binary format (v2, 8-bit)."
    )
    thumbnails_url: str | None = Field(
        default=None, description="WebVTT track of `sprite-NNN.jpg#xywh=…` scrub previews."
    )
    consent: ConsentState | None = Field(
        default=None,
        description="Its consents in force; while it may not be played, the media links are "
        "null and the media routes answer 403.",
    )


class RecordingUpdate(_Input):
    _not_null = frozenset({"code"})
    code: ShortCode | None = Field(
        default=None, description="The recording's code (the study's pattern applies)."
    )
    counsellor_id: Id | None = Field(default=None, description="Its counsellor (null: none).")


class CodePublic(_Output):
    id: int
    codebook_id: int
    path: str = Field(description="Labels from the root, joined by '/'; identifies the code.")
    label: str
    parent_id: int | None
    position: int
    description: str
    label_en: str = Field(description="The label in English (empty: none).")
    description_en: str = Field(description="The description in English (empty: none).")
    color: str
    hotkey: str | None
    archived: bool


class CodebookPublic(BaseModel):
    id: int
    study_id: int
    kind: CodebookKind
    name: str
    codes: list[CodePublic] = Field(description="Depth-first, in codebook order.")


def _check_color(value: str | None) -> str | None:
    if value is not None and not _COLOR.match(value):
        raise ValueError("une couleur s'écrit #rrggbb (par exemple #E69F00)")
    return value


def _check_hotkey(value: str | None) -> str | None:
    if value is not None and (len(value) != 1 or value.isspace()):
        raise ValueError("un raccourci est une seule touche (lettre, chiffre ou signe)")
    return value


class CodeCreate(_Input):
    label: Label
    parent_id: Id | None = None
    position: Position | None = Field(default=None, description="Default: after its siblings.")
    description: Text = ""
    label_en: OptionalLabel = Field(default="", description="The label in English (optional).")
    description_en: Text = Field(default="", description="The description in English.")
    color: str = "#888888"
    hotkey: str | None = None

    _color = field_validator("color")(_check_color)
    _hotkey = field_validator("hotkey")(_check_hotkey)


class CodeUpdate(_Input):
    _not_null = frozenset(
        {"label", "position", "description", "label_en", "description_en", "color", "archived"}
    )
    label: Label | None = None
    parent_id: Id | None = Field(default=None, description="Move under this code (null: root).")
    position: Position | None = None
    description: Text | None = None
    label_en: OptionalLabel | None = Field(default=None, description="Empty: no English label.")
    description_en: Text | None = None
    color: str | None = None
    hotkey: str | None = None
    archived: bool | None = None

    _color = field_validator("color")(_check_color)
    _hotkey = field_validator("hotkey")(_check_hotkey)


class Verbatim(BaseModel):
    """A quote linked to a segment: what was said, by whom, when."""

    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    speaker: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""
    ms: Milliseconds | None = None


class AnnotationCreate(_Input):
    start_ms: Milliseconds
    end_ms: Milliseconds | None = Field(default=None, description="Null (or start_ms): a moment.")
    code_ids: list[Id] = Field(default_factory=list, max_length=50)
    note: Text = ""
    speaker: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    fields: dict[str, Annotated[str, StringConstraints(max_length=10_000)]] = Field(
        default_factory=dict, description="Structured fields of the scheme (see /api/v1/fields)."
    )
    origin: EditableOrigin = "coding"
    layer: EditableLayer | None = Field(
        default=None, description="Default: from the origin (prepared, stops) or the codes."
    )
    shared: bool | None = Field(
        default=None,
        description="Default: false for a prepared mark (private), else true; only a prepared "
        "mark can be private.",
    )
    shown_to_counsellor: StrictBool | None = Field(
        default=None,
        description="Researchers only: show this prepared moment to the recording's "
        "counsellor, or (with the study's co-validation) this coding segment.",
    )
    verbatims: list[Verbatim] = Field(default_factory=list, max_length=50)
    client_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = Field(
        default=None,
        description="A key the client made up: sending the same create again (after a lost "
        "answer) returns the annotation created the first time instead of a second one.",
    )


class AnnotationUpdate(_Input):
    _not_null = frozenset(
        {"start_ms", "code_ids", "note", "fields", "layer", "shared", "verbatims"}
    )
    version: Id = Field(description="The version read; a stale one is refused with 409.")
    start_ms: Milliseconds | None = None
    end_ms: Milliseconds | None = None
    code_ids: list[Id] | None = Field(default=None, max_length=50)
    note: Text | None = None
    speaker: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    fields: dict[str, Annotated[str, StringConstraints(max_length=10_000)]] | None = None
    layer: EditableLayer | None = None
    shared: bool | None = Field(default=None, description="Only its author may change it.")
    shown_to_counsellor: StrictBool | None = Field(
        default=None, description="Researchers only: show it to the recording's counsellor."
    )
    verbatims: list[Verbatim] | None = Field(default=None, max_length=50)


class AnnotationPublic(_Output):
    id: int
    recording_id: int
    start_ms: int
    end_ms: int | None
    code_ids: list[int]
    note: str
    speaker: str | None
    fields: dict[str, str]
    origin: Origin
    layer: Layer
    shared: bool
    shown_to_counsellor: bool
    verbatims: list[Verbatim]
    author_id: int | None
    client_key: str | None = Field(description="The key the client gave when creating it.")
    version: int
    created_at: datetime
    updated_at: datetime
    coding_round_id: int | None = Field(
        default=None,
        description="The coding round it was coded in; held (shared false) while that round "
        "is blind and not revealed.",
    )


class UploadMetadata(BaseModel):
    """The tus `Upload-Metadata` of a resumable recording upload (values are strings)."""

    model_config = ConfigDict(extra="ignore")
    study_id: Id
    code: ShortCode
    counsellor_id: Id | None = None
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    filetype: Annotated[str, StringConstraints(max_length=100)] = ""
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    interview_id: Id | None = None
    interview_code: ShortCode | None = None

    @field_validator("counsellor_id", "sha256", "interview_id", "interview_code", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class TranscriptImported(BaseModel):
    cues: int = Field(description="Cues stored; the previous transcript was replaced.")


class EafMapping(BaseModel):
    """What to do with an ELAN file's tiers and vocabularies (the import's `mapping`)."""

    model_config = ConfigDict(extra="forbid")
    tiers: dict[str, str | None] = Field(
        description="Tier id → a layer (`schemes`, `transcript`…), or null to leave it out; "
        "a dependent tier may also fill its parent's `note` or a structured field "
        "(`field:but`). A tier not named here is left out."
    )
    vocabularies: dict[str, int | None] = Field(
        default_factory=dict,
        description="Controlled vocabulary id → a codebook of the study (entries matched by "
        "code path, then label), or null: its values are kept as notes.",
    )
    create_codes: bool = Field(
        default=False, description="Create the codes the codebook lacks (else: kept as notes)."
    )


class EafTierPreview(BaseModel):
    id: str
    annotations: int
    linguistic_type: str
    constraint: str | None
    time_alignable: bool
    parent: str | None
    participant: str
    annotator: str
    vocabulary: str | None
    first_values: list[str]
    suggested: str | None = Field(description="What the import page proposes for this tier.")


class EafEntryPreview(BaseModel):
    id: str
    value: str
    values: dict[str, str] = Field(description="By language (ISO 639-3), as in the file.")
    descriptions: dict[str, str]


class EafVocabularyPreview(BaseModel):
    id: str
    description: str
    entries: list[EafEntryPreview]
    suggested: int | None = Field(description="The codebook the import page proposes.")


class EafMediaPreview(BaseModel):
    url: str
    mime_type: str
    time_origin_ms: int


class EafPreview(BaseModel):
    """What an ELAN file holds (nothing imported yet)."""

    file: str
    format: str
    media: list[EafMediaPreview]
    tiers: list[EafTierPreview]
    vocabularies: list[EafVocabularyPreview]


class EafSkipped(BaseModel):
    tier: str
    reason: Literal["not_chosen", "left_out", "parent_not_imported"] = Field(
        description="Not in the mapping; mapped to null; its parent tier is not imported."
    )


class EafUnmatched(BaseModel):
    """Values kept as notes: no code of that value in the codebook (and codes not created),
    the code is archived; or (a dependent tier) no parent annotation was imported."""

    tier: str
    value: str
    reason: Literal["not_in_codebook", "archived_code", "no_parent_annotation"]
    count: int


class EafAuthor(BaseModel):
    name: str
    found: bool = Field(description="A member of the study; else the importer is the author.")


class EafImported(BaseModel):
    """What an ELAN import created, and what it did not, with the reason."""

    annotations: int
    by_layer: dict[str, int]
    codes_created: int
    attached: int = Field(description="Values of dependent tiers kept as notes or fields.")
    skipped_tiers: list[EafSkipped]
    unmatched: list[EafUnmatched]
    authors: list[EafAuthor]
    time_origin_ms: int


class QdpxSource(BaseModel):
    name: str
    recording_id: int
    created: bool = Field(description="A new recording, made from the media in the file.")


class QdpxLeftOut(BaseModel):
    """Something of the project not imported, and why."""

    kind: str = Field(description="source, selection, coding, transcript, case, sets, graphs…")
    name: str
    reason: Literal[
        "other_source",
        "no_recording",
        "media_refused",
        "whole_source_coding",
        "beyond_duration",
        "unknown_code",
        "transcript_kept",
        "no_counsellor",
        "not_supported",
    ]
    detail: str = ""


class QdpxImported(BaseModel):
    """What a REFI-QDA import made, and what it left out."""

    codebooks_created: int
    codes_created: int
    recordings_created: int
    annotations: int
    cues: int
    sources: list[QdpxSource]
    left_out: list[QdpxLeftOut]


class AgreementFigure(BaseModel):
    method: str = Field(
        description="percent, cohen_kappa, krippendorff_alpha, segment_kappa, segment_percent, "
        "u_alpha, binary_u_alpha, cu_alpha, code_u_alpha."
    )
    value: float | None = Field(description="null when the data cannot define it.")
    reason: str | None = Field(
        description="Why it is null: `single_category` (one category everywhere), `empty`."
    )
    parameters: dict[str, Any]


class SegmentAgreement(BaseModel):
    """ELAN-style matching: a segment of A and one of B match when their overlap is at least
    `threshold` of their total extent; one-to-one, same codes first."""

    threshold: float
    matched: int
    same_code: int
    different_code: int
    only_a: int
    only_b: int
    kappa: AgreementFigure
    percent: AgreementFigure


class CodeAgreement(BaseModel):
    code: str = Field(description="The code's path in its codebook.")
    ms_a: int = Field(description="Time coder A gave it (ms).")
    ms_b: int
    kappa: AgreementFigure = Field(description="On the slices: this code or not.")
    alpha: AgreementFigure
    u_alpha: AgreementFigure = Field(description="Unitizing alpha for this code alone.")
    matched: int = Field(description="Segments of A and B matched with this code on both.")
    only_a: int
    only_b: int


class DisagreementPublic(BaseModel):
    recording_id: int
    start_ms: int
    end_ms: int
    codes_a: list[str]
    codes_b: list[str]
    segments_a: list[int] = Field(description="Coder A's annotations in the stretch.")
    segments_b: list[int]


class AgreementPublic(BaseModel):
    """Two codings compared (one recording, or several laid end to end)."""

    coders: list[str]
    layer: str
    recording_ids: list[int]
    duration_ms: int
    slice_ms: int
    slices: int
    percent: AgreementFigure
    kappa: AgreementFigure
    alpha: AgreementFigure
    confusion: dict[str, dict[str, int]] = Field(
        description="Slices by coder A's code, then coder B's."
    )
    segments: SegmentAgreement
    u_alpha: AgreementFigure = Field(description="Unitizing alpha, codes and gaps.")
    binary_u_alpha: AgreementFigure = Field(description="Where the coded stretches are.")
    cu_alpha: AgreementFigure = Field(description="Which code, where both coded.")
    per_code: list[CodeAgreement]
    disagreements: list[DisagreementPublic]


class ConsensusCreate(_Input):
    kind: Literal["accept", "merge", "new", "none"] = Field(
        description="accept: one coder's segment as it is; merge: segments into one spanning "
        "them, their codes together; new: a segment written here; none: no code there."
    )
    source_ids: list[Id] = Field(
        default_factory=list, max_length=50, description="The coders' segments decided from."
    )
    start_ms: Milliseconds | None = Field(default=None, description="Default: the sources'.")
    end_ms: Milliseconds | None = None
    code_ids: list[Id] | None = Field(
        default=None, max_length=50, description="Default (accept, merge): the sources' codes."
    )
    note: Text = ""


class ConsensusAdopt(_Input):
    coder_ids: list[Id] = Field(
        min_length=2, max_length=2, description="The two coders whose agreements are adopted."
    )
    layer: Literal["schemes", "phases", "categories"] = "schemes"
    threshold: float = Field(
        default=0.6, gt=0, le=1, description="Segment matching: the least overlap / extent."
    )


class ConsensusDecisionPublic(_Output):
    id: int
    recording_id: int
    kind: str
    start_ms: int
    end_ms: int
    annotation_id: int | None = Field(description="The consensus segment it wrote.")
    sources: list[dict[str, Any]] = Field(
        description="The segments decided from, as they were: coder, start_ms, end_ms, codes."
    )
    decided_by: int | None
    decided_by_name: str
    decided_at: datetime
    source_ids: list[int] = Field(description="The source segments, while they exist.")


class CoValidationSet(_Input):
    """What the counsellor says of a coding segment shown to them."""

    _not_null = frozenset({"state", "words"})
    state: Literal["agreed", "contested", "reformulated"] = Field(
        description="agreed: « D'accord »; contested: « Pas d'accord »; reformulated: « Je le "
        "dirais autrement »."
    )
    words: Text = Field(
        default="", description="The counsellor's own words: required but for `agreed`."
    )
    proposed_code_ids: list[Id] | None = Field(
        default=None,
        max_length=50,
        description="Researchers only: the study's codes the counsellor's words amount to "
        "(what the co-validated coding takes for contested and reformulated). Omitted: left "
        "as they are, but cleared when the counsellor changes what they said.",
    )


class CoValidationPublic(_Output):
    """A verdict, with the segment as it was when first given."""

    id: int
    annotation_id: int
    state: str
    words: str
    start_ms: int = Field(description="The segment's start when the verdict was first given.")
    end_ms: int
    codes: list[str] = Field(description="The segment's code paths then: the prior coding.")
    proposed_code_ids: list[int] = Field(
        description="The codes read into the counsellor's words (empty for the counsellor)."
    )
    proposed_codes: list[str]
    said_by_id: int | None = Field(description="The counsellor's account.")
    said_by_name: str
    recorded_by_id: int | None = Field(description="Who typed it.")
    recorded_by_name: str
    by_counsellor: bool = Field(description="Typed by the counsellor themselves.")
    created_at: datetime
    updated_at: datetime


class CoValidationSegmentPublic(_Output):
    """A coding segment shown to the counsellor, as it is now, with their verdict."""

    annotation_id: int
    recording_id: int
    layer: str
    start_ms: int
    end_ms: int
    code_ids: list[int]
    codes: list[str]
    note: str
    shown: bool = Field(
        description="Shown to the counsellor now (researchers also get "
        "segments with a verdict that are no longer shown)."
    )
    changed: bool = Field(description="Its times or codes changed since the verdict.")
    verdict: CoValidationPublic | None


class CodingRoundCreate(_Input):
    name: Label = Field(description="E.g. « Double codage A2–A4 ».")
    recording_ids: list[Id] = Field(min_length=1, max_length=500)
    coder_ids: list[Id] = Field(
        min_length=2, max_length=20, description="The coders: researchers of the study."
    )
    blind: StrictBool = Field(
        default=True,
        description="A coder sees none of the other coders' segments of the round until "
        "every coder has marked their coding done.",
    )
    layer: Literal["schemes", "phases", "categories"] = "schemes"


class CodingRoundDone(_Input):
    done: StrictBool = Field(default=True, description="false: take it back (before reveal).")


class RoundCoderPublic(_Output):
    user_id: int
    name: str
    done_at: datetime | None


class CodingRoundPublic(_Output):
    id: int
    study_id: int
    name: str
    layer: str
    blind: bool
    created_by: int | None
    created_at: datetime
    revealed_at: datetime | None = Field(
        description="When every coder was done (or the round was ended): segments shown."
    )
    open: bool
    coders: list[RoundCoderPublic]
    recording_ids: list[int]


class AuditEntryPublic(_Output):
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    study_id: int | None
    recording_id: int | None
    object_type: str
    object_id: int | None
    detail: dict[str, Any]
    address: str


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(value: object) -> object:
    """A `YYYY-MM-DD` day (no timestamp, no week date), with a French message."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("une date AAAA-MM-JJ est attendue, par exemple 2025-03-14")


class ConsentCreate(_Input):
    party: str = Field(
        max_length=32,
        description="Whose consent: `counsellor` or `beneficiary`.",
        json_schema_extra={"enum": ["counsellor", "beneficiary"]},
    )
    scopes: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        max_length=10,
        description="What it covers: `research`, `training` or both (at least one).",
        json_schema_extra={"items": {"enum": ["research", "training"]}},
    )
    given_on: date = Field(description="The day it was given (YYYY-MM-DD), not in the future.")

    @field_validator("given_on", mode="before")
    @classmethod
    def _given_on(cls, value: object) -> object:
        return _day(value)


class ConsentWithdraw(_Input):
    withdrawn_on: date | None = Field(
        default=None, description="The day it was withdrawn (YYYY-MM-DD); default: today."
    )

    @field_validator("withdrawn_on", mode="before")
    @classmethod
    def _withdrawn_on(cls, value: object) -> object:
        return _day(value)


class ConsentPublic(_Output):
    id: int
    recording_id: int
    party: ConsentParty
    scopes: list[ConsentScope]
    given_on: date
    recorded_by: int | None = Field(description="The user who recorded it.")
    created_at: datetime
    withdrawn_on: date | None
    withdrawn_by: int | None
    withdrawn_at: datetime | None

    @computed_field(description="In force: not withdrawn.")  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        return self.withdrawn_on is None


MAX_COMMENT = 10_000
Speaker = Literal["researcher", "counsellor"]
CommentText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_COMMENT)]


class StopCreate(_Input):
    position_ms: Milliseconds | None = Field(
        default=None, description="Where the stopping screen was; default: the playhead."
    )


class StopLink(_Input):
    prepared_id: Id | None = Field(description="The prepared moment answered; null: added live.")


class CommentCreate(_Input):
    speaker: Speaker = Field(description="Who said it: researcher (a note) or counsellor.")
    text: CommentText


class CommentUpdate(_Input):
    version: Id
    speaker: Speaker | None = None
    text: CommentText | None = None


class StatusUpdate(_Input):
    status: Literal["planned", "brought_up", "discussed", "skipped"]


class RecordingChoice(_Input):
    recording_id: Id | None = Field(description="The interview's own recording; null: none.")
    stop_id: Id | None = Field(default=None, description="The stop to align on (the first).")
    stop_at_ms: Milliseconds | None = Field(
        default=None, description="Where that stop is in the interview's recording."
    )


# Automatic transcription (issue 21): the job, the draft and its corrections.
SpeakerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TranscriptionJobPublic(_Output):
    status: Literal["queued", "running", "done", "failed", "cancelled", "stopped"]
    stage: str = Field(
        description="The step under way, in French (« Reconnaissance de la parole »)."
    )
    progress: float = Field(description="Percent done, 0-100.")
    error: str | None
    model: str = Field(description="The model that made the draft (once done).")
    created_at: datetime
    finished_at: datetime | None


class TranscriptionPublic(BaseModel):
    available: bool = Field(description="Whether this server can transcribe.")
    why_not: str = Field(description="When it cannot: why, and how to enable it (French).")
    job: TranscriptionJobPublic | None
    draft_cues: int = Field(description="Cues in the draft waiting to be validated.")
    speakers: list[str] = Field(description="The draft's speakers, in order of appearance.")


class DraftCuePublic(_Output):
    id: int
    start_ms: int
    end_ms: int
    speaker: str
    text: str
    version: int
    words: list[list[Any]] = Field(description="[[start_ms, end_ms, text], …] of the model.")


class DraftPublic(BaseModel):
    cues: list[DraftCuePublic]
    speakers: list[str]


class DraftCueUpdate(_Input):
    _not_null = frozenset({"text", "speaker", "start_ms", "end_ms"})
    cue_id: Id = Field(description="The cue of the draft to correct.")
    version: Id = Field(description="The version read; a stale one is refused with 409.")
    text: Annotated[str, StringConstraints(max_length=5000)] | None = None
    speaker: SpeakerName | None = None
    start_ms: Milliseconds | None = None
    end_ms: Milliseconds | None = None


class DraftCueSplit(_Input):
    cue_id: Id
    version: Id
    at: Annotated[int, Field(ge=1, le=5000)] = Field(
        description="Where to cut the text: the number of characters of the first part."
    )


class DraftCueMerge(_Input):
    cue_id: Id = Field(description="The cue the next one is joined to.")
    version: Id


class DraftSpeakers(_Input):
    names: dict[SpeakerName, SpeakerName] = Field(
        min_length=1,
        max_length=20,
        description='Old name → new name, all at once: {"A": "B", "B": "A"} swaps two.',
    )


class DraftValidated(BaseModel):
    cues: int = Field(description="Cues of the transcript now (the draft is gone).")
