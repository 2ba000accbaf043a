"""Annotations: moments and segments on a recording, with codes, note and structured fields.

Reads go through tuples, never ORM objects (DESIGN: 200,000 rows load 3-10x faster so).
Edits carry the version they read; a stale one is a conflict, never a silent overwrite.
A delete takes the annotation's links with it (a stop's live-session row, the stops that
answered a prepared moment, its agenda statuses); `links_of` reads them first, so that an
undo can give them back (`restore_links`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select, update

from autoconf.errors import Conflict, Forbidden, Invalid, NotFound
from autoconf.models import (
    Annotation,
    AnnotationCode,
    Code,
    Codebook,
    CoValidation,
    InterviewRecording,
    LiveAgendaItem,
    LiveSession,
    LiveStop,
    Recording,
    User,
    utcnow,
)
from autoconf.schemes import rounds
from autoconf.schemes.fields import clean_fields
from autoconf.schemes.timecode import format_ms


@dataclass(frozen=True)
class WriteLimits:
    """What a writer who is not a researcher may do (see `studies.access.write_limits`)."""

    layers: tuple[str, ...]
    codebook_kinds: tuple[str, ...]

    def check(self, layer: str, kinds: set[str], changes_showing: bool) -> None:
        if changes_showing:
            raise Forbidden("Seuls les chercheurs montrent un segment au conseiller.")
        if layer not in self.layers:
            raise Forbidden(
                "Un conseiller n'écrit que ses propres moments et les arrêts : le codage "
                "(schèmes, consensus, phases, catégories) est celui des chercheurs."
            )
        if kinds - set(self.codebook_kinds):
            raise Forbidden("Un conseiller ne met sur ses moments que des principes à questionner.")


@dataclass(frozen=True)
class AnnotationView:
    id: int
    recording_id: int
    start_ms: int
    end_ms: int | None
    code_ids: list[int]
    note: str
    speaker: str | None
    fields: dict[str, str]
    origin: str
    layer: str
    shared: bool
    shown_to_counsellor: bool
    verbatims: list[dict[str, Any]]
    author_id: int | None
    client_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    coding_round_id: int | None = None


_COLUMNS = [
    col(Annotation.id),
    col(Annotation.recording_id),
    col(Annotation.start_ms),
    col(Annotation.end_ms),
    col(Annotation.note),
    col(Annotation.speaker),
    col(Annotation.fields),
    col(Annotation.origin),
    col(Annotation.layer),
    col(Annotation.shared),
    col(Annotation.verbatims),
    col(Annotation.author_id),
    col(Annotation.client_key),
    col(Annotation.version),
    col(Annotation.created_at),
    col(Annotation.updated_at),
    col(Annotation.shown_to_counsellor),
    col(Annotation.coding_round_id),
]

# The statements of the annotator's hot path, built once (building a statement and its cache
# key costs more than running it: bench/README.md, "Annotation writes under load"). The
# inserts go to the tables, not through the ORM's bulk path.
_CODES_OF = (
    select(AnnotationCode.annotation_id, AnnotationCode.code_id)
    .where(col(AnnotationCode.annotation_id).in_(bindparam("ids", expanding=True)))
    .order_by(col(AnnotationCode.annotation_id), col(AnnotationCode.code_id))
)
_VIEW_BY_ID = sa_select(*_COLUMNS).where(col(Annotation.id) == bindparam("id"))
_VIEW_BY_KEY = sa_select(*_COLUMNS).where(col(Annotation.client_key) == bindparam("key"))
_CODES_TO_APPLY = (
    select(Code.id, Code.archived, Codebook.study_id, Codebook.kind)
    .join(Codebook, col(Codebook.id) == Code.codebook_id)
    .where(col(Code.id).in_(bindparam("ids", expanding=True)))
)
_INSERT = insert(Annotation.__table__).returning(Annotation.__table__.c.id)  # type: ignore[attr-defined]
_INSERT_CODE = insert(AnnotationCode.__table__)  # type: ignore[attr-defined]


def codes_by_annotation(session: Session, annotation_ids: Sequence[int]) -> dict[int, list[int]]:
    """The code ids of each annotation, in id order (annotations without codes left out)."""
    codes: dict[int, list[int]] = {}
    # Chunked: SQLite caps the number of bound parameters of one statement.
    for start in range(0, len(annotation_ids), 5000):
        chunk = annotation_ids[start : start + 5000]
        rows = session.exec(_CODES_OF, params={"ids": chunk}).all()
        for annotation_id, code_id in rows:
            codes.setdefault(annotation_id, []).append(code_id)
    return codes


def _views(session: Session, rows: Sequence[Any]) -> list[AnnotationView]:
    codes = codes_by_annotation(session, [row[0] for row in rows])
    return [
        AnnotationView(
            id=r[0],
            recording_id=r[1],
            start_ms=r[2],
            end_ms=r[3],
            code_ids=codes.get(r[0], []),
            note=r[4],
            speaker=r[5],
            fields=r[6] or {},
            origin=r[7],
            layer=r[8],
            shared=r[9],
            verbatims=r[10] or [],
            author_id=r[11],
            client_key=r[12],
            version=r[13],
            created_at=r[14],
            updated_at=r[15],
            shown_to_counsellor=r[16],
            coding_round_id=r[17],
        )
        for r in rows
    ]


def list_annotations(
    session: Session, recording_id: int, visible: ColumnElement[bool]
) -> list[AnnotationView]:
    """The annotations of a recording that the viewer may see (`visible`: the clause of
    `studies.access.AnnotationScope`), in time order."""
    rows = session.execute(
        sa_select(*_COLUMNS)
        .where(col(Annotation.recording_id) == recording_id, visible)
        .order_by(col(Annotation.start_ms), col(Annotation.id))
    ).all()
    return _views(session, rows)


def count_by_recording(
    session: Session, recording_ids: Sequence[int], visible: ColumnElement[bool]
) -> dict[int, int]:
    """How many annotations each recording shows the viewer (none: left out), counted as
    the annotator counts them: the transcript's cues are its transcript, not annotations."""
    rows = session.exec(
        select(Annotation.recording_id, func.count())
        .where(
            col(Annotation.recording_id).in_(recording_ids),
            col(Annotation.layer) != "transcript",
            visible,
        )
        .group_by(col(Annotation.recording_id))
    ).all()
    return dict(rows)


