"""A study as a REFI-QDA project (QDA-XML 1.0, the exchange format of NVivo, ATLAS.ti,
MAXQDA, QDA Miner and QualCoder): `project.qde` in a `.qdpx` zip, and the codebook alone as
a `.qdc`.

What goes where: users; each codebook a non-codable code holding its codes (nested, with
colours and descriptions); counsellors as cases with their structure as variables, each case
pointing at its recordings; one video or audio source per recording, its annotations as
selections (begin and end in milliseconds; a moment has begin = end) with their codings, and
their note and structured fields as a note; the transcript with a sync point at each cue's
start and end. The media go inside the zip (`internal://`) or are referenced by file name
(`relative://`), as the reader chooses; a recording whose consents are missing has neither
media nor transcript.

Identifiers are stable: a GUID is derived from the object's kind and id, so that exporting
twice gives the same GUIDs and an import can tell a project it made.
"""

import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import BinaryIO

from lxml import etree

from autoconf import __version__
from autoconf.schemes.tables import xml_safe

MEDIA_PART = 1024 * 1024  # a media file is copied into the zip this much at a time

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
PROJECT_FILE = "project.qde"
SOURCES = "sources"
ORIGIN = f"autoconf {__version__}"
# The GUIDs autoconf writes: uuid5 of "autoconf:<kind>:<id>" in this namespace.
_NAMESPACE = uuid.UUID("6a1d2f4e-8c1b-5a7e-9f3d-2b4c6d8e0a1f")


def guid(kind: str, key: object) -> str:
    """The stable GUID of an object of autoconf (upper case, as REFI-QDA files write them)."""
    return str(uuid.uuid5(_NAMESPACE, f"autoconf:{kind}:{key}")).upper()


@dataclass(frozen=True)
class QdaUser:
    id: int
    name: str


@dataclass(frozen=True)
class QdaCode:
    id: int
    label: str
    color: str
    description: str = ""
    children: tuple["QdaCode", ...] = ()


@dataclass(frozen=True)
class QdaCodebook:
    id: int
    name: str
    codes: tuple[QdaCode, ...]


@dataclass(frozen=True)
class QdaSelection:
    id: int
    name: str
    begin_ms: int
    end_ms: int
    author_id: int | None
    created_at: datetime
    code_ids: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class QdaCue:
    start_ms: int
    end_ms: int
    speaker: str | None
    text: str


