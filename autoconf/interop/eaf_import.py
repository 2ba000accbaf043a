"""ELAN files (EAF 2.7 to 3.0) in: read, previewed, then imported as the user maps them.

Reading (`read`): tiers with their linguistic type (its constraint, its controlled
vocabulary), parent, participant and annotator; every annotation with its times. ELAN leaves
the times of some annotations implicit, and they are worked out as ELAN draws them:
- a time slot without a value (inside a time subdivision) is spread evenly between the
  nearest slots with a value along its tier's chain of annotations, else along the
  document's time order;
- a reference annotation (`REF_ANNOTATION`) takes its parent's interval; under a symbolic
  subdivision, the children of one parent share its interval in equal parts, in the order of
  their `PREVIOUS_ANNOTATION` chain;
- the media descriptor's `TIME_ORIGIN` (the media's offset) is added to every time.

Importing (`import_eaf`): each mapped tier to a layer, each mapped vocabulary to a codebook
(entries matched by code path, then by label; missing codes created on request); a tier with
no vocabulary keeps its values as notes; a dependent tier may instead fill its parent's note
or a structured field. Tiers "X (2)", "X (3)" (where autoconf's export puts what overlaps)
merge back into X's annotations of the same interval. Authors are found by the tier's
annotator, else its name ("Schèmes — claire"), among the study's members. One transaction:
a refusal leaves nothing behind.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from sqlmodel import Session, col, select

from autoconf.errors import Invalid
from autoconf.interop import safexml
from autoconf.interop.eaf import LAYER_NAMES, MOMENT, MOMENT_LAYERS
from autoconf.models import LAYERS, Codebook, Membership, Recording, User
from autoconf.schemes import annotations
from autoconf.schemes.codebooks import PATH_SEPARATOR, CodeNode, codebook_tree, create_code
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.schemes.timecode import format_ms

MAX_TIERS = 1_000
MAX_ANNOTATIONS = 200_000  # a densely coded 90-minute session has a few thousand
PREVIEW_VALUES = 5
NOTE = "note"
FIELD_PREFIX = "field:"
# A time past the recording's end by less than this is brought back to its end (rounding).
END_TOLERANCE_MS = 1_000
# Why a tier was not imported, why a value found no code (the page says it in words).
NOT_CHOSEN, LEFT_OUT, PARENT_NOT_IMPORTED = "not_chosen", "left_out", "parent_not_imported"
NOT_IN_CODEBOOK, ARCHIVED_CODE = "not_in_codebook", "archived_code"
NO_PARENT_ANNOTATION = "no_parent_annotation"
_SUFFIX = re.compile(r" \((\d+)\)$")
_MOMENTS_SUFFIX = " · moments"
# A code path's separator, where it is not part of a label ("Écouter / reformuler").
_PATH_SPLIT = re.compile(r"(?<! )" + re.escape(PATH_SEPARATOR) + r"(?! )")


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


@dataclass
class EafEntry:
    id: str
    values: dict[str, str]  # by language (EAF 2.7: one value, language "")
    descriptions: dict[str, str]

    @property
    def value(self) -> str:
        for language in ("fra", "fre", "fr", ""):
            if self.values.get(language):
                return self.values[language]
        return next(iter(self.values.values()), "")


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


# Reading ---------------------------------------------------------------------------------


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


# Preview ---------------------------------------------------------------------------------


def _layer_from_name(tier_id: str) -> str | None:
    base = _SUFFIX.sub("", tier_id)
    for layer, label in LAYER_NAMES.items():
        if base == label or base.startswith(f"{label} — "):
            return layer
    return None


def _who(tier: EafTier) -> str:
    """The author a tier names: its annotator, else what follows " — " in its name."""
    if tier.annotator:
        return tier.annotator
    base = _SUFFIX.sub("", tier.id).removesuffix(_MOMENTS_SUFFIX)
    return base.split(" — ", 1)[1].strip() if " — " in base else ""


def _speaker(tier: EafTier) -> str | None:
    """A transcript tier's speaker ("?" is how autoconf's export names cues without one)."""
    speaker = tier.participant or _who(tier) or _SUFFIX.sub("", tier.id)
    return None if speaker == "?" else speaker


def _dependent_target(tier: EafTier) -> str | None:
    """What a child tier of autoconf's export fills: its parent's note or a field."""
    suffix = tier.id.rsplit(" — ", 1)[-1] if " — " in tier.id else tier.id
    if suffix == NOTE:
        return NOTE
    for key, label in STRUCTURED_FIELDS.items():
        if suffix in (key, label):
            return FIELD_PREFIX + key
    return None


def suggested_mapping(
    session: Session, study_id: int, document: EafDocument
) -> tuple[dict[str, str | None], dict[str, int | None]]:
    """What the import page proposes: layers by autoconf's tier names (else: a coded tier
    to schemes, a speaker's tier to the transcript), vocabularies by codebook name, else by the
    codebook holding most of their entries."""
    books = session.exec(select(Codebook).where(Codebook.study_id == study_id)).all()
    vocabularies: dict[str, int | None] = {}
    for vocabulary in document.vocabularies:
        vocabularies[vocabulary.id] = _best_codebook(session, books, vocabulary)
    tiers: dict[str, str | None] = {}
    for tier in document.tiers:
        layer = _layer_from_name(tier.id)
        if tier.dependent and tier.constraint == "Symbolic_Association" and layer is not None:
            tiers[tier.id] = _dependent_target(tier)
        elif layer is not None:
            tiers[tier.id] = layer
        elif tier.dependent:
            tiers[tier.id] = None
        elif tier.vocabulary and vocabularies.get(tier.vocabulary):
            book = next(b for b in books if b.id == vocabularies[tier.vocabulary])
            tiers[tier.id] = book.kind if book.kind in LAYERS else "schemes"
        elif tier.participant:
            tiers[tier.id] = "transcript"
        else:
            tiers[tier.id] = None
    return tiers, vocabularies


def _best_codebook(
    session: Session, books: Iterable[Codebook], vocabulary: EafVocabulary
) -> int | None:
    names = {vocabulary.id.casefold(), vocabulary.description.casefold()}
    books = list(books)
    for book in books:
        if book.name.casefold() in names:
            return book.id
    values = {entry.value.casefold() for entry in vocabulary.entries}
    best, best_count = None, 0
    for book in books:
        assert book.id is not None
        nodes = codebook_tree(session, book.id)
        count = len(
            values & ({n.path.casefold() for n in nodes} | {n.label.casefold() for n in nodes})
        )
        if count > best_count:
            best, best_count = book.id, count
    return best if values and best_count * 2 >= len(values) else None


def preview(session: Session, recording: Recording, document: EafDocument) -> dict[str, Any]:
    """What the file holds and what the page proposes to do with it."""
    tiers, vocabularies = suggested_mapping(session, recording.study_id, document)
    return {
        "file": document.name,
        "format": document.format,
        "media": [
            {"url": m.url, "mime_type": m.mime_type, "time_origin_ms": m.time_origin_ms}
            for m in document.media
        ],
        "tiers": [
            {
                "id": tier.id,
                "annotations": len(tier.annotations),
                "linguistic_type": tier.linguistic_type,
                "constraint": tier.constraint,
                "time_alignable": tier.time_alignable,
                "parent": tier.parent,
                "participant": tier.participant,
                "annotator": tier.annotator,
                "vocabulary": tier.vocabulary,
                "first_values": [a.value for a in tier.annotations[:PREVIEW_VALUES]],
                "suggested": tiers[tier.id],
            }
            for tier in document.tiers
        ],
        "vocabularies": [
            {
                "id": vocabulary.id,
                "description": vocabulary.description,
                "entries": [
                    {
                        "id": e.id,
                        "value": e.value,
                        "values": e.values,
                        "descriptions": e.descriptions,
                    }
                    for e in vocabulary.entries
                ],
                "suggested": vocabularies[vocabulary.id],
            }
            for vocabulary in document.vocabularies
        ],
    }


# Import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    tiers: dict[str, str | None]
    vocabularies: dict[str, int | None]
    create_codes: bool = False


@dataclass
class _Planned:
    tier: EafTier
    start_ms: int
    end_ms: int | None
    layer: str
    author_id: int | None
    code_ids: list[int] = field(default_factory=list)
    note: str = ""
    speaker: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Codes:
    """A codebook's codes, found by path or label, created on request."""

    book: Codebook
    nodes: list[CodeNode]
    created: int = 0

    def find(self, value: str) -> CodeNode | None:
        wanted = value.casefold()
        by_path = [n for n in self.nodes if n.path.casefold() == wanted]
        by_label = [n for n in self.nodes if n.label.casefold() == wanted]
        found = by_path or (by_label if len(by_label) == 1 else [])
        return found[0] if found else None

    def create(self, session: Session, value: str, description: str) -> CodeNode:
        parts = [part.strip() for part in _PATH_SPLIT.split(value) if part.strip()]
        parent: CodeNode | None = None
        path = ""
        for depth, label in enumerate(parts):
            path = f"{path}{PATH_SEPARATOR}{label}" if path else label
            node = next((n for n in self.nodes if n.path.casefold() == path.casefold()), None)
            if node is None:
                last = depth == len(parts) - 1
                node = create_code(
                    session,
                    self.book,
                    label[:300],
                    parent_id=parent.id if parent else None,
                    description=description if last else "",
                )
                self.nodes.append(node)
                self.created += 1
            parent = node
        assert parent is not None
        return parent