_VIEW_FIELDS = tuple(f.name for f in dataclass_fields(AnnotationView) if f.name != "code_ids")


def view_of(session: Session, annotation: Annotation) -> AnnotationView:
    """The view of an annotation already loaded (its codes read)."""
    assert annotation.id is not None
    values = {name: getattr(annotation, name) for name in _VIEW_FIELDS}
    values["fields"] = values["fields"] or {}
    values["verbatims"] = values["verbatims"] or []
    codes = codes_by_annotation(session, [annotation.id]).get(annotation.id, [])
    return AnnotationView(code_ids=codes, **values)


def get_view(session: Session, annotation_id: int) -> AnnotationView:
    rows = session.execute(_VIEW_BY_ID, {"id": annotation_id}).all()
    return _views(session, rows)[0]


def _check_times(recording: Recording, start_ms: int, end_ms: int | None) -> int | None:
    """The end to store: None for a moment (no end, or an end equal to the start)."""
    if end_ms is not None and end_ms < start_ms:
        raise Invalid(f"La fin ({format_ms(end_ms)}) est avant le début ({format_ms(start_ms)}).")
    limit = recording.duration_ms
    if limit is not None and max(start_ms, end_ms or 0) > limit:
        raise Invalid(f"Ce temps dépasse la durée de l'enregistrement ({format_ms(limit)}).")
    return None if end_ms == start_ms else end_ms


