"""Segment matching and the unitizing alphas, checked against Krippendorff's nominal alpha on
1-ms slices (the `krippendorff` package), hand-computed examples and the undefined cases."""

import random

import krippendorff
import numpy as np
import pytest

from autoconf.schemes.agreement import EMPTY, NO_CODE, SINGLE_CATEGORY, Coded
from autoconf.schemes.unitizing import (
    UNMATCHED,
    binary_u_alpha,
    code_u_alpha,
    coincidences,
    cu_alpha,
    match_segments,
    u_alpha,
)

CODES = ["x", "y", "z"]


def random_coding(rng: random.Random, duration: int) -> list[Coded]:
    """Single-valued segments with gaps between them, the last one possibly past the end."""
    coded, position = [], rng.randint(0, 10)
    while position < duration:
        end = position + rng.randint(1, 25)
        coded.append(Coded(position, end, rng.choice(CODES)))
        position = end + rng.choice([0, 0, rng.randint(1, 15)])
    return coded


def slices(coded: list[Coded], duration: int) -> list[str]:
    values = [NO_CODE] * duration
    for segment in coded:
        for ms in range(segment.start_ms, min(segment.end_ms, duration)):
            values[ms] = segment.code
    return values


def nominal_alpha(first: list[str], second: list[str]) -> float:
    """The `krippendorff` package's nominal alpha on two sequences of labels."""
    number = {label: i for i, label in enumerate(sorted(set(first) | set(second)))}
    data = np.array([[number[v] for v in first], [number[v] for v in second]], dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


CASES = [(seed, duration) for seed, duration in enumerate([60, 87, 120, 150, 200, 200, 173])]


@pytest.mark.parametrize(("seed", "duration"), CASES)
def test_the_alphas_equal_nominal_alpha_on_one_ms_slices(seed: int, duration: int) -> None:
    """With single-valued segments on whole milliseconds each 1-ms slice is an elementary
    interval, so u_alpha, binary_u_alpha (codes collapsed) and code_u_alpha (one code vs the
    rest) are Krippendorff's nominal alpha on the slices, relabelled the same way."""
    rng = random.Random(seed)
    a, b = random_coding(rng, duration), random_coding(rng, duration)
    first, second = slices(a, duration), slices(b, duration)
    assert u_alpha(a, b, duration).value == pytest.approx(nominal_alpha(first, second), abs=1e-9)

    def unit(values: list[str]) -> list[str]:
        return [v if v == NO_CODE else "unit" for v in values]

    binary = binary_u_alpha(a, b, duration).value
    assert binary == pytest.approx(nominal_alpha(unit(first), unit(second)), abs=1e-9)
    for code in CODES:
        figure = code_u_alpha(a, b, duration, code)
        assert figure.parameters["code"] == code
        if code not in first + second:
            assert figure.reason == SINGLE_CATEGORY
            continue
        one = [[v == code for v in values] for values in (first, second)]
        expected = nominal_alpha(*[[str(v) for v in values] for values in one])
        assert figure.value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("seed", "duration"), CASES)
def test_cu_alpha_is_nominal_alpha_where_both_coded(seed: int, duration: int) -> None:
    """cu_alpha keeps only the coincidences where both coders have a code: the slices where
    neither is in the gap."""
    rng = random.Random(seed)
    a, b = random_coding(rng, duration), random_coding(rng, duration)
    both = [
        (x, y)
        for x, y in zip(slices(a, duration), slices(b, duration), strict=True)
        if NO_CODE not in (x, y)
    ]
    figure = cu_alpha(a, b, duration)
    if len({v for pair in both for v in pair}) < 2:
        assert figure.value is None
        return
    expected = nominal_alpha([x for x, _ in both], [y for _, y in both])
    assert figure.value == pytest.approx(expected, abs=1e-9)


