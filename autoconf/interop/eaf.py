"""A recording's annotations as an ELAN file (EAF 3.0).

Tiers: one per layer and author (the transcript: one per speaker), named in French
("Schèmes — claire"); a tier never holds two annotations at once (ELAN's rule), so what
overlaps (two codes on one segment, overlapping segments) goes to a second tier of the same
name with " (2)", and so on. Moments (prepared marks, stops) become intervals of MOMENT_MS on
tiers of the linguistic type `moment`, so that they can come back as moments. Each coded
annotation carries its code's value and `CVE_REF`; each codebook is a multilingual
controlled vocabulary (`CV_ENTRY_ML`: the code's path and description in French, and in
English when the code has an English label). A segment's note and structured fields are
reference annotations (`REF_ANNOTATION`, symbolic association) on child tiers. What was said
at a stop of a live session is a chain of reference annotations under it (symbolic
subdivision: several per stop, in the order they were typed), each value naming its speaker
("Conseillère : …"). Time slots are numbered in time order; ids are unique in the file.
"""

import mimetypes
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import PurePath

from lxml import etree

from autoconf import __version__
from autoconf.live import wording
from autoconf.schemes.tables import xml_safe

MOMENT_MS = 200
LAYER_NAMES = {
    "prepared": "Moments préparés",
    "stops": "Arrêts",
    "schemes": "Schèmes",
    "consensus": "Consensus",
    "phases": "Phases",
    "categories": "Catégories",
    "transcript": "Transcription",
}
MOMENT_LAYERS = ("prepared", "stops")
# The linguistic types of the file (ELAN needs each tier's type declared).
SEGMENT, MOMENT, NOTE, COMMENTS = "segment", "moment", "note", "comments"
# The child tier of a stop's comments: "Arrêts — claire — commentaires".
COMMENTS_TIER = "commentaires"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
FRENCH = "fra"
FRENCH_DEF = "http://cdb.iso.org/lg/CDB-00130975-001"
ENGLISH = "eng"
ENGLISH_DEF = "http://cdb.iso.org/lg/CDB-00138502-001"


@dataclass(frozen=True)
class Comment:
    """Something said at a stop of a live session: by the counsellor or a researcher
    (`speaker`), whose grammatical `gender` names them ("Conseillère", "Chercheur")."""

    speaker: str
    text: str
    gender: str = ""


@dataclass(frozen=True)
class Item:
    """One annotation to write (what `schemes.annotations.AnnotationView` says of it)."""

    start_ms: int
    end_ms: int | None
    layer: str
    author: str
    code_ids: Sequence[int] = ()
    note: str = ""
    speaker: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    comments: Sequence[Comment] = ()


@dataclass(frozen=True)
class Entry:
    """A code of a codebook, as a vocabulary entry: its value and description in French, and
    in English when `label_en` is set; `codebook_en` describes the vocabulary in English
    (default: its French name)."""

    code_id: int
    codebook: str
    label: str
    description: str = ""
    label_en: str = ""
    description_en: str = ""
    codebook_en: str = ""


@dataclass
class _Tier:
    name: str
    type_ref: str
    participant: str = ""
    annotator: str = ""
    parent: str | None = None
    vocabulary: str | None = None
    # (annotation id, start slot, end slot, value, cve) or
    # (annotation id, parent id, value, previous annotation id under the same parent)
    aligned: list[tuple[str, str, str, str, str | None]] = field(default_factory=list)
    references: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    busy_until: int = -1