def _check_mapping(
    session: Session, recording: Recording, document: EafDocument, mapping: Mapping
) -> dict[str, Codebook]:
    for tier_id, target in mapping.tiers.items():
        tier = document.tier(tier_id)
        if tier is None:
            raise Invalid(f"Le fichier n'a pas de piste « {tier_id} ».")
        if target is None or target in LAYERS:
            continue
        if target == NOTE or (
            target.startswith(FIELD_PREFIX) and target[len(FIELD_PREFIX) :] in STRUCTURED_FIELDS
        ):
            if not tier.dependent:
                raise Invalid(
                    f"La piste « {tier_id} » ne dépend d'aucune autre : elle ne peut pas remplir "
                    "la note ou un champ d'une annotation ; choisissez une couche."
                )
            continue
        choices = ", ".join(LAYERS)
        raise Invalid(
            f"« {target} » n'est pas une couche (pour la piste « {tier_id} ») : {choices}, ou "
            f"« {NOTE} » / « {FIELD_PREFIX}<champ> » pour une piste dépendante."
        )
    books: dict[str, Codebook] = {}
    for cv_id, book_id in mapping.vocabularies.items():
        if document.vocabulary(cv_id) is None:
            raise Invalid(f"Le fichier n'a pas de vocabulaire « {cv_id} ».")
        if book_id is None:
            continue
        book = session.get(Codebook, book_id)
        if book is None or book.study_id != recording.study_id:
            raise Invalid(f"Le livre de codes n° {book_id} n'est pas dans cette étude.")
        books[cv_id] = book
    return books