@dataclass(frozen=True)
class QdaSource:
    id: int
    name: str
    kind: str  # "video" | "audio"
    media_name: str  # the file's name in the zip or beside it
    included: bool
    created_by: int | None
    created_at: datetime
    description: str = ""
    selections: tuple[QdaSelection, ...] = ()
    transcript: tuple[QdaCue, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QdaCase:
    id: int
    name: str
    variables: dict[str, str]
    source_ids: tuple[int, ...]


@dataclass(frozen=True)
class QdaProject:
    name: str
    description: str
    created_at: datetime
    users: tuple[QdaUser, ...]
    codebooks: tuple[QdaCodebook, ...]
    sources: tuple[QdaSource, ...]
    cases: tuple[QdaCase, ...]


def _x(name: str, ns: str = PROJECT_NS) -> str:
    return f"{{{ns}}}{name}"


def _text(parent: etree._Element, name: str, text: str, ns: str = PROJECT_NS) -> None:
    etree.SubElement(parent, _x(name, ns)).text = xml_safe(text)


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _codes(parent: etree._Element, codebooks: Iterable[QdaCodebook], ns: str) -> None:
    codes = etree.SubElement(parent, _x("Codes", ns))

    def add(holder: etree._Element, code: QdaCode) -> None:
        element = etree.SubElement(
            holder,
            _x("Code", ns),
            guid=guid("code", code.id),
            name=xml_safe(code.label),
            isCodable="true",
            color=code.color,
        )
        if code.description:
            _text(element, "Description", code.description, ns)
        for child in code.children:
            add(element, child)

    for book in codebooks:
        element = etree.SubElement(
            codes, _x("Code", ns), guid=guid("codebook", book.id), name=xml_safe(book.name)
        )
        element.set("isCodable", "false")
        for code in book.codes:
            add(element, code)


def codebook_document(codebooks: Sequence[QdaCodebook]) -> bytes:
    """The codebooks as a REFI-QDA codebook (`.qdc`)."""
    root = etree.Element(_x("CodeBook", CODEBOOK_NS), nsmap={None: CODEBOOK_NS}, origin=ORIGIN)
    _codes(root, codebooks, CODEBOOK_NS)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _variables(project: QdaProject) -> dict[str, str]:
    names = sorted(
        {n for case in project.cases for n in case.variables}
        | {n for source in project.sources for n in source.variables}
    )
    return {name: guid("variable", name) for name in names}


def _variable_values(parent: etree._Element, values: dict[str, str], ids: dict[str, str]) -> None:
    for name, value in sorted(values.items()):
        holder = etree.SubElement(parent, _x("VariableValue"))
        etree.SubElement(holder, _x("VariableRef"), targetGUID=ids[name])
        _text(holder, "TextValue", value)


def transcript_text(cues: Sequence[QdaCue]) -> tuple[str, list[tuple[int, int, int]]]:
    """The transcript as plain text, one cue per line ("Speaker : words"), and each cue's
    (start ms, position of its first character, position after its last)."""
    parts: list[str] = []
    positions: list[tuple[int, int, int]] = []
    offset = 0
    for cue in cues:
        line = f"{cue.speaker} : {cue.text}" if cue.speaker else cue.text
        line = xml_safe(line)
        positions.append((cue.start_ms, offset, offset + len(line)))
        parts.append(line)
        offset += len(line) + 1
    return "\n".join(parts), positions


def project_document(project: QdaProject) -> bytes:
    """The `project.qde` of `project`."""
    root = etree.Element(
        _x("Project"),
        nsmap={None: PROJECT_NS},
        name=xml_safe(project.name),
        origin=ORIGIN,
        creationDateTime=_when(project.created_at),
    )
    users = etree.SubElement(root, _x("Users"))
    for user in project.users:
        etree.SubElement(
            users, _x("User"), guid=guid("user", user.id), name=xml_safe(user.name), id=str(user.id)
        )
    _codes(etree.SubElement(root, _x("CodeBook")), project.codebooks, PROJECT_NS)
    variable_ids = _variables(project)
    if variable_ids:
        variables = etree.SubElement(root, _x("Variables"))
        for name, variable_guid in variable_ids.items():
            etree.SubElement(
                variables,
                _x("Variable"),
                guid=variable_guid,
                name=xml_safe(name),
                typeOfVariable="Text",
            )
    if project.cases:
        cases = etree.SubElement(root, _x("Cases"))
        for case in project.cases:
            element = etree.SubElement(
                cases, _x("Case"), guid=guid("case", case.id), name=xml_safe(case.name)
            )
            _variable_values(element, case.variables, variable_ids)
            for source_id in case.source_ids:
                etree.SubElement(element, _x("SourceRef"), targetGUID=guid("source", source_id))
    notes: list[tuple[str, str, QdaSelection]] = []
    if project.sources:
        sources = etree.SubElement(root, _x("Sources"))
        for source in project.sources:
            _source(sources, source, notes)
    if notes:
        holder = etree.SubElement(root, _x("Notes"))
        for note_guid, name, selection in notes:
            note = etree.SubElement(holder, _x("Note"), guid=note_guid, name=xml_safe(name))
            if selection.author_id is not None:
                note.set("creatingUser", guid("user", selection.author_id))
            note.set("creationDateTime", _when(selection.created_at))
            _text(note, "PlainTextContent", selection.note)
    if project.description:
        _text(root, "Description", project.description)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def media_path(source: QdaSource) -> str:
    """Where a source's media is: inside the zip, or beside the project under its name."""
    if source.included:
        return f"internal://{guid('source', source.id)}{PurePath(source.media_name).suffix}"
    return f"relative://{source.media_name}"


def _source(
    sources: etree._Element, source: QdaSource, notes: list[tuple[str, str, QdaSelection]]
) -> None:
    kind = "VideoSource" if source.kind == "video" else "AudioSource"
    element = etree.SubElement(
        sources,
        _x(kind),
        guid=guid("source", source.id),
        name=xml_safe(source.name),
        path=xml_safe(media_path(source)),
        creationDateTime=_when(source.created_at),
    )
    if source.created_by is not None:
        element.set("creatingUser", guid("user", source.created_by))
    if source.description:
        _text(element, "Description", source.description)
    if source.transcript:
        text, positions = transcript_text(source.transcript)
        transcript = etree.SubElement(
            element,
            _x("Transcript"),
            guid=guid("transcript", source.id),
            name="Transcription",
        )
        _text(transcript, "PlainTextContent", text)
        for index, ((start_ms, first, last), cue) in enumerate(
            zip(positions, source.transcript, strict=True)
        ):
            for suffix, ms, position in (("start", start_ms, first), ("end", cue.end_ms, last)):
                etree.SubElement(
                    transcript,
                    _x("SyncPoint"),
                    guid=guid("sync", f"{source.id}:{index}:{suffix}"),
                    timeStamp=str(ms),
                    position=str(position),
                )
    selection_kind = "VideoSelection" if source.kind == "video" else "AudioSelection"
    for selection in source.selections:
        chosen = etree.SubElement(
            element,
            _x(selection_kind),
            guid=guid("selection", selection.id),
            name=xml_safe(selection.name),
            begin=str(selection.begin_ms),
            end=str(selection.end_ms),
            creationDateTime=_when(selection.created_at),
        )
        if selection.author_id is not None:
            chosen.set("creatingUser", guid("user", selection.author_id))
        for code_id in selection.code_ids:
            coding = etree.SubElement(
                chosen,
                _x("Coding"),
                guid=guid("coding", f"{selection.id}:{code_id}"),
                creationDateTime=_when(selection.created_at),
            )
            if selection.author_id is not None:
                coding.set("creatingUser", guid("user", selection.author_id))
            etree.SubElement(coding, _x("CodeRef"), targetGUID=guid("code", code_id))
        if selection.note:
            note_guid = guid("note", selection.id)
            etree.SubElement(chosen, _x("NoteRef"), targetGUID=note_guid)
            notes.append((note_guid, selection.name, selection))
    _variable_values(element, source.variables, {n: guid("variable", n) for n in source.variables})


def write_qdpx(
    project: QdaProject,
    media: dict[int, tuple[str, int]],
    target: BinaryIO,
    open_media: Callable[[str], AbstractContextManager[BinaryIO]],
) -> None:
    """The `.qdpx` zip into `target`: `project.qde`, and the media of the sources that
    include theirs (`media`: source id → what `open_media` opens, and its size), stored as
    they are (already compressed), read a part at a time (a local file or an object
    store's, in constant memory). The entries carry no date (zip's 1980): two exports are
    identical."""
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(PROJECT_FILE, project_document(project), zipfile.ZIP_DEFLATED)
        for source in project.sources:
            if not source.included:
                continue
            name = media_path(source).removeprefix("internal://")
            info = zipfile.ZipInfo(f"{SOURCES}/{name}")
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            key, info.file_size = media[source.id]  # zip64 fields only past 2 GiB, as zip does
            with open_media(key) as reader, archive.open(info, "w") as out:
                shutil.copyfileobj(reader, out, MEDIA_PART)
