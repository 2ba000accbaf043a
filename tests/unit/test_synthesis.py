"""The synthesis computed on hand-written segments: overlap at phase boundaries, nested
codes, archived codes, empty columns, every value."""

import pytest

from autoconf.schemes.codebooks import CodeNode
from autoconf.schemes.crosstabs import cooccurrence, grouped
from autoconf.schemes.synthesis import Column, Row, compute, overlaps, rows_of
from autoconf.schemes.tables import Table, neutralised
from autoconf.schemes.writers import text_of, to_csv, to_html, to_markdown


def node(
    id: int, label: str, parent: int | None = None, depth: int = 0, archived: bool = False
) -> CodeNode:
    return CodeNode(id, 1, label, label, parent, 0, "", "#888888", None, archived, depth)


LISTEN = Row(1, "Écouter", "Écouter", 0, frozenset({1}))
ASK = Row(2, "Questionner", "Questionner", 0, frozenset({2}))
A4, A10 = Column(10, "A4", 60_000), Column(11, "A10", 120_000)


@pytest.mark.parametrize(
    ("segment", "inside"),
    [
        ((0, 1000), False),  # ends where the phase starts: touching is not overlapping
        ((0, 1001), True),
        ((5000, 5000), False),  # a moment at the phase's end is after it
        ((1000, 1000), True),  # a moment at its start is in it
        ((4999, 9000), True),
        ((5000, 9000), False),
        ((2000, 3000), True),
        ((0, 9000), True),  # spans the whole phase
    ],
)
def test_overlap_with_a_phase_at_its_boundaries(segment: tuple[int, int], inside: bool) -> None:
    assert overlaps(segment, (1000, 5000)) is inside


def test_marks_counts_and_empty_columns() -> None:
    segments = [(10, 0, 5000, 1, 100), (10, 9000, 9500, 1, 101), (10, 1000, 2000, 2, 102)]
    assert compute([LISTEN, ASK], [A4, A10], segments) == [["X", ""], ["X", ""]]
    assert compute([LISTEN, ASK], [A4, A10], segments, "count") == [[2, 0], [1, 0]]
    assert compute([LISTEN, ASK], [A4, A10], segments, "first") == [[0, None], [1000, None]]
    # Segments of recordings that are not columns are left out.
    assert compute([LISTEN], [A10], segments, "count") == [[0]]


def test_durations_are_unions_and_shares_of_the_recording_or_the_phase() -> None:
    segments = [(10, 0, 6000, 1, 100), (10, 3000, 12_000, 1, 101), (10, 30_000, 30_000, 1, 102)]
    assert compute([LISTEN], [A4], segments, "duration") == [[12.0]]  # 0-12 s, overlap once
    assert compute([LISTEN], [A4], segments, "share") == [[0.2]]  # 12 s of 60 s
    phases = {10: [(5000, 15_000)]}
    # Inside the phase: both segments overlap it, the moment does not; clipped to 5-12 s.
    assert compute([LISTEN], [A4], segments, "count", phases) == [[2]]
    assert compute([LISTEN], [A4], segments, "duration", phases) == [[7.0]]
    assert compute([LISTEN], [A4], segments, "share", phases) == [[0.7]]
    # A recording without the phase has nothing inside it.
    assert compute([LISTEN], [A4, A10], segments, "mark", {11: [(0, 1000)]}) == [["", ""]]


def test_parents_aggregate_children_once_and_archived_codes_drop_out() -> None:
    nodes = [
        node(1, "Actions"),
        node(2, "CV", parent=1, depth=1),
        node(3, "Stage", parent=1, depth=1),
        node(4, "Ancien", parent=1, depth=1, archived=True),
        node(5, "Sous-ancien", parent=4, depth=2),
    ]
    rows = rows_of(nodes)
    # Under an archived code nothing is listed any more (no orphan row under a gone parent).
    assert [row.label for row in rows] == ["Actions", "CV", "Stage"]
    assert rows[0].members == frozenset({1, 2, 3})
    segments = [
        (10, 0, 1000, 2, 100),
        (10, 0, 1000, 3, 100),  # the same segment coded CV and Stage
        (10, 5000, 6000, 3, 101),
        (10, 7000, 8000, 4, 102),  # archived: no longer counts, not even for the parent
        (10, 9000, 9500, 5, 103),  # under an archived code: no longer counts either
    ]
    counts = compute(rows, [A4], segments, "count")
    assert counts == [[2], [1], [2]]