def _authors(session: Session, study_id: int) -> dict[str, int]:
    rows = session.exec(
        select(User.username, User.id)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(Membership.study_id == study_id)
    ).all()
    return {username.casefold(): user_id for username, user_id in rows if user_id is not None}


def import_eaf(
    session: Session, recording: Recording, user: User, document: EafDocument, mapping: Mapping
) -> dict[str, Any]:
    """Create the annotations of the mapped tiers; what was created, and what was not and
    why. The caller commits (or rolls back on an error: nothing is left behind)."""
    books = _check_mapping(session, recording, document, mapping)
    run = _Import(session, recording, user, document, mapping, books)
    for tier in document.tiers:
        target = mapping.tiers.get(tier.id)
        if target is None:
            reason = LEFT_OUT if tier.id in mapping.tiers else NOT_CHOSEN
            run.skipped.append({"tier": tier.id, "reason": reason})
        elif target in LAYERS:
            run.plan_tier(tier, target)
    for tier in document.tiers:  # then what dependent tiers add to those annotations
        target = mapping.tiers.get(tier.id)
        if target is not None and target not in LAYERS:
            run.attach(tier, target)
    return run.write()


class _Import:
    """One import: annotations planned tier by tier, completed by dependent tiers, then
    written."""

    def __init__(
        self,
        session: Session,
        recording: Recording,
        user: User,
        document: EafDocument,
        mapping: Mapping,
        books: dict[str, Codebook],
    ) -> None:
        self.session, self.recording, self.user = session, recording, user
        self.document, self.mapping = document, mapping
        self.codes = {
            cv_id: _Codes(book, codebook_tree(session, book.id or 0))
            for cv_id, book in books.items()
        }
        self.members = _authors(session, recording.study_id)
        if user.id is not None:
            self.members.setdefault(user.username.casefold(), user.id)
        self.authors: dict[str, dict[str, Any]] = {}
        self.skipped: list[dict[str, str]] = []
        self.unmatched: Counter[tuple[str, str, str]] = Counter()
        self.planned: list[_Planned] = []
        self.by_annotation: dict[str, _Planned] = {}
        # Where "X (2)" merges into X: (base tier, layer, author, start, end) → annotation.
        self.merged: dict[tuple[str, str, int | None, int, int | None], _Planned] = {}
        self.attached = 0

    def author_of(self, tier: EafTier, target: str) -> int | None:
        if target == "transcript":  # the transcript's tiers are its speakers
            return self.user.id
        who = _who(tier)
        found = self.members.get(who.casefold()) if who else None
        if who and who not in self.authors:
            self.authors[who] = {"name": who, "found": found is not None}
        return found if found is not None else self.user.id

    def interval(self, tier: EafTier, annotation: EafAnnotation) -> tuple[int, int]:
        start, end = annotation.start_ms, annotation.end_ms
        duration = self.recording.duration_ms
        if duration is None:
            return start, end
        if start > duration + END_TOLERANCE_MS:
            raise Invalid(
                f"L'annotation de {format_ms(start)} (piste « {tier.id} ») est au-delà de "
                f"la fin de l'enregistrement ({format_ms(duration)}) : est-ce le bon fichier ?"
            )
        return min(start, duration), min(end, duration)

    def plan_tier(self, tier: EafTier, target: str) -> None:
        author_id = self.author_of(tier, target)
        moment = target in MOMENT_LAYERS or tier.linguistic_type.split(" · ")[0] == MOMENT
        base = _SUFFIX.sub("", tier.id)
        for annotation in tier.annotations:
            start, end = self.interval(tier, annotation)
            item = _Planned(tier, start, None if moment or end <= start else end, target, author_id)
            if target == "transcript":
                item.note, item.speaker = annotation.value, _speaker(tier)
            else:
                self.code(tier, annotation, item)
            key = (base, target, author_id, item.start_ms, item.end_ms)
            twin = self.merged.get(key)
            if twin is not None and twin.tier is not tier and item.code_ids and not item.note:
                twin.code_ids += [c for c in item.code_ids if c not in twin.code_ids]
                self.by_annotation[annotation.id] = twin
                continue
            self.merged.setdefault(key, item)
            self.by_annotation[annotation.id] = item
            self.planned.append(item)

    def code(self, tier: EafTier, annotation: EafAnnotation, item: _Planned) -> None:
        """The annotation's code (its vocabulary entry, else its value) in the mapped
        codebook; without a mapped codebook, or when none matches, its value as the note."""
        book = self.codes.get(tier.vocabulary or "")
        if book is None or not (annotation.value or annotation.cve_ref):
            item.note = annotation.value
            return
        vocabulary = self.document.vocabulary(tier.vocabulary)
        entry = vocabulary.entry(annotation.cve_ref) if vocabulary and annotation.cve_ref else None
        wanted = entry.value if entry is not None else annotation.value
        node = book.find(wanted)
        if node is None and self.mapping.create_codes and wanted:
            description = next(iter(entry.descriptions.values()), "") if entry else ""
            node = book.create(self.session, wanted, description)
        if node is None or node.archived:
            reason = NOT_IN_CODEBOOK if node is None else ARCHIVED_CODE
            self.unmatched[(tier.id, wanted, reason)] += 1
            item.note = wanted
        else:
            item.code_ids.append(node.id)

    def attach(self, tier: EafTier, target: str) -> None:
        """A dependent tier's values into its parent's annotations: note or field."""
        parent_tier = self.document.tier(tier.parent or "")
        if parent_tier is None or self.mapping.tiers.get(parent_tier.id) not in LAYERS:
            self.skipped.append({"tier": tier.id, "reason": PARENT_NOT_IMPORTED})
            return
        for annotation in tier.annotations:
            if not annotation.value:
                continue
            holder = _holder(annotation, parent_tier, self.by_annotation)
            if holder is None:
                self.unmatched[(tier.id, annotation.value, NO_PARENT_ANNOTATION)] += 1
                continue
            if target == NOTE:
                holder.note = _joined(holder.note, annotation.value)
            else:
                name = target.removeprefix(FIELD_PREFIX)
                holder.fields[name] = _joined(holder.fields.get(name, ""), annotation.value)
            self.attached += 1

    def write(self) -> dict[str, Any]:
        by_layer: Counter[str] = Counter()
        for item in self.planned:
            annotations.create_annotation(
                self.session,
                self.recording,
                item.author_id,
                start_ms=item.start_ms,
                end_ms=item.end_ms,
                code_ids=item.code_ids,
                note=item.note,
                speaker=(item.speaker or "")[:100] or None,
                fields=item.fields,
                origin=_ORIGINS.get(item.layer, "import"),
                layer=item.layer,
                shared=True,
            )
            by_layer[item.layer] += 1
        return {
            "annotations": len(self.planned),
            "by_layer": dict(by_layer),
            "codes_created": sum(c.created for c in self.codes.values()),
            "attached": self.attached,
            "skipped_tiers": self.skipped,
            "unmatched": [
                {"tier": tier_id, "value": value, "reason": reason, "count": count}
                for (tier_id, value, reason), count in self.unmatched.items()
            ],
            "authors": sorted(self.authors.values(), key=lambda a: a["name"]),
            "time_origin_ms": self.document.media[0].time_origin_ms if self.document.media else 0,
        }


_ORIGINS = {"prepared": "prepared", "transcript": "transcript"}


def _joined(before: str, value: str) -> str:
    return f"{before}\n{value}" if before else value


def _holder(
    annotation: EafAnnotation, parent_tier: EafTier, by_annotation: dict[str, _Planned]
) -> _Planned | None:
    """The imported annotation a dependent annotation belongs to: its reference, else the
    parent tier's annotation whose interval holds it."""
    if annotation.parent_id is not None:
        return by_annotation.get(annotation.parent_id)
    for candidate in parent_tier.annotations:
        if (
            candidate.start_ms
            <= annotation.start_ms
            < max(candidate.end_ms, candidate.start_ms + 1)
        ):
            return by_annotation.get(candidate.id)
    return None
