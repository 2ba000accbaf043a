"""Cross-tables of a codebook's codes (parents aggregating their descendants) against the
recordings, the counsellors, the structures, or the codes of a codebook (co-occurrence:
segments of the same recording overlapping in time): numbers of segments or seconds."""

from collections.abc import Sequence
from typing import Literal

from sqlmodel import Session, col, select

from autoconf.models import Codebook, Counsellor, Recording, Structure
from autoconf.schemes.codebooks import codebook_tree
from autoconf.schemes.synthesis import Interval, Row, SegmentRow, coded_segments, rows_of, union_ms
from autoconf.schemes.tables import CellKind, Table

By = Literal["recordings", "counsellors", "structures", "codes"]
BY: tuple[By, ...] = ("recordings", "counsellors", "structures", "codes")
Measure = Literal["count", "duration"]
NONE_LABEL = "—"


def _members(rows: Sequence[Row]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        for code_id in row.members:
            found.setdefault(code_id, []).append(index)
    return found


def grouped(
    rows: Sequence[Row],
    segments: Sequence[SegmentRow],
    group_of: dict[int, int],
    groups: int,
    measure: Measure,
) -> list[list[int | float]]:
    """Per row and group (a recording belongs to one group): distinct segments, or seconds
    (the union of a row's segments within each recording, summed over the group)."""
    row_of_code = _members(rows)
    found: dict[tuple[int, int], dict[int, tuple[int, Interval]]] = {}
    for recording_id, start, end, code_id, annotation_id in segments:
        group = group_of.get(recording_id)
        if group is None:
            continue
        for row in row_of_code.get(code_id, []):
            interval = (start, end if end is not None else start)
            found.setdefault((row, group), {})[annotation_id] = (recording_id, interval)
    table: list[list[int | float]] = []
    for r in range(len(rows)):
        line: list[int | float] = []
        for g in range(groups):
            items = found.get((r, g), {})
            if measure == "count":
                line.append(len(items))
                continue
            by_recording: dict[int, list[Interval]] = {}
            for recording_id, interval in items.values():
                by_recording.setdefault(recording_id, []).append(interval)
            line.append(sum(union_ms(parts) for parts in by_recording.values()) / 1000)
        table.append(line)
    return table


def cooccurrence(
    rows: Sequence[Row], columns: Sequence[Row], segments: Sequence[SegmentRow], measure: Measure
) -> list[list[int | float]]:
    """For a row code and a column code: the segments of the row that overlap (in the same
    recording) a segment of the column, or the seconds during which both are present. A
    segment carrying both codes co-occurs with itself."""
    row_codes, column_codes = _members(rows), _members(columns)
    by_recording: dict[int, dict[int, tuple[Interval, set[int], set[int]]]] = {}
    for recording_id, start, end, code_id, annotation_id in segments:
        interval = (start, end if end is not None else start)
        entry = by_recording.setdefault(recording_id, {}).setdefault(
            annotation_id, (interval, set(), set())
        )
        entry[1].update(row_codes.get(code_id, []))
        entry[2].update(column_codes.get(code_id, []))
    counts: dict[tuple[int, int], set[int]] = {}
    # Per recording: seconds together are a union within one recording, summed across them.
    shared: dict[tuple[int, int], dict[int, list[Interval]]] = {}
    for recording_id, annotations in by_recording.items():
        items = sorted(annotations.items(), key=lambda item: item[1][0])
        for i, (a_id, (a, a_rows, a_cols)) in enumerate(items):
            # Itself (a segment with both codes), then the later ones starting before its end.
            partners = [(a_id, a, a_rows, a_cols)]
            for b_id, (b, b_rows, b_cols) in items[i + 1 :]:
                if b[0] > a[1] or (b[0] == a[1] and a[0] != a[1]):
                    break
                partners.append((b_id, b, b_rows, b_cols))
            for b_id, b, b_rows, b_cols in partners:
                both = (max(a[0], b[0]), min(a[1], b[1]))
                for r in a_rows:
                    for c in b_cols:
                        counts.setdefault((r, c), set()).add(a_id)
                        shared.setdefault((r, c), {}).setdefault(recording_id, []).append(both)
                if b_id != a_id:
                    for r in b_rows:
                        for c in a_cols:
                            counts.setdefault((r, c), set()).add(b_id)
                            shared.setdefault((r, c), {}).setdefault(recording_id, []).append(both)
    if measure == "count":
        return [
            [len(counts.get((r, c), ())) for c in range(len(columns))] for r in range(len(rows))
        ]
    return [
        [
            sum(union_ms(parts) for parts in shared.get((r, c), {}).values()) / 1000
            for c in range(len(columns))
        ]
        for r in range(len(rows))
    ]


def crosstab(
    session: Session,
    codebook: Codebook,
    by: By,
    measure: Measure = "count",
    other: Codebook | None = None,
    *,
    title: str,
) -> Table:
    """The codes in rows, the groups of `by` (or the codes of `other`) in columns; `title`
    in the reader's language (it names the spreadsheet's sheet)."""
    study_id = codebook.study_id
    rows = rows_of(codebook_tree(session, codebook.id or 0))
    recordings = session.exec(
        select(Recording.id, Recording.code, Recording.counsellor_id)
        .where(Recording.study_id == study_id)
        .order_by(col(Recording.code))
    ).all()
    ids = [rid for rid, _, _ in recordings if rid is not None]
    kind: CellKind = "count" if measure == "count" else "duration"
    columns = rows_of(codebook_tree(session, (other or codebook).id or 0)) if by == "codes" else []
    codes = sorted({code for row in [*rows, *columns] for code in row.members})
    segments = coded_segments(session, codes, ids, None) if codes and ids else []
    first = codebook.name
    if by == "codes":
        cells = cooccurrence(rows, columns, segments, measure)
        header = [first, *(row.label for row in columns)]
    else:
        labels, group_of = _groups(session, study_id, by, recordings)
        cells = grouped(rows, segments, group_of, len(labels), measure)
        header = [first, *labels]
    return Table(
        title=title,
        header=header,
        rows=[[row.label, *line] for row, line in zip(rows, cells, strict=True)],
        kind=kind,
        depths=[row.depth for row in rows],
    )


def _groups(
    session: Session,
    study_id: int,
    by: By,
    recordings: Sequence[tuple[int | None, str, int | None]],
) -> tuple[list[str], dict[int, int]]:
    """The column labels and the column of each recording."""
    if by == "recordings":
        return [code for _, code, _ in recordings], {
            rid: index for index, (rid, _, _) in enumerate(recordings) if rid is not None
        }
    counsellors = {
        cid: (code, structure)
        for cid, code, structure in session.exec(
            select(Counsellor.id, Counsellor.code, Counsellor.structure_id).where(
                Counsellor.study_id == study_id
            )
        ).all()
    }
    structures = dict(
        session.exec(
            select(Structure.id, Structure.code).where(Structure.study_id == study_id)
        ).all()
    )

    def label(counsellor_id: int | None) -> str:
        if counsellor_id is None or counsellor_id not in counsellors:
            return NONE_LABEL
        code, structure = counsellors[counsellor_id]
        if by == "counsellors":
            return code
        return structures.get(structure, NONE_LABEL) if structure is not None else NONE_LABEL

    keyed = {rid: label(cid) for rid, _, cid in recordings if rid is not None}
    labels = sorted(set(keyed.values()) - {NONE_LABEL})
    if NONE_LABEL in keyed.values():
        labels.append(NONE_LABEL)
    index = {name: i for i, name in enumerate(labels)}
    return labels, {rid: index[name] for rid, name in keyed.items()}
