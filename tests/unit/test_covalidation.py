"""Co-validation's rules, without a database: the codes a segment has once the counsellor
has spoken, and what a study archive accepts in a verdict's row."""

import pytest

from autoconf.archive import tables, values
from autoconf.schemes.covalidation import covalidated_codes


@pytest.mark.parametrize(
    ("state", "proposed", "expected"),
    [
        ("agreed", [], ["A"]),
        ("agreed", ["B"], ["A"]),  # agreeing keeps the coding, whatever was read into it
        ("contested", ["B"], ["B"]),
        ("contested", [], []),  # contested, nothing read into the words: no code
        ("reformulated", ["B", "C"], ["B", "C"]),
        ("reformulated", [], ["A"]),  # said otherwise, the same thing: kept
    ],
)
def test_the_co_validated_codes(state: str, proposed: list[str], expected: list[str]) -> None:
    assert covalidated_codes(state, ["A"], proposed) == expected


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("state", "peut-être", "pas une valeur connue"),
        ("codes", ["A", 3], "chemins de codes"),
        ("codes", "A", "chemins de codes"),
        ("proposed_code_ids", [1, True], "numéros de codes"),
        ("proposed_code_ids", [0], "numéros de codes"),
        ("words", "a\x00b", "caractère nul"),
    ],
)
def test_an_archive_row_is_checked(column: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.imported(tables.CO_VALIDATION, column, value)


def test_consensus_sources_in_an_archive_are_checked() -> None:
    spec = tables.CONSENSUS_DECISION
    source = {"coder": "ines", "start_ms": 0, "end_ms": 6_000, "codes": ["Questionner"]}
    assert values.imported(spec, "sources", [source]) == [source]
    with pytest.raises(ValueError, match="liste de segments"):
        values.imported(spec, "sources", [{**source, "start_ms": "0"}])
