"""Agreement between two codings of one recording, time-sliced (issue 18, first step).

The recording is cut into slices (1 s by default); each slice takes, for each coder, the code
covering most of it, "no code" (`NO_CODE`) being a category of its own that the uncovered
time counts for (ties: the first in sort order, so that the result never depends on the
order segments come in). On the two
sequences of slices: percent agreement, Cohen's kappa (scikit-learn's `cohen_kappa_score`),
Krippendorff's alpha for nominal data (the `krippendorff` package) and the confusion
matrix. A figure the data cannot define (a coder silent, a single category everywhere) is
`None` with the reason, never a crash or a fake 1.0.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import krippendorff
import numpy as np

NO_CODE = "(aucun code)"
DEFAULT_SLICE_MS = 1_000
SINGLE_CATEGORY = "single_category"  # the reason a chance-corrected figure is undefined
EMPTY = "empty"


@dataclass(frozen=True)
class Coded:
    """A coder's segment and one of its codes (a segment with two codes is two of these)."""

    start_ms: int
    end_ms: int
    code: str
    annotation_id: int | None = None  # the segment it comes from, where there is one


@dataclass(frozen=True)
class Figure:
    """A measure, its method and parameters; `value` None when undefined, with `reason`."""

    method: str
    value: float | None
    reason: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def slice_codes(coded: Iterable[Coded], duration_ms: int, slice_ms: int) -> list[str]:
    """For each slice of `slice_ms` of a recording of `duration_ms`, the code covering most of
    it, the time no code covers counting for `NO_CODE`."""
    if slice_ms <= 0:
        raise ValueError("slice_ms must be positive")
    count = -(-duration_ms // slice_ms) if duration_ms > 0 else 0
    cover: list[dict[str, int]] = [defaultdict(int) for _ in range(count)]
    for segment in coded:
        start, end = max(segment.start_ms, 0), min(segment.end_ms, duration_ms)
        if end <= start:
            continue
        for index in range(start // slice_ms, (end - 1) // slice_ms + 1):
            low, high = index * slice_ms, min((index + 1) * slice_ms, duration_ms)
            cover[index][segment.code] += min(end, high) - max(start, low)
    for index, slice_cover in enumerate(cover):  # no code competes with its uncovered time
        length = min((index + 1) * slice_ms, duration_ms) - index * slice_ms
        slice_cover[NO_CODE] = max(length - sum(slice_cover.values()), 0)
    return [min(c, key=lambda code: (-c[code], code)) for c in cover]


def percent(a: Sequence[str], b: Sequence[str]) -> Figure:
    if not a:
        return Figure("percent", None, EMPTY)
    same = sum(x == y for x, y in zip(a, b, strict=True))
    return Figure("percent", 100 * same / len(a))


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> Figure:
    if not a:
        return Figure("cohen_kappa", None, EMPTY)
    if len(set(a) | set(b)) < 2:
        return Figure("cohen_kappa", None, SINGLE_CATEGORY)
    # Imported here: scikit-learn (with SciPy) takes about 2 s to import, which every start
    # of the server and of the command line would otherwise pay.
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(list(a), list(b)))
    if np.isnan(value):  # expected agreement of 1: one category each, the same
        return Figure("cohen_kappa", None, SINGLE_CATEGORY)
    return Figure("cohen_kappa", value)


def krippendorff_alpha(a: Sequence[str], b: Sequence[str]) -> Figure:
    parameters = {"level_of_measurement": "nominal"}
    if not a:
        return Figure("krippendorff_alpha", None, EMPTY, parameters)
    categories = sorted(set(a) | set(b))
    if len(categories) < 2:
        return Figure("krippendorff_alpha", None, SINGLE_CATEGORY, parameters)
    number = {code: index for index, code in enumerate(categories)}
    data = np.array([[number[x] for x in a], [number[y] for y in b]], dtype=float)
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return Figure("krippendorff_alpha", value, None, parameters)


def confusion(a: Sequence[str], b: Sequence[str]) -> dict[str, dict[str, int]]:
    """How many slices coder A gave each code while coder B gave each code."""
    counts = Counter(zip(a, b, strict=True))
    table: dict[str, dict[str, int]] = {}
    for (x, y), n in sorted(counts.items()):
        table.setdefault(x, {})[y] = n
    return table


@dataclass(frozen=True)
class SlicedAgreement:
    slice_ms: int
    slices: int
    percent: Figure
    kappa: Figure
    alpha: Figure
    confusion: dict[str, dict[str, int]]


def sliced_agreement(
    a: Iterable[Coded], b: Iterable[Coded], duration_ms: int, slice_ms: int = DEFAULT_SLICE_MS
) -> SlicedAgreement:
    """The time-sliced figures of two codings of one recording."""
    first = slice_codes(a, duration_ms, slice_ms)
    return of_slices(first, slice_codes(b, duration_ms, slice_ms), slice_ms)


def of_slices(first: Sequence[str], second: Sequence[str], slice_ms: int) -> SlicedAgreement:
    """The figures of two sequences of sliced codes (one recording's, or several laid end
    to end)."""
    parameters = {"slice_ms": slice_ms, "no_code": NO_CODE}
    return SlicedAgreement(
        slice_ms=slice_ms,
        slices=len(first),
        percent=_with(percent(first, second), parameters),
        kappa=_with(cohen_kappa(first, second), parameters),
        alpha=_with(krippendorff_alpha(first, second), parameters),
        confusion=confusion(first, second),
    )


def _with(figure: Figure, parameters: dict[str, Any]) -> Figure:
    return Figure(figure.method, figure.value, figure.reason, {**parameters, **figure.parameters})