def write_eaf(
    items: Iterable[Item],
    entries: Iterable[Entry],
    media_name: str,
    author: str = "",
    now: datetime | None = None,
) -> bytes:
    """The EAF document (UTF-8 bytes) of `items`, the vocabularies of `entries`. Characters
    XML cannot hold (control characters a text may carry) are left out."""
    items = [_xml_item(item) for item in items]
    entries = [
        replace(
            e,
            codebook=xml_safe(e.codebook),
            label=xml_safe(e.label),
            description=xml_safe(e.description),
            label_en=xml_safe(e.label_en),
            description_en=xml_safe(e.description_en),
            codebook_en=xml_safe(e.codebook_en),
        )
        for e in entries
    ]
    media_name, author = xml_safe(media_name), xml_safe(author)
    by_code = {entry.code_id: entry for entry in entries}
    vocabularies: dict[str, list[Entry]] = defaultdict(list)
    for entry in by_code.values():
        vocabularies[entry.codebook].append(entry)
    times: set[int] = set()
    # What goes on which tier: each annotation's interval and value.
    planned: list[tuple[tuple[str, str, str], int, int, str, Entry | None, Item]] = []
    for item in sorted(items, key=lambda i: (i.start_ms, i.end_ms or i.start_ms)):
        moment = item.layer in MOMENT_LAYERS or not item.end_ms or item.end_ms <= item.start_ms
        start = item.start_ms
        end = start + MOMENT_MS if moment else (item.end_ms or start)
        who = (item.speaker or "?") if item.layer == "transcript" else item.author
        base = (item.layer, who, MOMENT if moment else SEGMENT)
        codes: list[Entry | None] = [by_code[c] for c in item.code_ids if c in by_code] or [None]
        for code in codes:
            value = code.label if code else (item.note if item.layer == "transcript" else "")
            planned.append((base, start, end, value, code, item))
        times.update((start, end))
    slot_of = {ms: f"ts{n}" for n, ms in enumerate(sorted(times), start=1)}

    tiers: dict[str, _Tier] = {}
    order: list[str] = []
    counter = 0

    def tier_for(base: tuple[str, str, str], start: int, vocabulary: str | None) -> _Tier:
        layer, who, kind = base
        name = f"{LAYER_NAMES.get(layer, layer)} — {who}"
        if kind == MOMENT and layer not in MOMENT_LAYERS:  # a moment coded on a layer of segments
            name += " · moments"
        number = 1
        while True:
            tier_name = name if number == 1 else f"{name} ({number})"
            tier = tiers.get(tier_name)
            if tier is None:
                tier = _Tier(tier_name, kind, annotator=who if layer != "transcript" else "")
                if layer == "transcript":
                    tier.participant = who
                tiers[tier_name] = tier
                order.append(tier_name)
            if tier.busy_until <= start and (tier.vocabulary in (None, vocabulary)):
                return tier
            number += 1

    def child_tier(parent: _Tier, label: str, kind: str) -> _Tier:
        name = f"{parent.name} — {label}"
        child = tiers.get(name)
        if child is None:
            child = _Tier(name, kind, annotator=parent.annotator, parent=parent.name)
            tiers[name] = child
            order.append(name)
        return child

    notes: dict[str, str] = {}  # a segment's first annotation id, by the segment's identity
    for base, start, end, value, chosen, item in planned:
        vocabulary = chosen.codebook if chosen else None
        tier = tier_for(base, start, vocabulary)
        if vocabulary and tier.vocabulary is None:
            tier.vocabulary = vocabulary
        counter += 1
        annotation_id = f"a{counter}"
        cve = f"c{chosen.code_id}" if chosen else None
        tier.aligned.append((annotation_id, slot_of[start], slot_of[end], value, cve))
        tier.busy_until = end
        key = str(id(item))
        if key in notes:
            continue
        notes[key] = annotation_id
        children = []
        if item.note and item.layer != "transcript":
            children.append(("note", item.note))
        children += sorted(item.fields.items())
        for label, text in children:
            child = child_tier(tier, label, NOTE)
            counter += 1
            child.references.append((f"a{counter}", annotation_id, text, None))
        previous = None
        for comment in item.comments:
            child = child_tier(tier, COMMENTS_TIER, COMMENTS)
            counter += 1
            child.references.append((f"a{counter}", annotation_id, _said(comment), previous))
            previous = f"a{counter}"

    return _document(tiers, order, slot_of, vocabularies, media_name, author, now)


def _said(comment: Comment) -> str:
    """A comment as its value: "Conseillère : …" (the file is French, as its tier names)."""
    speaker = wording.label(comment.speaker, comment.gender, "fr").capitalize()
    return f"{speaker} : {comment.text}"


