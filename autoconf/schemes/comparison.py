"""Comparing two codings (two coders, or a coder and the consensus) of a recording or of a
set of recordings: every figure of `agreement` (time slices) and `unitizing` (segments),
overall and per code, and the stretches where the two disagree.

Over several recordings, their continua are laid end to end (each recording's segments
shifted by the durations before it): the slices, the coincidences and the segment pairs are
those of each recording pooled, which is how ATLAS.ti and ELAN pool documents; a segment
never meets one of another recording.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session, col, select

from autoconf.errors import Conflict, Invalid
from autoconf.models import CODEBOOK_KINDS, Annotation, Recording
from autoconf.schemes import agreement, annotations, covalidation, rounds, unitizing
from autoconf.schemes.agreement import Coded, Figure
from autoconf.schemes.codebooks import code_paths

CONSENSUS = "consensus"
# A user id, CONSENSUS, or one of co-validation's codings (`covalidation.PSEUDO_CODERS`).
Coder = int | str


@dataclass(frozen=True)
class SegmentFigures:
    threshold: float
    matched: int
    same_code: int
    different_code: int
    only_a: int
    only_b: int
    kappa: Figure
    percent: Figure


@dataclass(frozen=True)
class CodeFigures:
    """One code: how long each coder gave it, agreement on it alone (the code against
    everything else), and its segments matched with the same code or left over."""

    code: str
    ms_a: int
    ms_b: int
    kappa: Figure  # on the slices, this code or not
    alpha: Figure  # the same, Krippendorff's nominal alpha
    u_alpha: Figure  # on the continuum (unitizing)
    matched: int
    only_a: int
    only_b: int


@dataclass(frozen=True)
class Disagreement:
    """A stretch of a recording where the two codings differ (consecutive slices that
    disagree), with what each coder put there."""

    recording_id: int
    start_ms: int
    end_ms: int
    codes_a: list[str]
    codes_b: list[str]
    segments_a: list[int]  # the annotations of coder A in the stretch
    segments_b: list[int]


@dataclass(frozen=True)
class Comparison:
    coders: tuple[Coder, Coder]
    layer: str
    recording_ids: list[int]
    duration_ms: int
    sliced: agreement.SlicedAgreement
    segments: SegmentFigures
    u_alpha: Figure
    binary_u_alpha: Figure
    cu_alpha: Figure
    per_code: list[CodeFigures]
    disagreements: list[Disagreement]


def compared_paths(session: Session, study_id: int, layer: str) -> dict[int, str]:
    """The codes a comparison of `layer` reads: those of the codebooks of its kind (on the
    schemes layer, the schemes: the categories a segment also carries are compared on the
    categories layer, not mixed in)."""
    return code_paths(session, study_id, layer if layer in CODEBOOK_KINDS else None)


def recording_codings(
    session: Session,
    recording: Recording,
    coder: Coder,
    layer: str,
    paths: dict[int, str] | None = None,
) -> list[Coded]:
    """A coder's segments of `layer` on a recording, one `Coded` per code (by path, from
    `paths`, the study's codes by id, read when not given): a researcher's own (`coder` a
    user id), the consensus layer's (`coder` "consensus"), or, of the segments the
    counsellor gave a verdict on, the coding before it (`prior`) or after (`covalidated`)."""
    if paths is None:
        paths = compared_paths(session, recording.study_id, layer)
    if coder in covalidation.PSEUDO_CODERS:
        return covalidation.codings(session, recording, str(coder), layer, paths)
    query = select(Annotation.id, Annotation.start_ms, Annotation.end_ms).where(
        Annotation.recording_id == recording.id,
        col(Annotation.end_ms).is_not(None),
    )
    if coder == CONSENSUS:
        query = query.where(Annotation.layer == CONSENSUS)
    else:
        query = query.where(Annotation.layer == layer, Annotation.author_id == coder)
    rows = session.exec(query).all()
    codes = annotations.codes_by_annotation(session, [row[0] or 0 for row in rows])
    return [
        Coded(start_ms, end_ms or start_ms, paths[code_id], annotation_id)
        for annotation_id, start_ms, end_ms in rows
        for code_id in codes.get(annotation_id or 0, [])
        if code_id in paths
    ]


def compare(
    session: Session,
    recordings: Sequence[Recording],
    coders: tuple[Coder, Coder],
    layer: str,
    slice_ms: int = agreement.DEFAULT_SLICE_MS,
    threshold: float = unitizing.DEFAULT_OVERLAP_THRESHOLD,
) -> Comparison:
    """The two codings compared over these recordings (one, or a study's); Conflict while
    one of them has no duration (not processed) or a blind round still hides a coder."""
    if not recordings:
        raise Invalid("Aucun enregistrement à comparer.")
    parts: list[_Part] = []
    offset = 0
    paths = compared_paths(session, recordings[0].study_id, layer)
    for recording in recordings:
        rounds.check_revealed(session, recording.id or 0, coders, layer)
        if recording.duration_ms is None:
            raise Conflict(
                f"L'enregistrement {recording.code} n'a pas encore de durée (il n'est pas "
                "traité) : l'accord se calcule sur la durée découpée en tranches."
            )
        duration = recording.duration_ms
        a, b = (recording_codings(session, recording, c, layer, paths) for c in coders)
        parts.append(
            _Part(
                recording.id or 0,
                offset,
                duration,
                a,
                b,
                agreement.slice_codes(a, duration, slice_ms),
                agreement.slice_codes(b, duration, slice_ms),
            )
        )
        offset += duration
    return _compare(parts, coders, layer, slice_ms, threshold)


@dataclass(frozen=True)
class _Part:
    """One recording: its place on the continuum laid end to end, its codings, its slices
    (each recording sliced on its own: no slice straddles two)."""

    recording_id: int
    offset: int
    duration_ms: int
    a: list[Coded]
    b: list[Coded]
    slices_a: list[str]
    slices_b: list[str]


def _shifted(coded: Sequence[Coded], part: _Part) -> list[Coded]:
    return [
        replace(
            c,
            start_ms=min(c.start_ms, part.duration_ms) + part.offset,
            end_ms=min(c.end_ms, part.duration_ms) + part.offset,
        )
        for c in coded
    ]


def _compare(
    parts: list[_Part],
    coders: tuple[Coder, Coder],
    layer: str,
    slice_ms: int,
    threshold: float,
) -> Comparison:
    total_ms = sum(part.duration_ms for part in parts)
    first = [c for part in parts for c in _shifted(part.a, part)]
    second = [c for part in parts for c in _shifted(part.b, part)]
    slices_a = [x for part in parts for x in part.slices_a]
    slices_b = [x for part in parts for x in part.slices_b]
    sliced = agreement.of_slices(slices_a, slices_b, slice_ms)
    codes = sorted({c.code for c in first} | {c.code for c in second})
    unitized = unitizing.unitizing_figures(first, second, total_ms, codes)
    matching = unitizing.match_segments(first, second, threshold)
    return Comparison(
        coders=coders,
        layer=layer,
        recording_ids=[part.recording_id for part in parts],
        duration_ms=total_ms,
        sliced=sliced,
        segments=SegmentFigures(
            threshold=threshold,
            matched=len(matching.pairs),
            same_code=matching.same_code,
            different_code=matching.different_code,
            only_a=len(matching.only_a),
            only_b=len(matching.only_b),
            kappa=matching.kappa,
            percent=matching.percent,
        ),
        u_alpha=unitized.u_alpha,
        binary_u_alpha=unitized.binary_u_alpha,
        cu_alpha=unitized.cu_alpha,
        per_code=_per_code(first, second, slices_a, slices_b, matching, unitized, slice_ms),
        disagreements=[d for part in parts for d in _disagreements(part, slice_ms)],
    )


def _per_code(
    first: list[Coded],
    second: list[Coded],
    slices_a: list[str],
    slices_b: list[str],
    matching: unitizing.SegmentMatching,
    unitized: unitizing.UnitizingFigures,
    slice_ms: int,
) -> list[CodeFigures]:
    figures = []
    for code, u_alpha in unitized.per_code.items():
        a = [code if x == code else unitizing.OTHER for x in slices_a]
        b = [code if x == code else unitizing.OTHER for x in slices_b]
        parameters = {"slice_ms": slice_ms, "code": code}
        kappa = agreement.cohen_kappa(a, b)
        alpha = agreement.krippendorff_alpha(a, b)
        figures.append(
            CodeFigures(
                code=code,
                ms_a=_covered(c for c in first if c.code == code),
                ms_b=_covered(c for c in second if c.code == code),
                kappa=replace(kappa, parameters={**kappa.parameters, **parameters}),
                alpha=replace(alpha, parameters={**alpha.parameters, **parameters}),
                u_alpha=u_alpha,
                matched=sum(x.code == y.code == code for x, y in matching.pairs),
                only_a=sum(x.code == code for x in matching.only_a)
                + sum(x.code == code != y.code for x, y in matching.pairs),
                only_b=sum(y.code == code for y in matching.only_b)
                + sum(y.code == code != x.code for x, y in matching.pairs),
            )
        )
    return figures


def _covered(segments: Iterable[Coded]) -> int:
    """The time the segments cover, overlaps counted once."""
    spans = sorted((c.start_ms, c.end_ms) for c in segments)
    total, reach = 0, None
    for start, end in spans:
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _disagreements(part: _Part, slice_ms: int) -> list[Disagreement]:
    """Runs of consecutive slices of a recording that disagree."""
    found = []
    a, b = part.slices_a, part.slices_b
    index = 0
    while index < len(a):
        if a[index] == b[index]:
            index += 1
            continue
        end = index
        while end < len(a) and a[end] != b[end]:
            end += 1
        start_ms, end_ms = index * slice_ms, min(end * slice_ms, part.duration_ms)
        inside_a = {c.annotation_id for c in part.a if c.start_ms < end_ms and c.end_ms > start_ms}
        inside_b = {c.annotation_id for c in part.b if c.start_ms < end_ms and c.end_ms > start_ms}
        found.append(
            Disagreement(
                recording_id=part.recording_id,
                start_ms=start_ms,
                end_ms=end_ms,
                codes_a=_codes(a[index:end]),
                codes_b=_codes(b[index:end]),
                segments_a=sorted(i for i in inside_a if i),
                segments_b=sorted(i for i in inside_b if i),
            )
        )
        index = end
    return found


def _codes(slices: list[str]) -> list[str]:
    """The codes of a run of slices, in order of appearance, "no code" included."""
    return list(dict.fromkeys(slices))
