"""ELAN files (EAF 2.7 to 3.0) read: tiers with their linguistic type (its constraint, its
controlled vocabulary), parent, participant and annotator; every annotation with its times.

ELAN leaves the times of some annotations implicit; they are worked out as ELAN draws them:
- a time slot without a value (inside a time subdivision) is spread evenly between the
  nearest slots with a value along its tier's chain of annotations, else along the
  document's time order;
- a reference annotation (`REF_ANNOTATION`) takes its parent's interval; under a symbolic
  subdivision, the children of one parent share its interval in equal parts, in the order of
  their `PREVIOUS_ANNOTATION` chain;
- the first media descriptor's `TIME_ORIGIN` (the media's offset) is added to every time.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from autoconf.errors import Invalid
from autoconf.interop import safexml

MAX_TIERS = 1_000
MAX_ANNOTATIONS = 200_000  # a densely coded 90-minute session has a few thousand


@dataclass
class EafAnnotation:
    id: str
    value: str
    start_slot: str | None = None
    end_slot: str | None = None
    parent_id: str | None = None  # a reference annotation's parent
    previous_id: str | None = None
    cve_ref: str | None = None
    start_ms: int = 0
    end_ms: int = 0


@dataclass
class EafTier:
    id: str
    linguistic_type: str
    parent: str | None
    participant: str
    annotator: str
    constraint: str | None
    time_alignable: bool
    vocabulary: str | None
    annotations: list[EafAnnotation] = field(default_factory=list)

    @property
    def dependent(self) -> bool:
        return self.parent is not None


FRENCH = ("fra", "fre", "fr", "")  # "": EAF 2.7, or a value without a language
ENGLISH = ("eng", "en")


def _in(texts: dict[str, str], languages: tuple[str, ...]) -> str:
    return next((texts[language] for language in languages if texts.get(language)), "")


@dataclass
class EafEntry:
    id: str
    values: dict[str, str]  # by language (EAF 2.7: one value, language "")
    descriptions: dict[str, str]

    @property
    def value(self) -> str:
        """In French, else in the first language given."""
        return _in(self.values, FRENCH) or next(iter(self.values.values()), "")

    @property
    def description(self) -> str:
        """In French, else in the first language given."""
        return _in(self.descriptions, FRENCH) or next(iter(self.descriptions.values()), "")

    @property
    def value_en(self) -> str:
        """In English ("" when there is none)."""
        return _in(self.values, ENGLISH)

    @property
    def description_en(self) -> str:
        return _in(self.descriptions, ENGLISH)


@dataclass
class EafVocabulary:
    id: str
    description: str
    entries: list[EafEntry]

    def entry(self, entry_id: str) -> EafEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


@dataclass
class EafMedia:
    url: str
    mime_type: str
    time_origin_ms: int


@dataclass
class EafDocument:
    name: str
    format: str
    media: list[EafMedia]
    tiers: list[EafTier]
    vocabularies: list[EafVocabulary]

    def tier(self, tier_id: str) -> EafTier | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def vocabulary(self, cv_id: str | None) -> EafVocabulary | None:
        return next((v for v in self.vocabularies if v.id == cv_id), None)


def read(content: bytes, name: str) -> EafDocument:
    """The document of an ELAN file; Invalid (French, naming the line or the element) when
    it is not one, or not a safe one."""
    root = safexml.parse(content, name)
    if safexml.local(root) != "ANNOTATION_DOCUMENT":
        raise Invalid(
            f"« {name} » n'est pas un fichier ELAN (.eaf) : son élément racine est "
            f"« {safexml.local(root)} » et non « ANNOTATION_DOCUMENT »."
        )
    version = root.get("FORMAT") or root.get("VERSION") or ""
    header = root.find("HEADER")
    media = [
        EafMedia(
            url=m.get("MEDIA_URL", ""),
            mime_type=m.get("MIME_TYPE", ""),
            time_origin_ms=_integer(m, "TIME_ORIGIN", name, default=0),
        )
        for m in (header.findall("MEDIA_DESCRIPTOR") if header is not None else [])
    ]
    slots: dict[str, int | None] = {}
    order: list[str] = []
    for slot in root.iterfind("TIME_ORDER/TIME_SLOT"):
        slot_id = _required(slot, "TIME_SLOT_ID", name)
        slots[slot_id] = _integer(slot, "TIME_VALUE", name, default=None)
        order.append(slot_id)
    types = {t.get("LINGUISTIC_TYPE_ID", ""): t for t in root.iterfind("LINGUISTIC_TYPE")}
    vocabularies = [_vocabulary(cv) for cv in root.iterfind("CONTROLLED_VOCABULARY")]
    tiers: list[EafTier] = []
    seen: set[str] = set()
    total = 0
    for element in root.iterfind("TIER"):
        tier = _tier(element, types, name)
        if tier.id in seen:
            raise Invalid(
                f"« {name} » a deux pistes nommées « {tier.id} » (ligne {element.sourceline})."
            )
        seen.add(tier.id)
        total += len(tier.annotations)
        if len(tiers) >= MAX_TIERS or total > MAX_ANNOTATIONS:
            raise Invalid(
                f"« {name} » est trop grand pour être importé d'un coup (plus de {MAX_TIERS} "
                f"pistes ou de {MAX_ANNOTATIONS} annotations)."
            )
        tiers.append(tier)
    document = EafDocument(name, version, media, tiers, vocabularies)
    _check_references(document, slots)
    _resolve_times(document, slots, order)
    return document


def _required(element: etree._Element, attribute: str, name: str) -> str:
    value = element.get(attribute)
    if not value:
        raise Invalid(
            f"« {name} », ligne {element.sourceline} : l'élément {safexml.local(element)} n'a "
            f"pas d'attribut {attribute}."
        )
    return str(value)


def _integer(element: etree._Element, attribute: str, name: str, default: Any) -> Any:
    value = element.get(attribute)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(
            f"« {name} », ligne {element.sourceline} : {attribute}=« {value} » n'est pas un "
            "nombre entier de millisecondes."
        ) from None
    if number < 0:
        raise Invalid(f"« {name} », ligne {element.sourceline} : {attribute} est négatif.")
    return number


def _text(element: etree._Element | None) -> str:
    return str(element.text or "").strip() if element is not None else ""


def _vocabulary(element: etree._Element) -> EafVocabulary:
    cv_id = element.get("CV_ID", "")
    description = element.get("DESCRIPTION") or _text(element.find("DESCRIPTION"))
    entries: list[EafEntry] = []
    for number, entry in enumerate(element.iterfind("CV_ENTRY_ML"), start=1):
        values: dict[str, str] = {}
        descriptions: dict[str, str] = {}
        for value in entry.iterfind("CVE_VALUE"):
            language = value.get("LANG_REF", "")
            values[language] = _text(value)
            if value.get("DESCRIPTION"):
                descriptions[language] = value.get("DESCRIPTION", "")
        entries.append(EafEntry(entry.get("CVE_ID") or f"#{number}", values, descriptions))
    for number, entry in enumerate(element.iterfind("CV_ENTRY"), start=1):  # EAF 2.7
        entries.append(
            EafEntry(
                entry.get("CVE_ID") or f"#{number}",
                {"": _text(entry)},
                {"": entry.get("DESCRIPTION", "")} if entry.get("DESCRIPTION") else {},
            )
        )
    return EafVocabulary(cv_id, description, entries)


def _tier(element: etree._Element, types: dict[str, etree._Element], name: str) -> EafTier:
    tier_id = _required(element, "TIER_ID", name)
    type_id = element.get("LINGUISTIC_TYPE_REF", "")
    kind = types.get(type_id)
    constraint = kind.get("CONSTRAINTS") if kind is not None else None
    alignable = (kind.get("TIME_ALIGNABLE", "true") if kind is not None else "true") == "true"
    tier = EafTier(
        id=tier_id,
        linguistic_type=type_id,
        parent=element.get("PARENT_REF") or None,
        participant=element.get("PARTICIPANT", "").strip(),
        annotator=element.get("ANNOTATOR", "").strip(),
        constraint=constraint,
        time_alignable=alignable,
        vocabulary=kind.get("CONTROLLED_VOCABULARY_REF") if kind is not None else None,
    )
    for holder in element.iterfind("ANNOTATION"):
        for annotation in holder:
            kind_name = safexml.local(annotation)
            annotation_id = _required(annotation, "ANNOTATION_ID", name)
            value = _text(annotation.find("ANNOTATION_VALUE"))
            if kind_name == "ALIGNABLE_ANNOTATION":
                tier.annotations.append(
                    EafAnnotation(
                        annotation_id,
                        value,
                        start_slot=_required(annotation, "TIME_SLOT_REF1", name),
                        end_slot=_required(annotation, "TIME_SLOT_REF2", name),
                        cve_ref=annotation.get("CVE_REF"),
                    )
                )
            elif kind_name == "REF_ANNOTATION":
                tier.annotations.append(
                    EafAnnotation(
                        annotation_id,
                        value,
                        parent_id=_required(annotation, "ANNOTATION_REF", name),
                        previous_id=annotation.get("PREVIOUS_ANNOTATION"),
                        cve_ref=annotation.get("CVE_REF"),
                    )
                )
    return tier


def _check_references(document: EafDocument, slots: dict[str, int | None]) -> None:
    ids: set[str] = set()
    for tier in document.tiers:
        if tier.parent is not None and document.tier(tier.parent) is None:
            raise Invalid(
                f"« {document.name} » : la piste « {tier.id} » dépend de « {tier.parent} », "
                "qui n'existe pas."
            )
        for annotation in tier.annotations:
            if annotation.id in ids:
                raise Invalid(
                    f"« {document.name} » : deux annotations ont l'identifiant « {annotation.id} »."
                )
            ids.add(annotation.id)
            for slot in (annotation.start_slot, annotation.end_slot):
                if slot is not None and slot not in slots:
                    raise Invalid(
                        f"« {document.name} » : l'annotation « {annotation.id} » (piste "
                        f"« {tier.id} ») renvoie au repère de temps « {slot} », qui n'existe pas."
                    )
    for tier in document.tiers:
        for annotation in tier.annotations:
            if annotation.parent_id is not None and annotation.parent_id not in ids:
                raise Invalid(
                    f"« {document.name} » : l'annotation « {annotation.id} » (piste "
                    f"« {tier.id} ») renvoie à l'annotation « {annotation.parent_id} », qui "
                    "n'existe pas."
                )


def _resolve_times(document: EafDocument, slots: dict[str, int | None], order: list[str]) -> None:
    times = dict(slots)
    # 1. Along each tier's chains of annotations (a time subdivision shares its boundaries).
    for tier in document.tiers:
        starting = {a.start_slot: a for a in tier.annotations if a.start_slot is not None}
        ending = {a.end_slot for a in tier.annotations if a.end_slot is not None}
        for first in (a for a in tier.annotations if a.start_slot not in ending):
            if first.start_slot is None:
                continue
            chain = [first.start_slot]
            current: EafAnnotation | None = first
            while current is not None and current.end_slot is not None:
                if current.end_slot in chain:
                    break
                chain.append(current.end_slot)
                current = starting.get(current.end_slot)
            _spread(chain, times)
    # 2. What is left, along the document's time order.
    _spread(order, times)
    known = [t for t in times.values() if t is not None]
    fallback = min(known) if known else 0
    origin = document.media[0].time_origin_ms if document.media else 0
    by_id: dict[str, EafAnnotation] = {}
    for tier in document.tiers:
        for annotation in tier.annotations:
            by_id[annotation.id] = annotation
            if annotation.start_slot is not None and annotation.end_slot is not None:
                start = times.get(annotation.start_slot)
                end = times.get(annotation.end_slot)
                annotation.start_ms = (start if start is not None else fallback) + origin
                annotation.end_ms = max(
                    (end if end is not None else fallback) + origin, annotation.start_ms
                )
    # 3. Reference annotations: their parent's interval, shared out under a subdivision.
    subdivided = {t.id for t in document.tiers if t.constraint == "Symbolic_Subdivision"}
    done: set[str] = set()

    def resolve(annotation: EafAnnotation, depth: int = 0) -> None:
        if annotation.parent_id is None or annotation.id in done:
            return
        if depth > len(by_id):
            raise Invalid(f"« {document.name} » : des annotations renvoient les unes aux autres.")
        parent = by_id[annotation.parent_id]
        resolve(parent, depth + 1)
        annotation.start_ms, annotation.end_ms = parent.start_ms, parent.end_ms
        done.add(annotation.id)

    for tier in document.tiers:
        for annotation in tier.annotations:
            resolve(annotation)
        if tier.id in subdivided:
            _share_out(tier)


def _spread(chain: list[str], times: dict[str, int | None]) -> None:
    """Give the slots of `chain` without a time evenly spaced times between the nearest slots
    before and after them that have one."""
    last_known: int | None = None
    for index, slot in enumerate(chain):
        if times.get(slot) is None:
            continue
        if last_known is not None and index - last_known > 1:
            before, after = times[chain[last_known]], times[slot]
            assert before is not None and after is not None
            steps = index - last_known
            for offset in range(1, steps):
                times[chain[last_known + offset]] = before + (after - before) * offset // steps
        last_known = index
    # Slots after the last known time (or with none at all) keep the last known one.
    if last_known is not None:
        for slot in chain[last_known + 1 :]:
            if times.get(slot) is None:
                times[slot] = times[chain[last_known]]


def _share_out(tier: EafTier) -> None:
    by_parent: dict[str, list[EafAnnotation]] = defaultdict(list)
    for annotation in tier.annotations:
        if annotation.parent_id is not None:
            by_parent[annotation.parent_id].append(annotation)
    for children in by_parent.values():
        ordered = _chain_order(children)
        start, end = ordered[0].start_ms, ordered[0].end_ms
        count = len(ordered)
        for index, child in enumerate(ordered):
            child.start_ms = start + (end - start) * index // count
            child.end_ms = start + (end - start) * (index + 1) // count


def _chain_order(children: list[EafAnnotation]) -> list[EafAnnotation]:
    after = {c.previous_id: c for c in children if c.previous_id}
    first = next((c for c in children if not c.previous_id), children[0])
    ordered = [first]
    while ordered[-1].id in after and len(ordered) < len(children):
        ordered.append(after[ordered[-1].id])
    ordered += [c for c in children if c not in ordered]
    return ordered