def test_cells_are_safe_in_a_spreadsheet_and_read_as_researchers_write() -> None:
    assert neutralised("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralised("-1") == "'-1" and neutralised("A8 - 1") == "A8 - 1"
    assert text_of(0.125, "share") == "12,5\u202f%"
    assert text_of(65.2, "duration") == "1’05" and text_of(602_000, "first") == "10’02"
    table = Table("T", ["Schèmes", "@A1"], [["+x", "X"], ["y", ""]], kind="mark")
    assert to_csv(table) == "\ufeffSchèmes;'@A1\n'+x;X\ny;\n".encode()


def test_user_text_in_markdown_and_html_is_text() -> None:
    """A code named like an attack shows as those characters, in Markdown as in HTML."""
    attack = '<img src=x onerror=alert(1)> | "><script>alert(2)</script>'
    table = Table(f"Synthèse {attack}", ["Schèmes", "A8 - 1"], [[attack, "X"]], kind="mark")
    markdown = to_markdown(table).decode()
    assert "<img" not in markdown and "<script" not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt; \\| &quot;" not in markdown  # quotes stay
    assert '&lt;img src=x onerror=alert(1)&gt; \\| "&gt;&lt;script&gt;' in markdown
    assert markdown.startswith("# Synthèse &lt;img")
    assert markdown.count("\n|") == 3  # header, rule, one row: the pipe did not split it
    page = to_html(table).decode()
    assert "<img" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_grouped_by_counsellor_counts_and_seconds() -> None:
    # Recordings 10 and 11 belong to the first group, 12 to the second.
    segments = [
        (10, 0, 4000, 1, 100),
        (10, 2000, 6000, 1, 101),  # overlaps the first: 6 s of union in recording 10
        (11, 0, 3000, 1, 102),  # another recording of the same group: adds 3 s
        (12, 0, 1000, 2, 103),
    ]
    group_of = {10: 0, 11: 0, 12: 1}
    assert grouped([LISTEN, ASK], segments, group_of, 2, "count") == [[3, 0], [0, 1]]
    assert grouped([LISTEN, ASK], segments, group_of, 2, "duration") == [[9.0, 0.0], [0.0, 1.0]]


def test_cooccurrence_by_time_overlap_in_the_same_recording() -> None:
    segments = [
        (10, 0, 10_000, 1, 100),  # Écouter 0-10 s
        (10, 5000, 15_000, 2, 101),  # Questionner 5-15 s: 5 s together
        (10, 10_000, 20_000, 2, 102),  # starts when the first ends: not together
        (11, 0, 10_000, 2, 103),  # another recording: never together
        (10, 30_000, 31_000, 1, 104),
        (10, 30_000, 31_000, 2, 104),  # one segment with both codes: together with itself
    ]
    rows = [LISTEN, ASK]
    assert cooccurrence(rows, rows, segments, "count") == [[2, 2], [2, 4]]
    # Questionner with itself: 5-20 s and 30-31 s in one recording, 0-10 s in the other.
    assert cooccurrence(rows, rows, segments, "duration") == [[11.0, 6.0], [6.0, 26.0]]


def test_durations_never_exceed_the_recording() -> None:
    # A segment stored before the recording was known to be shorter (60 s of a 30 s file).
    short = Column(12, "A12", 30_000)
    segments = [(12, 0, 60_000, 1, 100)]
    assert compute([LISTEN], [short], segments, "duration") == [[30.0]]
    assert compute([LISTEN], [short], segments, "share") == [[1.0]]
    unknown = Column(13, "A13", None)  # duration unknown: seconds as coded, no share
    assert compute([LISTEN], [unknown], [(13, 0, 60_000, 1, 101)], "duration") == [[60.0]]
    assert compute([LISTEN], [unknown], [(13, 0, 60_000, 1, 101)], "share") == [[None]]


def test_first_use_inside_a_phase_counts_from_the_phase() -> None:
    segments = [(10, 2000, 8000, 1, 100), (10, 9000, 9000, 1, 101)]
    assert compute([LISTEN], [A4], segments, "first") == [[2000]]
    assert compute([LISTEN], [A4], segments, "first", {10: [(5000, 20_000)]}) == [[5000]]
    assert compute([LISTEN], [A4], segments, "first", {10: [(8500, 20_000)]}) == [[9000]]
