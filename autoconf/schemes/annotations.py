"""Annotations: moments and segments on a recording, with codes, note and structured fields.

Reads go through tuples, never ORM objects (DESIGN: 200,000 rows load 3-10x faster so).
Edits carry the version they read; a stale one is a conflict, never a silent overwrite.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select, update

from autoconf.errors import Conflict, Forbidden, Invalid, NotFound
from autoconf.models import Annotation, AnnotationCode, Code, Codebook, Recording, utcnow
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
]


def _codes_by_annotation(session: Session, annotation_ids: Sequence[int]) -> dict[int, list[int]]:
    codes: dict[int, list[int]] = {}
    # Chunked: SQLite caps the number of bound parameters of one statement.
    for start in range(0, len(annotation_ids), 5000):
        chunk = annotation_ids[start : start + 5000]
        rows = session.exec(
            select(AnnotationCode.annotation_id, AnnotationCode.code_id)
            .where(col(AnnotationCode.annotation_id).in_(chunk))
            .order_by(col(AnnotationCode.annotation_id), col(AnnotationCode.code_id))
        ).all()
        for annotation_id, code_id in rows:
            codes.setdefault(annotation_id, []).append(code_id)
    return codes


def _views(session: Session, rows: Sequence[Any]) -> list[AnnotationView]:
    codes = _codes_by_annotation(session, [row[0] for row in rows])
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
    """How many annotations each recording shows the viewer (none: left out)."""
    rows = session.exec(
        select(Annotation.recording_id, func.count())
        .where(col(Annotation.recording_id).in_(recording_ids), visible)
        .group_by(col(Annotation.recording_id))
    ).all()
    return dict(rows)


def get_view(session: Session, annotation_id: int) -> AnnotationView:
    rows = session.execute(sa_select(*_COLUMNS).where(col(Annotation.id) == annotation_id)).all()
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
    rows = session.exec(
        select(Code.id, Code.archived, Codebook.study_id, Codebook.kind)
        .join(Codebook, col(Codebook.id) == Code.codebook_id)
        .where(col(Code.id).in_(unique))
    ).all()
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


def create_annotation(
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
) -> AnnotationView:
    """Store a new annotation; Core statements, not ORM objects: this is the hot write path.

    A prepared mark is private to its author unless `shared`; the layer defaults to the one
    its origin (or its codes) imply. A `client_key` already used by this author on this
    recording returns the annotation it created (a create sent again after a lost answer)."""
    assert recording.id is not None
    if client_key is not None:
        known = _by_client_key(session, client_key)
        if known is not None:
            if (known.recording_id, known.author_id) != (recording.id, author_id):
                raise Conflict("Cette clé client est déjà prise par une autre annotation.")
            return known
    now = utcnow()
    codes, kinds = _check_codes(session, recording, code_ids)
    layer = layer or _default_layer(origin, kinds)
    if limits is not None:
        limits.check(layer, kinds, shown_to_counsellor is not None)
    shared = (layer != "prepared") if shared is None else shared
    if not shared and layer != "prepared":
        raise Invalid("Seul un moment préparé peut rester privé ; les autres sont partagés.")
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
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    annotation_id = session.execute(
        insert(Annotation).values(**values).returning(col(Annotation.id))
    ).scalar_one()
    if codes:
        session.execute(
            insert(AnnotationCode),
            [{"annotation_id": annotation_id, "code_id": code_id} for code_id in codes],
        )
    return AnnotationView(id=annotation_id, code_ids=codes, **values)


def _by_client_key(session: Session, client_key: str) -> AnnotationView | None:
    rows = session.execute(
        sa_select(*_COLUMNS).where(col(Annotation.client_key) == client_key)
    ).all()
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
    if layer != "prepared":
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
        .values(**values, version=version + 1, updated_at=utcnow())
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


def delete_annotation(session: Session, annotation: Annotation, version: int | None) -> None:
    """Delete; with `version`, only if it is still the stored one (checked by the DELETE)."""
    assert annotation.id is not None
    statement = delete(Annotation).where(col(Annotation.id) == annotation.id)
    if version is not None:
        statement = statement.where(col(Annotation.version) == version)
    # Its code links go with it (ON DELETE CASCADE).
    if session.exec(statement).rowcount != 1:
        if session.get(Annotation, annotation.id, populate_existing=True) is None:
            raise NotFound(f"Aucune annotation n° {annotation.id}.")
        raise _stale(session, annotation.id)
    session.expunge(annotation)
