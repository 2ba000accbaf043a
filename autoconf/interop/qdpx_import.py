"""Another tool's REFI-QDA project (NVivo, ATLAS.ti, MAXQDA, QDA Miner, QualCoder, or
autoconf itself) into a study.

Two steps, so that copying media never holds the write lock: `prepare` checks the archive,
reads the project and stores the media of the sources that bring theirs and match no
recording; `import_project` then writes everything in one transaction (`discard` removes the
stored media when it fails).

- Codes: a top-level non-codable code named like one of the study's codebooks fills that
  codebook (autoconf's own exports); the rest goes to a codebook named after the project
  (kind "categories"), created if needed. Codes are matched by path, created when missing,
  with their colours and descriptions.
- Sources: a video or audio source is the recording of the study with its name as code,
  else a new recording made from the media inside the zip. Selections become annotations
  (begin = end: a moment) on the layer their name says ("Schèmes — claire", as autoconf
  writes them), else the layer of their codes; their notes become the annotation's note and
  structured fields; the coder is the study's member of that name, else the importer.
- Transcripts become the recording's transcript (cut at their sync points), unless it has one.
- Cases link their sources to the counsellor of the same code, when the recording has none.

What cannot be mapped is listed with its reason, never dropped silently.
"""

import itertools
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, BinaryIO, cast

from sqlmodel import Session, col, func, select

from autoconf.errors import DomainError, Unavailable
from autoconf.interop import qdpx_read
from autoconf.interop.eaf import LAYER_NAMES, MOMENT_LAYERS
from autoconf.interop.qdpx_read import QdaCodeIn, QdaProjectIn, QdaSelectionIn, QdaSourceIn
from autoconf.interop.safezip import SafeZip
from autoconf.media.storage import StoredFile
from autoconf.media.store import Store
from autoconf.models import Annotation, Codebook, Counsellor, Membership, Recording, Study, User
from autoconf.schemes import annotations
from autoconf.schemes.codebooks import PATH_SEPARATOR, CodeNode, codebook_tree, create_code
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.schemes.subtitles import Cue
from autoconf.schemes.transcripts import replace_transcript
from autoconf.studies import recordings

IMPORTED_BOOK_KIND = "categories"
# Why something was left out (the page says it in words).
OTHER_SOURCE = "other_source"
NO_RECORDING = "no_recording"
MEDIA_REFUSED = "media_refused"
WHOLE_SOURCE_CODING = "whole_source_coding"
BEYOND_DURATION = "beyond_duration"
UNKNOWN_CODE = "unknown_code"
TRANSCRIPT_KEPT = "transcript_kept"
NO_COUNSELLOR = "no_counsellor"
NOT_SUPPORTED = "not_supported"
_COLOR = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_LAYER_OF_NAME = {label: layer for layer, label in LAYER_NAMES.items()}
_FIELD_OF_LABEL = {label: key for key, label in STRUCTURED_FIELDS.items()}


@dataclass
class Prepared:
    project: QdaProjectIn
    # Source GUID → the media stored for a new recording, and what it says of it.
    stored: dict[str, tuple[StoredFile, recordings.NewRecording]] = field(default_factory=dict)
    refused: list[dict[str, str]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # the GUIDs whose stored media were registered


def _recording_codes(session: Session, study_id: int) -> dict[str, Recording]:
    rows = session.exec(select(Recording).where(Recording.study_id == study_id)).all()
    return {r.code.casefold(): r for r in rows}


def prepare(
    session: Session, study: Study, archive: SafeZip, store: Store, max_bytes: int
) -> Prepared:
    """Read the project and store the media of its new recordings in `store` (outside the
    write lock); when the store fails, what was stored is removed and the import refused."""
    assert study.id is not None
    prepared = Prepared(qdpx_read.read_project(archive))
    known = _recording_codes(session, study.id)
    try:
        for source in prepared.project.sources:
            if source.kind in ("video", "audio") and source.name.casefold() not in known:
                _store_media(session, study.id, archive, store, max_bytes, prepared, source)
    except BaseException:
        discard(store, prepared)
        raise
    return prepared


def _store_media(
    session: Session,
    study_id: int,
    archive: SafeZip,
    store: Store,
    max_bytes: int,
    prepared: Prepared,
    source: QdaSourceIn,
) -> None:
    """The source's media inside the zip, if any, stored for a new recording; a file the
    checks refuse is listed (a store that does not answer refuses the whole import)."""
    entry = f"sources/{source.path.removeprefix('internal://')}"
    if not source.path.startswith("internal://") or not archive.has(entry):
        return
    new = recordings.NewRecording(
        study_id, source.name, None, PurePath(entry).name, f"{source.kind}/mp4"
    )
    try:
        with archive.open(entry) as stream:
            stored = recordings.receive_original(
                session, store, max_bytes, new, cast(BinaryIO, stream)
            )
    except Unavailable:
        raise
    except DomainError as error:
        prepared.refused.append(
            {"kind": "source", "name": source.name, "reason": MEDIA_REFUSED, "detail": str(error)}
        )
        return
    prepared.stored[source.guid] = (stored, new)


def discard(store: Store, prepared: Prepared, unused_only: bool = False) -> None:
    """Remove the media stored for new recordings: all of them (the import failed), or those
    no recording took (the import went through: a recording of that code appeared since)."""
    for source_guid, (stored, _) in prepared.stored.items():
        if not (unused_only and source_guid in prepared.used):
            recordings.discard(store, stored)


@dataclass
class _Run:
    session: Session
    study: Study
    user: User
    prepared: Prepared
    codes: dict[str, int] = field(default_factory=dict)  # code GUID → code id
    members: dict[str, int] = field(default_factory=dict)
    left_out: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("codebooks_created", "codes_created", "recordings_created", "annotations", "cues"), 0
        )
    )
    sources: list[dict[str, Any]] = field(default_factory=list)

    def leave(self, kind: str, name: str, reason: str, detail: str = "") -> None:
        self.left_out.append({"kind": kind, "name": name, "reason": reason, "detail": detail})


