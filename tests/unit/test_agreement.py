"""Time-sliced agreement between two codings, checked against the worked examples published
with the measures, and its undefined cases."""

import pytest

from autoconf.schemes.agreement import (
    NO_CODE,
    SINGLE_CATEGORY,
    Coded,
    cohen_kappa,
    confusion,
    krippendorff_alpha,
    percent,
    slice_codes,
    sliced_agreement,
)


def test_cohens_kappa_on_the_textbook_example() -> None:
    """50 proposals read by two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no; observed
    agreement 0.7, expected 0.5, kappa 0.4 (Cohen 1960; the usual worked example)."""
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert percent(a, b).value == pytest.approx(70.0)
    assert cohen_kappa(a, b).value == pytest.approx(0.4)


def test_krippendorffs_alpha_on_his_two_observer_example() -> None:
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", binary data, two
    observers, ten units: alpha = 0.095."""
    a = ["0", "1", "0", "0", "0", "0", "0", "0", "1", "0"]
    b = ["1", "1", "1", "0", "0", "1", "0", "0", "0", "0"]
    figure = krippendorff_alpha(a, b)
    assert figure.value == pytest.approx(0.095, abs=0.0005)
    assert figure.parameters == {"level_of_measurement": "nominal"}


def test_a_slice_takes_the_code_covering_most_of_it() -> None:
    coded = [
        Coded(0, 600, "écouter"),  # most of slice 0
        Coded(600, 1_000, "questionner"),
        Coded(1_400, 3_100, "questionner"),  # 60 % of slice 1, all of 2, a tenth of 3
        Coded(3_100, 3_500, "écouter"),
        Coded(3_500, 3_900, "informer"),  # a tie in slice 3: the first in sort order
        Coded(4_000, 4_300, "écouter"),  # a third of slice 4: mostly no code
    ]
    assert slice_codes(coded, 5_000, 1_000) == [
        "écouter",
        "questionner",
        "questionner",
        "informer",
        NO_CODE,
    ]
    # The last slice is shorter when the duration is not a multiple; segments past the end
    # are cut at it.
    assert slice_codes([Coded(2_000, 9_000, "x")], 2_500, 1_000) == [NO_CODE, NO_CODE, "x"]
    assert slice_codes([Coded(100, 200, "x")], 0, 1_000) == []


def test_undefined_figures_are_none_with_their_reason() -> None:
    silent = sliced_agreement([], [], 10_000)
    assert silent.slices == 10
    assert silent.percent.value == 100.0  # both said "no code" throughout
    assert (silent.kappa.value, silent.kappa.reason) == (None, SINGLE_CATEGORY)
    assert (silent.alpha.value, silent.alpha.reason) == (None, SINGLE_CATEGORY)
    # The same single code everywhere for both: agreement, but nothing chance-corrected.
    same = sliced_agreement([Coded(0, 5_000, "x")], [Coded(0, 5_000, "x")], 5_000)
    assert same.percent.value == 100.0 and same.kappa.value is None
    assert same.kappa.parameters == {"slice_ms": 1_000, "no_code": NO_CODE}


def test_two_coders_on_a_recording() -> None:
    a = [Coded(0, 4_000, "écouter"), Coded(4_000, 8_000, "questionner")]
    b = [Coded(0, 3_000, "écouter"), Coded(3_000, 10_000, "questionner")]
    result = sliced_agreement(a, b, 10_000)
    assert result.percent.value == pytest.approx(70.0)  # slices 3, 8, 9 differ
    assert result.confusion == {
        NO_CODE: {"questionner": 2},
        "questionner": {"questionner": 4},
        "écouter": {"questionner": 1, "écouter": 3},
    }
    assert confusion(["a"], ["b"]) == {"a": {"b": 1}}
    assert result.kappa.value is not None and 0 < result.kappa.value < 1
    assert result.alpha.value is not None and 0 < result.alpha.value < 1
