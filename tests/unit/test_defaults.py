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


def test_every_default_scheme_phase_and_principle_has_an_english_label() -> None:
    """A "/" inside an English label stands between spaces, as in the French ones: an ELAN
    file's English path ("SUPPORT/Actions/CV") is cut at the other slashes only."""
    books = {book.kind: book for book in default_codebooks()}
    for kind in ("schemes", "phases", "principles"):
        assert all(code.label_en for code in books[kind].codes), kind
        assert books[kind].name_en
    assert books["schemes"].codes[1].label_en == "Listen / rephrase"
    assert books["categories"].name_en == "Analysis categories"

    def english(codes: tuple) -> list[str]:
        out = []
        for code in codes:
            if code.label_en:
                out.append(code.label_en)
            out.extend(english(code.children))
        return out

    labels = english(tuple(c for b in books.values() for c in b.codes))
    assert len(labels) >= 12 + 4 + 4 + 40
    assert all(" / " in label or "/" not in label for label in labels)
