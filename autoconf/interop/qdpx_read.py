"""REFI-QDA projects (`.qdpx`) read: the `project.qde` of a checked zip, as plain data.

Elements are found by their local names (some tools write the namespace, some forget it);
what autoconf cannot take (text, PDF and picture sources, sets, graphs, links, codings of a
whole source) is counted, so that the import can say it left it out.
"""

from dataclasses import dataclass, field

from lxml import etree

from autoconf.errors import Invalid
from autoconf.interop import safexml
from autoconf.interop.safezip import SafeZip

PROJECT_FILE = "project.qde"
MAX_PROJECT_BYTES = 64 * 1024 * 1024
AV_SOURCES = {"VideoSource": "video", "AudioSource": "audio"}
OTHER_SOURCES = {"TextSource": "text", "PDFSource": "pdf", "PictureSource": "picture"}


@dataclass
class QdaCodeIn:
    guid: str
    name: str
    codable: bool
    color: str
    description: str
    children: list["QdaCodeIn"] = field(default_factory=list)


@dataclass
class QdaSelectionIn:
    guid: str
    name: str
    begin: int
    end: int
    creating_user: str | None
    codings: list[tuple[str, str | None]]  # (code GUID, coding user GUID)
    note_refs: list[str]


@dataclass
class QdaTranscriptIn:
    text: str
    points: list[tuple[int, int]]  # (time stamp ms, position in the text)


@dataclass
class QdaSourceIn:
    guid: str
    kind: str  # video, audio, text, pdf, picture
    name: str
    path: str
    selections: list[QdaSelectionIn] = field(default_factory=list)
    transcripts: list[QdaTranscriptIn] = field(default_factory=list)
    whole_codings: int = 0


@dataclass
class QdaCaseIn:
    guid: str
    name: str
    source_guids: list[str]


@dataclass
class QdaProjectIn:
    name: str
    origin: str
    users: dict[str, str]
    codes: list[QdaCodeIn]
    sources: list[QdaSourceIn]
    notes: dict[str, str]
    cases: list[QdaCaseIn]
    others: dict[str, int]  # what autoconf leaves out, by kind, counted


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if safexml.local(child) == name]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: etree._Element | None) -> str:
    return str(element.text or "").strip() if element is not None else ""


def _integer(element: etree._Element, attribute: str, name: str) -> int:
    value = element.get(attribute, "")
    try:
        number = int(value)
    except ValueError:
        raise Invalid(
            f"« {name} », ligne {element.sourceline} : {attribute}=« {value[:40]} » n'est pas un "
            "nombre entier."
        ) from None
    if number < 0:
        raise Invalid(f"« {name} », ligne {element.sourceline} : {attribute} est négatif.")
    return number


def _code(element: etree._Element) -> QdaCodeIn:
    return QdaCodeIn(
        guid=element.get("guid", ""),
        name=element.get("name", "").strip(),
        codable=element.get("isCodable", "true") != "false",
        color=element.get("color", ""),
        description=_text(_child(element, "Description")),
        children=[_code(child) for child in _children(element, "Code")],
    )


def _selection(element: etree._Element, name: str) -> QdaSelectionIn:
    codings = []
    for coding in _children(element, "Coding"):
        reference = _child(coding, "CodeRef")
        if reference is not None:
            codings.append((reference.get("targetGUID", ""), coding.get("creatingUser")))
    return QdaSelectionIn(
        guid=element.get("guid", ""),
        name=element.get("name", ""),
        begin=_integer(element, "begin", name),
        end=_integer(element, "end", name),
        creating_user=element.get("creatingUser"),
        codings=codings,
        note_refs=[r.get("targetGUID", "") for r in _children(element, "NoteRef")],
    )


def _transcript(element: etree._Element, archive: SafeZip, name: str) -> QdaTranscriptIn:
    text = _text(_child(element, "PlainTextContent"))
    path = element.get("plainTextPath", "")
    if not text and path.startswith("internal://"):
        entry = f"sources/{path.removeprefix('internal://')}"
        text = archive.read(entry).decode("utf-8-sig", errors="replace")
    points = [
        (_integer(p, "timeStamp", name), _integer(p, "position", name))
        for p in _children(element, "SyncPoint")
        if p.get("timeStamp") is not None and p.get("position") is not None
    ]
    return QdaTranscriptIn(text, sorted(points, key=lambda p: (p[1], p[0])))


def read_project(archive: SafeZip) -> QdaProjectIn:
    """The project of a `.qdpx`; Invalid (French, naming the file and line) otherwise."""
    name = archive.name
    if not archive.has(PROJECT_FILE):
        raise Invalid(
            f"« {name} » n'est pas un projet REFI-QDA : il ne contient pas de « {PROJECT_FILE} »."
        )
    root = safexml.parse(archive.read(PROJECT_FILE, MAX_PROJECT_BYTES), f"{name} › {PROJECT_FILE}")
    if safexml.local(root) != "Project":
        raise Invalid(
            f"« {name} › {PROJECT_FILE} » n'est pas un projet REFI-QDA (élément racine "
            f"« {safexml.local(root)} »)."
        )
    qde = f"{name} › {PROJECT_FILE}"
    users_element = _child(root, "Users")
    users = {
        u.get("guid", ""): u.get("name", "") or u.get("id", "")
        for u in (_children(users_element, "User") if users_element is not None else [])
    }
    book = _child(root, "CodeBook")
    codes_element = _child(book, "Codes") if book is not None else None
    codes = (
        [_code(c) for c in _children(codes_element, "Code")] if codes_element is not None else []
    )
    sources: list[QdaSourceIn] = []
    holder = _child(root, "Sources")
    for element in list(holder) if holder is not None else []:
        tag = safexml.local(element)
        kind = AV_SOURCES.get(tag) or OTHER_SOURCES.get(tag, tag)
        source = QdaSourceIn(
            guid=element.get("guid", ""),
            kind=kind,
            name=element.get("name", "").strip(),
            path=element.get("path", ""),
            whole_codings=len(_children(element, "Coding")),
        )
        if tag in AV_SOURCES:
            selection_tag = "VideoSelection" if kind == "video" else "AudioSelection"
            source.selections = [_selection(s, qde) for s in _children(element, selection_tag)]
            source.transcripts = [
                _transcript(t, archive, qde) for t in _children(element, "Transcript")
            ]
        sources.append(source)
    notes_element = _child(root, "Notes")
    notes = {
        n.get("guid", ""): _text(_child(n, "PlainTextContent"))
        for n in (_children(notes_element, "Note") if notes_element is not None else [])
    }
    cases_element = _child(root, "Cases")
    cases = [
        QdaCaseIn(
            c.get("guid", ""),
            c.get("name", "").strip(),
            [r.get("targetGUID", "") for r in _children(c, "SourceRef")],
        )
        for c in (_children(cases_element, "Case") if cases_element is not None else [])
    ]
    others: dict[str, int] = {}
    for kind in ("Sets", "Graphs", "Links", "Variables"):
        element = _child(root, kind)
        if element is not None and len(element):
            others[kind] = len(element)
    return QdaProjectIn(
        name=root.get("name", "").strip(),
        origin=root.get("origin", ""),
        users=users,
        codes=codes,
        sources=sources,
        notes=notes,
        cases=cases,
        others=others,
    )