def _check_codes(
    session: Session, recording: Recording, code_ids: Sequence[int]
) -> tuple[list[int], set[str]]:
    """The codes to store (each once, in order) and the kinds of their codebooks; refuses
    unknown codes, other studies' codes and archived ones."""
    unique = sorted(set(code_ids))
    if not unique:
        return [], set()
    rows = session.exec(_CODES_TO_APPLY, params={"ids": unique}).all()
    found = {code_id: (archived, study_id) for code_id, archived, study_id, _ in rows}
    for code_id in unique:
        if code_id not in found:
            raise Invalid(f"Le code n° {code_id} n'existe pas.")
        archived, study_id = found[code_id]
        if study_id != recording.study_id:
            raise Invalid(f"Le code n° {code_id} appartient à une autre étude.")
        if archived:
            raise Invalid(f"Le code n° {code_id} est archivé ; on ne peut plus l'appliquer.")
    return unique, {kind for *_, kind in rows}


_LAYER_OF_ORIGIN = {"prepared": "prepared", "stop": "stops", "transcript": "transcript"}


def _default_layer(origin: str, kinds: set[str]) -> str:
    """The layer an annotation is drawn on when none is given: by its origin, else by the
    kinds of its codes (schemes first)."""
    if origin in _LAYER_OF_ORIGIN:
        return _LAYER_OF_ORIGIN[origin]
    for kind in ("schemes", "phases", "categories"):
        if kind in kinds:
            return kind
    return "schemes"


@dataclass(frozen=True)
class PlannedAnnotation:
    """An annotation checked and ready to insert (`plan_annotation`), or the one a create
    sent again already made (`existing`)."""

    values: dict[str, Any]
    codes: list[int]
    existing: AnnotationView | None = None