def test_a_hand_computed_example() -> None:
    """Duration 10, A: x on [0,4), y on [4,10); B: x on [0,6), y on [6,10).
    Intervals: [0,4) x/x adds 2·4 = 8 to l[x][x]; [4,6) y/x adds 2 to l[x][y] and l[y][x];
    [6,10) y/y adds 8 to l[y][y]. So n_x = n_y = 10, n = 20, Σ_{c≠k} l = 4,
    Σ_{c≠k} n_c n_k = 2·10·10 = 200 and alpha = 1 − 19·4/200 = 0.62. No gap: cu_alpha is the
    same, and binary has a single category (all coded)."""
    a = [Coded(0, 4, "x"), Coded(4, 10, "y")]
    b = [Coded(0, 6, "x"), Coded(6, 10, "y")]
    assert coincidences(a, b, 10) == {"x": {"x": 8, "y": 2}, "y": {"x": 2, "y": 8}}
    assert u_alpha(a, b, 10).value == pytest.approx(0.62)
    assert cu_alpha(a, b, 10).value == pytest.approx(0.62)
    assert binary_u_alpha(a, b, 10).reason == SINGLE_CATEGORY
    assert code_u_alpha(a, b, 10, "x").value == pytest.approx(0.62)


def test_overlapping_codes_of_one_coder_share_the_weight() -> None:
    """Duration 4, A: x on [0,4) and y on [0,2); B: x on [0,4). On [0,2) A has {x, y}, each
    weighing 1/2: l[x][x] += 2·(2·½) = 2, l[x][y] = l[y][x] = 1; [2,4) adds 4 to l[x][x].
    n_x = 7, n_y = 1, n = 8 (each coder counts the 4 ms once); Σ_{c≠k} l = 2,
    Σ_{c≠k} n_c n_k = 2·7·1 = 14, alpha = 1 − 7·2/14 = 0."""
    a = [Coded(0, 4, "x"), Coded(0, 2, "y")]
    b = [Coded(0, 4, "x")]
    assert coincidences(a, b, 4) == {"x": {"x": 6, "y": 1}, "y": {"x": 1}}
    assert u_alpha(a, b, 4).value == pytest.approx(0.0)
    assert code_u_alpha(a, b, 4, "y").value == pytest.approx(0.0)
    # The same code twice over one stretch is one value, not two.
    assert coincidences([*a, Coded(1, 3, "x")], b, 4) == coincidences(a, b, 4)


def test_undefined_and_extreme_cases() -> None:
    """Both silent: only the gap, so nothing is chance-corrected, and cu_alpha has no
    coincidence at all. Identical codings: 1.0. One coder silent: binary alpha is a real
    number at most 0, never 1."""
    assert u_alpha([], [], 100).reason == SINGLE_CATEGORY
    assert binary_u_alpha([], [], 100).reason == SINGLE_CATEGORY
    assert cu_alpha([], [], 100).reason == EMPTY
    assert u_alpha([Coded(0, 5, "x")], [], 0).reason == EMPTY
    same = [Coded(10, 40, "x"), Coded(50, 90, "y")]
    assert u_alpha(same, list(reversed(same)), 100).value == 1.0
    assert binary_u_alpha(same, same, 100).value == 1.0
    assert cu_alpha(same, same, 100).value == 1.0
    silent = binary_u_alpha([], same, 100)
    assert silent.value is not None and silent.value <= 0
    assert silent.parameters == {"duration_ms": 100, "no_code": NO_CODE}


def test_a_long_recording_is_swept_not_sliced() -> None:
    """Two hours with thousands of segments per coder: every coder counts each ms once."""
    rng = random.Random(7)
    duration = 2 * 3_600_000
    starts = range(0, duration, 2_400)
    a = [Coded(s, s + rng.randint(500, 2_000), rng.choice(CODES)) for s in starts]
    b = [Coded(s + rng.randint(-300, 300), s + 1_500, rng.choice(CODES)) for s in starts]
    matrix = coincidences(a, b, duration)
    assert sum(sum(row.values()) for row in matrix.values()) == pytest.approx(2 * duration)
    value = u_alpha(a, b, duration).value
    assert value is not None and -1 < value < 1
    assert len(match_segments(a, b).pairs) > 1_000


def test_identical_segments_all_match() -> None:
    a = [Coded(0, 100, "x"), Coded(200, 300, "y"), Coded(400, 500, "x")]
    result = match_segments(a, a)
    assert result.pairs == list(zip(a, a, strict=True))
    assert (result.same_code, result.different_code, result.only_a, result.only_b) == (3, 0, [], [])
    assert result.percent.value == 100.0
    assert result.kappa.value == pytest.approx(1.0)
    assert result.kappa.parameters == {"overlap_threshold": 0.6}


