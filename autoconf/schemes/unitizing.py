"""Agreement on segments rather than slices: ELAN-style matching and the unitizing alphas.

**Segment matching** (ELAN's "modified kappa", after Holle & Rein's EasyDIAg). A segment of
coder A and one of coder B *can* match when the ratio of their overlap to their total
extent (from the earlier start to the later end) is at least `threshold` (60 % by
default). Matching is one-to-one and greedy: first among pairs with the same code, best
ratio first, ties by the segments' (start, end, code); then the same way among the
remaining pairs with different codes. Inputs are sorted first, so the result never depends
on their order. A moment (end <= start) has no extent and never matches: it is left over.
Each pair is a unit (code_a, code_b), each left-over segment of A a unit (code, `UNMATCHED`)
and each of B (`UNMATCHED`, code); Cohen's kappa and the percentage of same-code pairs are
computed on these units.

**Unitizing alphas** (after Krippendorff, Mathet, Bouvry & Widlöcher 2016, "On the
reliability of unitizing textual continua: further developments", the family ATLAS.ti
reports), two coders over the continuum [0, duration_ms), segments cut at its ends:

- Every segment boundary cuts the continuum into elementary intervals. In each, a coder has
  the *set* of codes whose segments cover it, the empty set standing for the gap, the
  category `NO_CODE`. Each of a coder's values weighs 1/|set|, so that each coder contributes
  the interval's length once, however many codes overlap there (the 2016 paper assumes a
  coder's units do not overlap; the weights are our extension for when they do).
- Coincidences (in ms): for an interval of length L, each value c of A (weight wa) and k of
  B (weight wb) add L·wa·wb to l[c][k] and to l[k][c] (both orders; m − 1 = 1 for two
  coders). n_c is row c's sum, n the total (2 × duration when nothing is cut away).
- alpha = 1 − (n − 1) · Σ_{c≠k} l[c][k] / Σ_{c≠k} n_c·n_k (nominal distance): undefined
  (`SINGLE_CATEGORY`) when the denominator is 0 (a single category), `EMPTY` when n = 0.
  Since n counts milliseconds, the (n − 1) makes the value depend very slightly on the unit.

The four coefficients use that matrix of all codes and the gap (`u_alpha`), or that matrix
with rows and columns merged or dropped, which is the same as relabelling each value
(weight kept) before pairing:

- `binary_u_alpha` (ATLAS.ti's α-binary): every code merged into `UNIT`, against the gap:
  agreement on *where* the coded stretches are;
- `cu_alpha`: the gap's row and column dropped, i.e. coincidences only where both coders
  have a code: agreement on *which* code, given both coded;
- `code_u_alpha(code)`: `code` against everything else (other codes and the gap merged
  into `OTHER`): agreement on one code.

With single-valued segments whose boundaries fall on whole milliseconds, each 1-ms slice is
an interval with one value per coder, so the matrix is exactly the coincidence matrix of
Krippendorff's nominal alpha on the sequence of 1-ms slices (and `cu_alpha` that of the
slices where both coded): the tests check the values against the `krippendorff` package.

A sweep over the sorted boundaries computes the intervals in O(N log N), whatever the
duration; intervals with the same pair of sets are added together before the matrix.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from itertools import groupby

from autoconf.schemes.agreement import EMPTY, NO_CODE, SINGLE_CATEGORY, Coded, Figure, cohen_kappa

UNMATCHED = "(non apparié)"
UNIT = "(codé)"
OTHER = "(autre)"
DEFAULT_OVERLAP_THRESHOLD = 0.6

Matrix = dict[str, dict[str, float]]


@dataclass(frozen=True)
class SegmentMatching:
    """Segments of two coders matched one-to-one, and those left over."""

    threshold: float
    pairs: list[tuple[Coded, Coded]]
    only_a: list[Coded]
    only_b: list[Coded]

    @property
    def same_code(self) -> int:
        return sum(a.code == b.code for a, b in self.pairs)

    @property
    def different_code(self) -> int:
        return len(self.pairs) - self.same_code

    @property
    def kappa(self) -> Figure:
        first = [a.code for a, _ in self.pairs] + [s.code for s in self.only_a]
        first += [UNMATCHED] * len(self.only_b)
        second = [b.code for _, b in self.pairs] + [UNMATCHED] * len(self.only_a)
        second += [s.code for s in self.only_b]
        figure = cohen_kappa(first, second)
        return Figure("segment_kappa", figure.value, figure.reason, self._parameters)

    @property
    def percent(self) -> Figure:
        units = len(self.pairs) + len(self.only_a) + len(self.only_b)
        if not units:
            return Figure("segment_percent", None, EMPTY, self._parameters)
        return Figure("segment_percent", 100 * self.same_code / units, None, self._parameters)

    @property
    def _parameters(self) -> dict[str, float]:
        return {"overlap_threshold": self.threshold}


def match_segments(
    a: Iterable[Coded], b: Iterable[Coded], threshold: float = DEFAULT_OVERLAP_THRESHOLD
) -> SegmentMatching:
    """Pair A's segments with B's, one-to-one, where overlap / total extent >= threshold."""
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    first, second = sorted(a, key=_order), sorted(b, key=_order)
    minimum = Fraction(str(threshold))  # 0.6 means 3/5, not the float just below it
    starts = [segment.start_ms for segment in second]
    candidates: list[tuple[Fraction, int, int]] = []
    for i, x in enumerate(first):
        if x.end_ms <= x.start_ms:
            continue
        # ratio >= t needs extent <= overlap / t <= len(x) / t, so y starts after this
        earliest = x.end_ms - (x.end_ms - x.start_ms) / minimum
        for j in range(bisect_left(starts, earliest), bisect_left(starts, x.end_ms)):
            y = second[j]
            overlap = min(x.end_ms, y.end_ms) - max(x.start_ms, y.start_ms)
            if y.end_ms <= y.start_ms or overlap <= 0:
                continue
            ratio = Fraction(overlap, max(x.end_ms, y.end_ms) - min(x.start_ms, y.start_ms))
            if ratio >= minimum:
                candidates.append((-ratio, i, j))
    candidates.sort()
    matched: dict[int, int] = {}
    taken: set[int] = set()
    for same in (True, False):
        for _, i, j in candidates:
            if (first[i].code == second[j].code) is same and i not in matched and j not in taken:
                matched[i] = j
                taken.add(j)
    return SegmentMatching(
        threshold=threshold,
        pairs=[(first[i], second[matched[i]]) for i in sorted(matched)],
        only_a=[s for i, s in enumerate(first) if i not in matched],
        only_b=[s for j, s in enumerate(second) if j not in taken],
    )


def _order(segment: Coded) -> tuple[int, int, str]:
    return segment.start_ms, segment.end_ms, segment.code


def coincidences(a: Iterable[Coded], b: Iterable[Coded], duration_ms: int) -> Matrix:
    """The coincidence matrix (in ms) of two codings over [0, duration_ms), the gap counting
    as `NO_CODE`, several codes at once sharing the weight (see the module docstring)."""
    events: list[tuple[int, int, str, int]] = []
    for coder, coded in enumerate((a, b)):
        for segment in coded:
            start, end = max(segment.start_ms, 0), min(segment.end_ms, duration_ms)
            if end > start:
                events += [(start, coder, segment.code, 1), (end, coder, segment.code, -1)]
    events.sort()
    active: tuple[dict[str, int], dict[str, int]] = ({}, {})
    lengths: dict[tuple[frozenset[str], frozenset[str]], int] = defaultdict(int)
    previous = 0
    for position, group in groupby(events, key=lambda event: event[0]):
        if position > previous:
            lengths[frozenset(active[0]), frozenset(active[1])] += position - previous
        for _, coder, code, step in group:
            count = active[coder].get(code, 0) + step
            if count:
                active[coder][code] = count
            else:
                del active[coder][code]
        previous = position
    if duration_ms > previous:
        lengths[frozenset(), frozenset()] += duration_ms - previous
    matrix: Matrix = defaultdict(lambda: defaultdict(float))
    for (codes_a, codes_b), length in lengths.items():
        values_a, values_b = codes_a or {NO_CODE}, codes_b or {NO_CODE}
        weight = length / (len(values_a) * len(values_b))
        for c in values_a:
            for k in values_b:
                matrix[c][k] += weight
                matrix[k][c] += weight
    return {c: dict(row) for c, row in matrix.items()}


def u_alpha(a: Iterable[Coded], b: Iterable[Coded], duration_ms: int) -> Figure:
    """Agreement on codes and gaps together (all codes and `NO_CODE` as categories)."""
    return _u_alpha(coincidences(a, b, duration_ms), duration_ms)


def binary_u_alpha(a: Iterable[Coded], b: Iterable[Coded], duration_ms: int) -> Figure:
    """Agreement on where the coded stretches are, whatever their codes (`UNIT` vs gap)."""
    return _binary_u_alpha(coincidences(a, b, duration_ms), duration_ms)


def cu_alpha(a: Iterable[Coded], b: Iterable[Coded], duration_ms: int) -> Figure:
    """Agreement on which code, where both coders coded (the gap left out)."""
    return _cu_alpha(coincidences(a, b, duration_ms), duration_ms)


def code_u_alpha(a: Iterable[Coded], b: Iterable[Coded], duration_ms: int, code: str) -> Figure:
    """Agreement on one code: `code` against everything else (other codes and the gap)."""
    return _code_u_alpha(coincidences(a, b, duration_ms), duration_ms, code)


@dataclass(frozen=True)
class UnitizingFigures:
    u_alpha: Figure
    binary_u_alpha: Figure
    cu_alpha: Figure
    per_code: dict[str, Figure]


def unitizing_figures(
    a: Iterable[Coded], b: Iterable[Coded], duration_ms: int, codes: Iterable[str]
) -> UnitizingFigures:
    """The whole family, and `code_u_alpha` for each of `codes`, from one sweep."""
    matrix = coincidences(a, b, duration_ms)
    return UnitizingFigures(
        u_alpha=_u_alpha(matrix, duration_ms),
        binary_u_alpha=_binary_u_alpha(matrix, duration_ms),
        cu_alpha=_cu_alpha(matrix, duration_ms),
        per_code={code: _code_u_alpha(matrix, duration_ms, code) for code in codes},
    )


def _u_alpha(matrix: Matrix, duration_ms: int) -> Figure:
    return _alpha(matrix, "u_alpha", duration_ms)


def _binary_u_alpha(matrix: Matrix, duration_ms: int) -> Figure:
    merged = _relabel(matrix, lambda c: c if c == NO_CODE else UNIT)
    return _alpha(merged, "binary_u_alpha", duration_ms)


def _cu_alpha(matrix: Matrix, duration_ms: int) -> Figure:
    kept = _relabel(matrix, lambda c: None if c == NO_CODE else c)
    return _alpha(kept, "cu_alpha", duration_ms)


def _code_u_alpha(matrix: Matrix, duration_ms: int, code: str) -> Figure:
    merged = _relabel(matrix, lambda c: c if c == code else OTHER)
    return _alpha(merged, "code_u_alpha", duration_ms, {"code": code})


def _relabel(matrix: Matrix, label: Callable[[str], str | None]) -> Matrix:
    """Rows and columns merged under their new label, or dropped where it is None."""
    merged: Matrix = defaultdict(lambda: defaultdict(float))
    for c, row in matrix.items():
        for k, value in row.items():
            new_c, new_k = label(c), label(k)
            if new_c is not None and new_k is not None:
                merged[new_c][new_k] += value
    return {c: dict(row) for c, row in merged.items()}


def _alpha(
    matrix: Matrix, method: str, duration_ms: int, extra: dict[str, str] | None = None
) -> Figure:
    parameters = {"duration_ms": duration_ms, "no_code": NO_CODE, **(extra or {})}
    totals = {c: sum(row.values()) for c, row in matrix.items()}
    n = sum(totals.values())
    if n == 0:
        return Figure(method, None, EMPTY, parameters)
    expected = sum(n_c * (n - n_c) for n_c in totals.values())  # sum over c != k of n_c n_k
    if expected == 0:
        return Figure(method, None, SINGLE_CATEGORY, parameters)
    observed = sum(value for c, row in matrix.items() for k, value in row.items() if c != k)
    return Figure(method, 1 - (n - 1) * observed / expected, None, parameters)