def plan_annotation(
    session: Session,
    recording: Recording,
    author_id: int | None,
    *,
    start_ms: int,
    end_ms: int | None = None,
    code_ids: Sequence[int] = (),
    note: str = "",
    speaker: str | None = None,
    fields: dict[str, str] | None = None,
    origin: str = "coding",
    layer: str | None = None,
    shared: bool | None = None,
    verbatims: Sequence[dict[str, Any]] = (),
    client_key: str | None = None,
    shown_to_counsellor: bool | None = None,
    limits: WriteLimits | None = None,
) -> PlannedAnnotation:
    """What `create_annotation` reads and checks before it writes (Invalid, Forbidden or
    Conflict when it may not): done before SQLite's one writer is taken, which
    `insert_annotation` then holds for two statements only.

    A prepared mark is private to its author unless `shared`; the layer defaults to the one
    its origin (or its codes) imply. A `client_key` already used by this author on this
    recording gives the annotation it created (a create sent again after a lost answer)."""
    assert recording.id is not None
    if client_key is not None:
        known = _known_key(session, recording, author_id, client_key)
        if known is not None:
            return PlannedAnnotation({}, [], known)
    now = utcnow()
    codes, kinds = _check_codes(session, recording, code_ids)
    layer = layer or _default_layer(origin, kinds)
    if limits is not None:
        limits.check(layer, kinds, shown_to_counsellor is not None)
    shared = (layer != "prepared") if shared is None else shared
    if not shared and layer != "prepared":
        raise Invalid("Seul un moment préparé peut rester privé ; les autres sont partagés.")
    in_round = rounds.round_of(session, recording.id, author_id, layer)
    if in_round and in_round[1]:
        shared = False  # held until every coder of the blind round is done
    values: dict[str, Any] = {
        "recording_id": recording.id,
        "start_ms": start_ms,
        "end_ms": _check_times(recording, start_ms, end_ms),
        "note": note,
        "speaker": speaker or None,
        "fields": clean_fields(fields or {}),
        "origin": origin,
        "layer": layer,
        "shared": shared,
        "shown_to_counsellor": bool(shown_to_counsellor),
        "verbatims": [dict(v) for v in verbatims],
        "author_id": author_id,
        "client_key": client_key,
        "coding_round_id": in_round[0] if in_round else None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    return PlannedAnnotation(values, codes)


def _known_key(
    session: Session, recording: Recording, author_id: int | None, client_key: str
) -> AnnotationView | None:
    known = _by_client_key(session, client_key)
    if known is not None and (known.recording_id, known.author_id) != (recording.id, author_id):
        raise Conflict("Cette clé client est déjà prise par une autre annotation.")
    return known


def insert_annotation(
    session: Session, recording: Recording, plan: PlannedAnnotation
) -> AnnotationView:
    """Store a planned annotation; Core statements, not ORM objects: this is the hot write
    path. The client key is looked at again: the same create sent twice at once makes one."""
    if plan.existing is not None:
        return plan.existing
    key = plan.values["client_key"]
    if key is not None:
        known = _known_key(session, recording, plan.values["author_id"], key)
        if known is not None:
            return known
    annotation_id = session.execute(_INSERT, plan.values).scalar_one()
    if plan.codes:
        session.execute(
            _INSERT_CODE,
            [{"annotation_id": annotation_id, "code_id": code_id} for code_id in plan.codes],
        )
    return AnnotationView(id=annotation_id, code_ids=plan.codes, **plan.values)


def create_annotation(
    session: Session, recording: Recording, author_id: int | None, **given: Any
) -> AnnotationView:
    """Check (`plan_annotation`, whose arguments it takes) and store a new annotation."""
    return insert_annotation(
        session, recording, plan_annotation(session, recording, author_id, **given)
    )


@dataclass(frozen=True)
class NewAnnotation:
    """One annotation of a batch (an import): what `create_annotation` takes, shared."""

    start_ms: int
    end_ms: int | None
    layer: str
    origin: str
    author_id: int | None
    code_ids: Sequence[int] = ()
    note: str = ""
    speaker: str | None = None
    fields: dict[str, str] | None = None


def create_annotations(
    session: Session, recording: Recording, batch: Sequence[NewAnnotation]
) -> list[int]:
    """Store a batch of shared annotations with the checks of `create_annotation` (codes of
    this study and not archived, times within the recording, known fields), in two
    statements whatever its size: an import of thousands of annotations takes a fraction
    of a second, not one round of statement building per row. Their ids, in order."""
    if not batch:
        return []
    assert recording.id is not None
    codes, _ = _check_codes(session, recording, [c for item in batch for c in item.code_ids])
    known = set(codes)
    now = utcnow()
    in_round = {
        (author, layer): rounds.round_of(session, recording.id, author, layer)
        for author, layer in {(item.author_id, item.layer) for item in batch}
    }
    rows: list[dict[str, Any]] = [
        {
            "recording_id": recording.id,
            "start_ms": item.start_ms,
            "end_ms": _check_times(recording, item.start_ms, item.end_ms),
            "note": item.note,
            "speaker": item.speaker or None,
            "fields": clean_fields(item.fields or {}),
            "origin": item.origin,
            "layer": item.layer,
            "shared": not _held(in_round[item.author_id, item.layer]),
            "shown_to_counsellor": False,
            "verbatims": [],
            "author_id": item.author_id,
            "client_key": None,
            "coding_round_id": _round_id(in_round[item.author_id, item.layer]),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for item in batch
    ]
    ids: list[int] = [
        annotation_id
        for annotation_id in session.scalars(
            insert(Annotation).returning(col(Annotation.id), sort_by_parameter_order=True),
            rows,
        )
        if annotation_id is not None
    ]
    links = [
        {"annotation_id": annotation_id, "code_id": code_id}
        for annotation_id, item in zip(ids, batch, strict=True)
        for code_id in dict.fromkeys(item.code_ids)
        if code_id in known
    ]
    if links:
        session.execute(insert(AnnotationCode), links)
    return ids


def _held(in_round: tuple[int, bool] | None) -> bool:
    return bool(in_round and in_round[1])


def _round_id(in_round: tuple[int, bool] | None) -> int | None:
    return in_round[0] if in_round else None


def _by_client_key(session: Session, client_key: str) -> AnnotationView | None:
    rows = session.execute(_VIEW_BY_KEY, {"key": client_key}).all()
    return _views(session, rows)[0] if rows else None


def _stale(session: Session, annotation_id: int) -> Conflict:
    current = get_view(session, annotation_id)
    return Conflict(
        "Cette annotation a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte "
        f"(version {current.version}). Rechargez-la avant de la modifier.",
        current=current,
    )


def update_annotation(
    session: Session,
    annotation: Annotation,
    recording: Recording,
    version: int,
    changes: dict[str, Any],
    editor_id: int | None = None,
    limits: WriteLimits | None = None,
) -> AnnotationView:
    """Apply `changes` if `version` is still the stored one (else Conflict, nothing written).

    `annotation` may have been read before the write lock: the check is the UPDATE's WHERE.
    Only its author shares or unshares an annotation, and only a prepared mark is private:
    moved to another layer, it becomes shared.
    """
    assert annotation.id is not None
    if session.get(Annotation, annotation.id, populate_existing=True) is None:
        raise NotFound(f"Aucune annotation n° {annotation.id}.")
    sharing = changes.get("shared") is not None and changes["shared"] != annotation.shared
    if sharing and annotation.author_id != editor_id:
        raise Forbidden("Seul l'auteur d'un moment peut le partager ou le rendre privé.")
    layer = changes.get("layer") or annotation.layer
    if limits is not None:
        kinds = _check_codes(session, recording, changes.get("code_ids") or [])[1]
        limits.check(layer, kinds, changes.get("shown_to_counsellor") is not None)
    shared = changes["shared"] if changes.get("shared") is not None else annotation.shared
    held = annotation.coding_round_id is not None and not annotation.shared
    if held and annotation.layer != "prepared":
        if changes.get("shared"):
            raise Conflict(
                "Ce segment appartient à un tour de codage en aveugle : il reste masqué aux "
                "autres codeurs jusqu'à ce que tous aient terminé."
            )
        changes = {**changes, "shared": None}  # stays held, whatever the layer
    elif layer != "prepared":
        if changes.get("shared") is False:
            raise Invalid("Seul un moment préparé peut rester privé ; les autres sont partagés.")
        if not shared:
            changes = {**changes, "shared": True}
    values: dict[str, Any] = {}
    if "start_ms" in changes or "end_ms" in changes:
        start = changes.get("start_ms", annotation.start_ms)
        if start is None:
            raise Invalid("Le début d'une annotation ne peut pas être vide.")
        end = changes.get("end_ms", annotation.end_ms)
        values["start_ms"] = start
        values["end_ms"] = _check_times(recording, start, end)
    if changes.get("note") is not None:
        values["note"] = changes["note"]
    if "speaker" in changes:
        values["speaker"] = changes["speaker"] or None
    if changes.get("fields") is not None:
        values["fields"] = clean_fields(changes["fields"])
    for name in ("layer", "shared", "shown_to_counsellor"):
        if changes.get(name) is not None:
            values[name] = changes[name]
    if changes.get("verbatims") is not None:
        values["verbatims"] = [dict(v) for v in changes["verbatims"]]
    codes = None
    if changes.get("code_ids") is not None:
        codes, _ = _check_codes(session, recording, changes["code_ids"])
    # The WHERE on version makes the check and the write one atomic step.
    result = session.exec(
        update(Annotation)
        .where(col(Annotation.id) == annotation.id, col(Annotation.version) == version)
        .values(**values, version=col(Annotation.version) + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise _stale(session, annotation.id)
    if codes is not None:
        session.exec(
            delete(AnnotationCode).where(col(AnnotationCode.annotation_id) == annotation.id)
        )
        for code_id in codes:
            session.add(AnnotationCode(annotation_id=annotation.id, code_id=code_id))
    session.flush()
    session.expire(annotation)
    return get_view(session, annotation.id)


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """The names these users go by (display name, else user name), by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        u.id or 0: u.display_name or u.username
        for u in session.exec(select(User).where(col(User.id).in_(wanted))).all()
    }


def check_unanswered(session: Session, annotation_id: int) -> None:
    """Conflict while a counsellor's answer on the segment is kept (co-validation): their
    words are research data, taken back on purpose before the segment goes."""
    answered = session.exec(
        select(CoValidation.id).where(CoValidation.annotation_id == annotation_id)
    ).first()
    if answered is not None:
        raise Conflict(
            "Le conseiller a répondu sur ce segment (co-validation) : retirez d'abord sa "
            "réponse, dans la carte « Co-validation » de l'enregistrement, pour ne pas perdre "
            "ses mots sans le vouloir."
        )


def delete_annotation(session: Session, annotation: Annotation, version: int | None) -> None:
    """Delete; with `version`, only if it is still the stored one (checked by the DELETE).
    Conflict while the counsellor's answer on it is kept (co-validation): their words are
    research data, taken back first on purpose."""
    assert annotation.id is not None
    check_unanswered(session, annotation.id)
    statement = delete(Annotation).where(col(Annotation.id) == annotation.id)
    if version is not None:
        statement = statement.where(col(Annotation.version) == version)
    # Its code links go with it (ON DELETE CASCADE).
    if session.exec(statement).rowcount != 1:
        if session.get(Annotation, annotation.id, populate_existing=True) is None:
            raise NotFound(f"Aucune annotation n° {annotation.id}.")
        raise _stale(session, annotation.id)
    session.expunge(annotation)


@dataclass(frozen=True)
class StopLink:
    """What makes an annotation a live session's stop (its `live_stop` row)."""

    session_id: int
    role: str
    stopped_at: datetime
    resumed_at: datetime | None
    prepared_id: int | None


@dataclass(frozen=True)
class AgendaLink:
    """The status of a prepared moment in a live session's agenda."""

    session_id: int
    status: str


@dataclass(frozen=True)
class AnnotationLinks:
    """What a delete takes with an annotation besides itself and its codes."""

    stop: StopLink | None = None
    answered_by: tuple[int, ...] = ()  # the stops that answered this prepared moment
    agenda: tuple[AgendaLink, ...] = ()


def links_of(
    session: Session, annotation_id: int, visible: ColumnElement[bool], agenda: bool
) -> AnnotationLinks:
    """The links of an annotation as its deleter may see them: the prepared moment a stop
    answers only when `visible` to them (someone's private mark does not exist for the
    others), the agenda statuses only with `agenda` (a counsellor never sees them)."""
    stop = session.get(LiveStop, annotation_id)
    stop_link = None
    if stop is not None:
        prepared = stop.prepared_id
        if prepared is not None and not _visible_prepared(session, prepared, visible):
            prepared = None
        stop_link = StopLink(stop.session_id, stop.role, stop.stopped_at, stop.resumed_at, prepared)
    answered = session.exec(
        select(LiveStop.annotation_id)
        .where(col(LiveStop.prepared_id) == annotation_id)
        .order_by(col(LiveStop.annotation_id))
    ).all()
    statuses = (
        session.exec(
            select(LiveAgendaItem.session_id, LiveAgendaItem.status)
            .where(col(LiveAgendaItem.prepared_id) == annotation_id)
            .order_by(col(LiveAgendaItem.session_id))
        ).all()
        if agenda
        else []
    )
    return AnnotationLinks(
        stop_link, tuple(answered), tuple(AgendaLink(s, status) for s, status in statuses)
    )


def _visible_prepared(session: Session, annotation_id: int, visible: ColumnElement[bool]) -> bool:
    found = session.execute(
        sa_select(col(Annotation.id)).where(
            col(Annotation.id) == annotation_id, col(Annotation.layer) == "prepared", visible
        )
    ).first()
    return found is not None


def _live_of(session: Session, session_id: int, recording: Recording) -> LiveSession | None:
    """The live session, if it still exists and shows the recording or its interview."""
    live = session.get(LiveSession, session_id)
    if live is None or live.study_id != recording.study_id:
        return None
    if live.recording_id == recording.id:
        return live
    linked = session.exec(
        select(InterviewRecording.recording_id).where(
            InterviewRecording.interview_id == live.interview_id,
            InterviewRecording.recording_id == recording.id,
        )
    ).first()
    return live if linked is not None else None


# A stop's wall-clock times come back as they were; the slack covers clocks a little apart.
_CLOCK_SLACK = timedelta(minutes=5)


def restore_links(
    session: Session,
    recording: Recording,
    view: AnnotationView,
    links: AnnotationLinks,
    visible: ColumnElement[bool],
    researcher: bool,
) -> list[tuple[int, int]]:
    """Give back to `view` (an annotation made again by an undo) the links its deleted copy
    had (`links_of`, read before the delete), those that still hold: a session or a stop gone
    since, or a stop that answers another moment now, is left out. Making a stop of it or
    setting agenda statuses is for researchers (Forbidden otherwise); for a counsellor, who
    never sees the statuses, a moment a stop answers again is "discussed". Sending the same
    links again changes nothing. The (session, stop) pairs whose stop changed."""
    assert view.id is not None
    changed: list[tuple[int, int]] = []
    if (links.stop is not None or links.agenda) and not researcher:
        raise Forbidden(
            "Seuls les chercheurs rétablissent un arrêt ou l'ordre du jour d'une séance."
        )
    if links.stop is not None:
        if view.layer != "stops" or view.end_ms is not None:
            raise Invalid("Seul un moment de la couche des arrêts redevient un arrêt.")
        stop = links.stop
        live = _live_of(session, stop.session_id, recording)
        if live is not None and session.get(LiveStop, view.id) is None:
            assert live.id is not None
            now = utcnow()
            if not (live.created_at - _CLOCK_SLACK <= stop.stopped_at <= now + _CLOCK_SLACK):
                raise Invalid("L'heure de cet arrêt est en dehors de sa séance.")
            resumed = stop.resumed_at
            if resumed is not None and not stop.stopped_at <= resumed <= now + _CLOCK_SLACK:
                raise Invalid("La reprise de cet arrêt précède l'arrêt.")
            if resumed is None and (
                live.playing or live.ended_at is not None or _open_stop(session, live.id)
            ):
                resumed = now  # the session went on: the pause is over
            prepared = stop.prepared_id
            if prepared is not None and not _visible_prepared(session, prepared, visible):
                prepared = None
            session.add(
                LiveStop(
                    annotation_id=view.id,
                    session_id=live.id,
                    role=stop.role,
                    stopped_at=stop.stopped_at,
                    resumed_at=resumed,
                    prepared_id=prepared,
                )
            )
            changed.append((live.id, view.id))
    if (links.answered_by or links.agenda) and view.layer != "prepared":
        raise Invalid("Seul un moment préparé répond à des arrêts de l'auto-confrontation.")
    statuses: dict[int, str] = {}
    for item in links.agenda:
        live = _live_of(session, item.session_id, recording)
        if live is not None and live.id is not None:
            statuses[live.id] = item.status
    for stop_id in links.answered_by:
        row = session.get(LiveStop, stop_id)
        live = _live_of(session, row.session_id, recording) if row is not None else None
        if row is None or live is None or live.id is None or row.prepared_id is not None:
            continue
        session.exec(
            update(LiveStop)
            .where(col(LiveStop.annotation_id) == stop_id, col(LiveStop.prepared_id).is_(None))
            .values(prepared_id=view.id)
        )
        if not researcher:  # who never saw the statuses: an answered moment was discussed
            statuses.setdefault(live.id, "discussed")
        changed.append((live.id, stop_id))
    for session_id, status in statuses.items():
        if session.get(LiveAgendaItem, (session_id, view.id)) is None:
            session.add(
                LiveAgendaItem(
                    session_id=session_id, prepared_id=view.id, status=status, updated_at=utcnow()
                )
            )
    session.flush()
    return changed


def _open_stop(session: Session, session_id: int) -> bool:
    found = session.exec(
        select(LiveStop.annotation_id).where(
            col(LiveStop.session_id) == session_id, col(LiveStop.resumed_at).is_(None)
        )
    ).first()
    return found is not None