def test_the_overlap_threshold() -> None:
    """A on [0, L), B shifted by s: overlap/extent = (L − s)/(L + s). L = 161, s = 39 gives
    122/200 = 0.61 (matched); L = 159, s = 41 gives 118/200 = 0.59 (not); L = 100, s = 25
    gives exactly 0.6 (matched: at least the threshold)."""
    for length, shift, matched in [(161, 39, True), (159, 41, False), (100, 25, True)]:
        result = match_segments([Coded(0, length, "x")], [Coded(shift, shift + length, "x")])
        assert bool(result.pairs) is matched
    loose = match_segments([Coded(0, 159, "x")], [Coded(41, 200, "x")], threshold=0.5)
    assert len(loose.pairs) == 1 and loose.kappa.parameters == {"overlap_threshold": 0.5}


def test_matching_is_one_to_one_and_same_code_first() -> None:
    """One A segment overlapping two of B takes the better one; a same-code pair wins over a
    better-overlapping different code; a different code still matches what is left."""
    a = [Coded(0, 100, "x")]
    result = match_segments(a, [Coded(0, 70, "x"), Coded(10, 100, "x")])
    assert result.pairs == [(a[0], Coded(10, 100, "x"))]
    assert result.only_b == [Coded(0, 70, "x")]
    a = [Coded(0, 100, "x"), Coded(200, 300, "x")]
    b = [Coded(0, 100, "y"), Coded(20, 100, "x"), Coded(200, 290, "y")]
    result = match_segments(a, b)
    assert result.pairs == [(a[0], b[1]), (a[1], b[2])]
    assert (result.same_code, result.different_code, result.only_b) == (1, 1, [b[0]])


def test_matching_does_not_depend_on_order() -> None:
    rng = random.Random(3)
    a, b = random_coding(rng, 400), random_coding(rng, 400)
    expected = match_segments(a, b)
    for _ in range(5):
        rng.shuffle(a)
        rng.shuffle(b)
        assert match_segments(a, b) == expected


def test_a_moment_never_matches() -> None:
    result = match_segments([Coded(50, 50, "x"), Coded(0, 100, "y")], [Coded(50, 50, "x")])
    assert (result.pairs, result.only_a, result.only_b) == (
        [],
        [Coded(0, 100, "y"), Coded(50, 50, "x")],
        [Coded(50, 50, "x")],
    )
    assert match_segments([Coded(50, 50, "x")], [Coded(0, 100, "x")]).pairs == []
    with pytest.raises(ValueError):
        match_segments([], [], threshold=0)


def test_segment_kappa_by_hand() -> None:
    """Pairs (x,x), (x,x), (y,y), (x,y); A's x and B's y left over. Units: A x x y x x U,
    B x x y y U y (U unmatched). Observed 3/6; A's marginals x 4, y 1, U 1, B's x 2, y 3,
    U 1; expected (4·2 + 1·3 + 1·1)/36 = 1/3; kappa = (1/2 − 1/3)/(1 − 1/3) = 1/4."""
    a = [Coded(s, s + 100, c) for s, c in [(0, "x"), (200, "x"), (400, "y"), (600, "x")]]
    b = [Coded(s, s + 100, c) for s, c in [(0, "x"), (200, "x"), (400, "y"), (600, "y")]]
    result = match_segments([*a, Coded(800, 900, "x")], [*b, Coded(1_000, 1_100, "y")])
    assert result.kappa.value == pytest.approx(0.25)
    assert result.percent.value == pytest.approx(50.0)
    assert (result.same_code, result.different_code) == (3, 1)
    empty = match_segments([], [])
    assert (empty.kappa.reason, empty.percent.reason) == (EMPTY, EMPTY)
    single = match_segments([Coded(0, 10, "x")], [Coded(0, 10, "x")])
    assert single.kappa.reason == SINGLE_CATEGORY and single.percent.value == 100.0
    assert UNMATCHED == "(non apparié)"