def import_project(
    session: Session, study: Study, user: User, prepared: Prepared
) -> dict[str, Any]:
    """Write the prepared project into the study; what was made, and what was left out and
    why. The caller commits (or rolls back: nothing is left behind)."""
    assert study.id is not None
    run = _Run(session, study, user, prepared)
    run.left_out += [{**r} for r in prepared.refused]
    rows = session.exec(
        select(User.username, User.id)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.study_id == study.id)
    ).all()
    run.members = {name.casefold(): uid for name, uid in rows if uid is not None}
    _codebook(run, prepared.project.codes)
    recordings_by_guid = {}
    for source in prepared.project.sources:
        recording = _source(run, source)
        if recording is not None:
            recordings_by_guid[source.guid] = recording
    _cases(run, recordings_by_guid)
    for kind, count in sorted(prepared.project.others.items()):
        run.leave(kind.lower(), str(count), NOT_SUPPORTED)
    return {**run.counts, "sources": run.sources, "left_out": run.left_out}


# Codes --------------------------------------------------------------------------------------


def _codebook(run: _Run, roots: list[QdaCodeIn]) -> None:
    books = run.session.exec(select(Codebook).where(Codebook.study_id == run.study.id)).all()
    by_name = {b.name.casefold(): b for b in books}
    imported: Codebook | None = None
    for root in roots:
        book = by_name.get(root.name.casefold()) if not root.codable else None
        if book is not None:
            run.codes[root.guid] = 0  # a codebook, not a code
            nodes = codebook_tree(run.session, book.id or 0)
            for child in root.children:
                _code(run, book, nodes, child, None, "")
            continue
        if imported is None:
            name = (run.prepared.project.name or "Import REFI-QDA")[:200]
            imported = by_name.get(name.casefold())
            if imported is None:
                imported = Codebook(
                    study_id=run.study.id or 0,
                    kind=IMPORTED_BOOK_KIND,
                    name=name,
                    position=len(books),
                )
                run.session.add(imported)
                run.session.flush()
                run.counts["codebooks_created"] += 1
        _code(run, imported, codebook_tree(run.session, imported.id or 0), root, None, "")


def _color(value: str) -> str:
    if not _COLOR.match(value):
        return "#888888"
    digits = value[1:]
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).upper()


def _code(
    run: _Run,
    book: Codebook,
    nodes: list[CodeNode],
    code: QdaCodeIn,
    parent_id: int | None,
    prefix: str,
) -> None:
    label = code.name or "?"
    path = f"{prefix}{label}"
    node = next((n for n in nodes if n.path.casefold() == path.casefold()), None)
    if node is None:
        node = create_code(
            run.session,
            book,
            label[:300],
            parent_id=parent_id,
            description=code.description,
            color=_color(code.color),
        )
        nodes.append(node)
        run.counts["codes_created"] += 1
    run.codes[code.guid] = node.id
    for child in code.children:
        _code(run, book, nodes, child, node.id, f"{path}{PATH_SEPARATOR}")


# Sources ------------------------------------------------------------------------------------