def _document(
    tiers: dict[str, _Tier],
    order: list[str],
    slot_of: dict[int, str],
    vocabularies: dict[str, list[Entry]],
    media_name: str,
    author: str,
    now: datetime | None,
) -> bytes:
    root = etree.Element(
        "ANNOTATION_DOCUMENT",
        nsmap={"xsi": XSI},
        AUTHOR=author,
        DATE=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        FORMAT="3.0",
        VERSION="3.0",
    )
    root.set(f"{{{XSI}}}noNamespaceSchemaLocation", SCHEMA)
    header = etree.SubElement(root, "HEADER", MEDIA_FILE="", TIME_UNITS="milliseconds")
    name = PurePath(media_name).name or "media"
    mime = mimetypes.guess_type(name)[0] or "video/mp4"
    etree.SubElement(
        header, "MEDIA_DESCRIPTOR", MEDIA_URL=name, MIME_TYPE=mime, RELATIVE_MEDIA_URL=f"./{name}"
    )
    last = etree.SubElement(header, "PROPERTY", NAME="lastUsedAnnotationId")
    last.text = str(sum(len(t.aligned) + len(t.references) for t in tiers.values()))
    made = etree.SubElement(header, "PROPERTY", NAME="autoconf")
    made.text = __version__
    time_order = etree.SubElement(root, "TIME_ORDER")
    for ms, slot in sorted(slot_of.items()):
        etree.SubElement(time_order, "TIME_SLOT", TIME_SLOT_ID=slot, TIME_VALUE=str(ms))
    for tier_name in order:
        tier = tiers[tier_name]
        element = etree.SubElement(
            root, "TIER", TIER_ID=tier.name, LINGUISTIC_TYPE_REF=_type_id(tier)
        )
        if tier.participant:
            element.set("PARTICIPANT", tier.participant)
        if tier.annotator:
            element.set("ANNOTATOR", tier.annotator)
        if tier.parent:
            element.set("PARENT_REF", tier.parent)
        for annotation_id, start, end, value, cve in tier.aligned:
            holder = etree.SubElement(element, "ANNOTATION")
            aligned = etree.SubElement(
                holder,
                "ALIGNABLE_ANNOTATION",
                ANNOTATION_ID=annotation_id,
                TIME_SLOT_REF1=start,
                TIME_SLOT_REF2=end,
            )
            if cve:
                aligned.set("CVE_REF", cve)
            etree.SubElement(aligned, "ANNOTATION_VALUE").text = value
        for annotation_id, parent_id, value, previous in tier.references:
            holder = etree.SubElement(element, "ANNOTATION")
            reference = etree.SubElement(
                holder, "REF_ANNOTATION", ANNOTATION_ID=annotation_id, ANNOTATION_REF=parent_id
            )
            if previous:
                reference.set("PREVIOUS_ANNOTATION", previous)
            etree.SubElement(reference, "ANNOTATION_VALUE").text = value
    types = {(_type_id(t), t.type_ref, t.vocabulary) for t in tiers.values()}
    for type_id, kind, vocabulary in sorted(types, key=lambda t: t[0]):
        linguistic = etree.SubElement(
            root,
            "LINGUISTIC_TYPE",
            LINGUISTIC_TYPE_ID=type_id,
            TIME_ALIGNABLE="false" if kind in (NOTE, COMMENTS) else "true",
            GRAPHIC_REFERENCES="false",
        )
        if kind == NOTE:
            linguistic.set("CONSTRAINTS", "Symbolic_Association")
        elif kind == COMMENTS:
            linguistic.set("CONSTRAINTS", "Symbolic_Subdivision")
        if vocabulary:
            linguistic.set("CONTROLLED_VOCABULARY_REF", vocabulary)
    etree.SubElement(root, "LANGUAGE", LANG_ID=FRENCH, LANG_DEF=FRENCH_DEF, LANG_LABEL="French")
    if vocabularies:  # each vocabulary is described in English too
        etree.SubElement(
            root, "LANGUAGE", LANG_ID=ENGLISH, LANG_DEF=ENGLISH_DEF, LANG_LABEL="English"
        )
    for stereotype, description in (
        ("Time_Subdivision", "Time subdivision of parent annotation's time interval"),
        ("Symbolic_Subdivision", "Symbolic subdivision of a parent annotation"),
        ("Symbolic_Association", "1-1 association with a parent annotation"),
        ("Included_In", "Time alignable annotations within the parent annotation's interval"),
    ):
        etree.SubElement(root, "CONSTRAINT", STEREOTYPE=stereotype, DESCRIPTION=description)
    for codebook, codes in vocabularies.items():
        vocabulary = etree.SubElement(root, "CONTROLLED_VOCABULARY", CV_ID=codebook)
        etree.SubElement(vocabulary, "DESCRIPTION", LANG_REF=FRENCH).text = codebook
        english = next((c.codebook_en for c in codes if c.codebook_en), codebook)
        etree.SubElement(vocabulary, "DESCRIPTION", LANG_REF=ENGLISH).text = english
        for code in codes:
            entry = etree.SubElement(vocabulary, "CV_ENTRY_ML", CVE_ID=f"c{code.code_id}")
            values = [(FRENCH, code.label, code.description)]
            if code.label_en:
                values.append((ENGLISH, code.label_en, code.description_en))
            for language, text, description in values:
                value = etree.SubElement(entry, "CVE_VALUE", LANG_REF=language)
                if description:
                    value.set("DESCRIPTION", description)
                value.text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _xml_item(item: Item) -> Item:
    return replace(
        item,
        author=xml_safe(item.author),
        note=xml_safe(item.note),
        speaker=xml_safe(item.speaker) if item.speaker else item.speaker,
        fields={xml_safe(k): xml_safe(v) for k, v in item.fields.items()},
        comments=[replace(c, text=xml_safe(c.text)) for c in item.comments],
    )


def _type_id(tier: _Tier) -> str:
    """A linguistic type per kind and vocabulary (ELAN binds a vocabulary to a type)."""
    return f"{tier.type_ref} · {tier.vocabulary}" if tier.vocabulary else tier.type_ref
