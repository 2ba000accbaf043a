"""ELAN files in: previewed, then imported as the user maps them (`eaf_read` reads them).

Each mapped tier goes to a layer, each mapped vocabulary to a codebook (entries matched by
code path, then by label; missing codes created on request, with the entry's English value
and description as their English label and description); a tier with no vocabulary keeps
its values as notes; a dependent tier may instead fill its parent's note or a structured
field (the comments autoconf exports under a stop come back as the stop's note: they cannot
be live comments again, which belong to a live session). Tiers "X (2)", "X (3)" (where
autoconf's export puts what overlaps) merge back into X's annotations of the same interval.
Authors are found by the tier's annotator, else its name ("Schèmes — claire"), among the
study's members. One transaction: a refusal leaves nothing behind.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from autoconf.errors import Invalid
from autoconf.interop.eaf import COMMENTS_TIER, LAYER_NAMES, MOMENT, MOMENT_LAYERS
from autoconf.interop.eaf_read import (
    EafAnnotation,
    EafDocument,
    EafEntry,
    EafTier,
    EafVocabulary,
)
from autoconf.models import LAYERS, Codebook, Membership, Recording, User
from autoconf.schemes import annotations
from autoconf.schemes.codebooks import PATH_SEPARATOR, CodeNode, codebook_tree, create_code
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.schemes.timecode import format_ms

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
# Child tiers whose annotations belong to one parent annotation each (not timed).
_SYMBOLIC = ("Symbolic_Association", "Symbolic_Subdivision")


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
    """What a child tier of autoconf's export fills: its parent's note (the comments at a
    stop too) or a field."""
    suffix = tier.id.rsplit(" — ", 1)[-1] if " — " in tier.id else tier.id
    if suffix in (NOTE, COMMENTS_TIER):
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
        if tier.dependent and tier.constraint in _SYMBOLIC and layer is not None:
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

    def create(self, session: Session, entry: EafEntry | None, value: str) -> CodeNode | None:
        """The code of path `value` and the codes above it that are missing (None: `value`
        names no code); the entry's English path names them in English (a part equal to the
        French one only for the code itself: autoconf writes the French label where a parent
        has no English one)."""
        parts = _parts(value)
        if not parts:
            return None
        english = _parts(entry.value_en) if entry is not None else []
        if len(english) != len(parts):  # not a path of the same codes: the code's own label
            english = [""] * (len(parts) - 1) + [entry.value_en if entry is not None else ""]
        parent: CodeNode | None = None
        path = ""
        for depth, (label, label_en) in enumerate(zip(parts, english, strict=True)):
            path = f"{path}{PATH_SEPARATOR}{label}" if path else label
            node = next((n for n in self.nodes if n.path.casefold() == path.casefold()), None)
            if node is None:
                last = depth == len(parts) - 1
                node = create_code(
                    session,
                    self.book,
                    label[:300],
                    parent_id=parent.id if parent else None,
                    description=entry.description if entry is not None and last else "",
                    label_en=label_en[:300] if last or label_en != label else "",
                    description_en=entry.description_en if entry is not None and last else "",
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
            node = book.create(self.session, entry, wanted)
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
        annotations.create_annotations(
            self.session,
            self.recording,
            [
                annotations.NewAnnotation(
                    start_ms=item.start_ms,
                    end_ms=item.end_ms,
                    layer=item.layer,
                    origin=_ORIGINS.get(item.layer, "import"),
                    author_id=item.author_id,
                    code_ids=item.code_ids,
                    note=item.note,
                    speaker=(item.speaker or "")[:100] or None,
                    fields=item.fields,
                )
                for item in self.planned
            ],
        )
        by_layer = Counter(item.layer for item in self.planned)
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


def _parts(path: str) -> list[str]:
    """The labels of a code path ("A/B"; "Écouter / reformuler" is one label)."""
    return [part.strip() for part in _PATH_SPLIT.split(path) if part.strip()]


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