def _source(run: _Run, source: QdaSourceIn) -> Recording | None:
    if source.kind not in ("video", "audio"):
        run.leave("source", source.name, OTHER_SOURCE, source.kind)
        return None
    recording = _recording_codes(run.session, run.study.id or 0).get(source.name.casefold())
    created = False
    if recording is None and source.guid in run.prepared.stored:
        stored, new = run.prepared.stored[source.guid]
        recording = recordings.register_recording(run.session, stored, new, run.user)
        run.prepared.used.add(source.guid)
        run.counts["recordings_created"] += 1
        created = True
    if recording is None:
        if not any(r["name"] == source.name for r in run.prepared.refused):
            run.leave("source", source.name, NO_RECORDING)
        return None
    run.sources.append({"name": source.name, "recording_id": recording.id, "created": created})
    if source.whole_codings:
        run.leave("coding", source.name, WHOLE_SOURCE_CODING, str(source.whole_codings))
    for selection in source.selections:
        _selection(run, source, recording, selection)
    if source.transcripts:
        _transcript(run, source, recording)
    return recording


def _author(run: _Run, *guids: str | None) -> int | None:
    for guid in guids:
        name = run.prepared.project.users.get(guid or "")
        if name and name.casefold() in run.members:
            return run.members[name.casefold()]
    return run.user.id


def _layer_of(name: str) -> str | None:
    label = name.split(" — ", 1)[0].strip()
    return _LAYER_OF_NAME.get(label)


def _note_and_fields(texts: list[str]) -> tuple[str, dict[str, str]]:
    """A note as autoconf writes it (its text, then "Field label : value" lines) back to a
    note and structured fields; any other note is kept whole."""
    lines: list[str] = []
    fields: dict[str, str] = {}
    for text in texts:
        for line in text.splitlines():
            label, _, value = line.partition(" : ")
            key = _FIELD_OF_LABEL.get(label)
            if key is not None and value and key not in fields:
                fields[key] = value
            else:
                lines.append(line)
    return "\n".join(lines).strip(), fields


def _selection(
    run: _Run, source: QdaSourceIn, recording: Recording, selection: QdaSelectionIn
) -> None:
    name = selection.name or f"{selection.begin}–{selection.end} ms"
    begin, end = sorted((selection.begin, selection.end))
    duration = recording.duration_ms
    if duration is not None and begin > duration:
        run.leave("selection", f"{source.name} · {name}", BEYOND_DURATION)
        return
    code_ids = []
    for code_guid, _ in selection.codings:
        code_id = run.codes.get(code_guid)
        if code_id is None:
            run.leave("coding", f"{source.name} · {name}", UNKNOWN_CODE, code_guid)
        elif code_id:
            code_ids.append(code_id)
    note, fields = _note_and_fields(
        [
            run.prepared.project.notes[g]
            for g in selection.note_refs
            if g in run.prepared.project.notes
        ]
    )
    layer = _layer_of(selection.name)
    if layer == "transcript":
        layer = None
    moment = begin == end or layer in MOMENT_LAYERS
    coder = selection.codings[0][1] if selection.codings else None
    annotations.create_annotation(
        run.session,
        recording,
        _author(run, coder, selection.creating_user),
        start_ms=begin,
        end_ms=None if moment else min(end, duration) if duration is not None else end,
        code_ids=code_ids,
        note=note,
        fields=fields,
        origin="prepared" if layer == "prepared" else "import",
        layer=layer,
        shared=True,
    )
    run.counts["annotations"] += 1


def _cues(text: str, points: list[tuple[int, int]]) -> list[Cue]:
    """The text between consecutive sync points, line by line, with their times."""
    cues = []
    for (start_ms, first), (end_ms, last) in itertools.pairwise(points):
        for line in text[first:last].splitlines():
            words = " ".join(line.split())
            if not words:
                continue
            speaker, _, said = words.partition(" : ")
            if said and len(speaker) <= 40:
                cues.append(Cue(start_ms, max(end_ms, start_ms), speaker, said))
            else:
                cues.append(Cue(start_ms, max(end_ms, start_ms), None, words))
    return cues


def _transcript(run: _Run, source: QdaSourceIn, recording: Recording) -> None:
    has_one = run.session.exec(
        select(func.count()).where(
            Annotation.recording_id == recording.id, Annotation.origin == "transcript"
        )
    ).one()
    if has_one:
        run.leave("transcript", source.name, TRANSCRIPT_KEPT)
        return
    cues = [c for t in source.transcripts for c in _cues(t.text, t.points)]
    if cues:
        run.counts["cues"] += replace_transcript(run.session, recording, cues, run.user.id)


def _cases(run: _Run, recordings_by_guid: dict[str, Recording]) -> None:
    counsellors = {
        c.code.casefold(): c
        for c in run.session.exec(select(Counsellor).where(Counsellor.study_id == run.study.id))
    }
    for case in run.prepared.project.cases:
        counsellor = counsellors.get(case.name.casefold())
        if counsellor is None:
            run.leave("case", case.name, NO_COUNSELLOR)
            continue
        for guid in case.source_guids:
            recording = recordings_by_guid.get(guid)
            if recording is not None and recording.counsellor_id is None:
                recording.counsellor_id = counsellor.id
                run.session.add(recording)
