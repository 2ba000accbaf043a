import csv

from autoconf.schemes.defaults import PHASES, PRINCIPLES, SCHEMES, default_codebooks
from tests.factories import DATA


def _paths(codes: tuple, prefix: str = "") -> list[str]:
    out = []
    for code in codes:
        out.append(prefix + code.label)
        out.extend(_paths(code.children, prefix + code.label + "/"))
    return out


def test_schemes_follow_the_report_synthesis_table_order() -> None:
    with (DATA / "synthesis-diagnostic.csv").open(encoding="utf-8") as f:
        rows = [row[0] for row in csv.reader(f)][1:]
    assert list(SCHEMES[: len(rows)]) == rows
    assert SCHEMES[len(rows) :] == (
        "Questionner / vérifier",
        "Proposer / expliquer",
        "Prendre des notes",
    )


def test_four_codebooks_with_the_design_vocabularies() -> None:
    books = {book.kind: book for book in default_codebooks()}
    assert list(books) == ["schemes", "phases", "principles", "categories"]
    assert [c.label for c in books["phases"].codes] == list(PHASES)
    assert len(books["principles"].codes) == len(PRINCIPLES) == 4
    hotkeys = [c.hotkey for c in books["schemes"].codes]
    assert len(set(hotkeys)) == len(hotkeys) == 12


def test_category_tree_is_identified_by_path() -> None:
    books = {book.kind: book for book in default_codebooks()}
    paths = _paths(books["categories"].codes)
    assert len(paths) == len(set(paths)) == 45
    assert "AUTONOMIE/Motivation" in paths and "BENEFICIAIRES/Motivation" in paths
    with (DATA / "sources-references-actions.csv").open(encoding="utf-8") as f:
        reference = [row["path"] for row in csv.DictReader(f)]
    assert set(reference) <= set(paths)
