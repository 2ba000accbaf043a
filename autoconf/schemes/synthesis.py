"""The scheme synthesis (schemes × recordings) and the sources/references of a codebook,
computed from segments, in SQL for the rows and over tuples for the rest (DESIGN: 200,000
rows load as tuples in well under a second; ORM objects take seconds).

A code row aggregates its descendants: a segment coded with a child counts for its parent
(once, even when it carries several children). Archived codes drop out (their segments no
longer count). Prepared marks (the preparation's notes) and private annotations never
count; the transcript carries no codes.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from autoconf.errors import Invalid, NotFound
from autoconf.models import (
    Annotation,
    AnnotationCode,
    Code,
    Codebook,
    Interview,
    InterviewRecording,
    Recording,
)
from autoconf.schemes.codebooks import CodeNode, codebook_tree
from autoconf.schemes.tables import Table

Value = Literal["mark", "count", "duration", "share", "first"]
VALUES: tuple[Value, ...] = ("mark", "count", "duration", "share", "first")
ALL_CODERS = None
# The agreed coding, on its own layer; never mixed with the coders' own (it would count twice).
CONSENSUS: Literal["consensus"] = "consensus"
Coder = int | Literal["consensus"] | None
# Layers whose segments are no one's coding: the preparation's notes, and the consensus
# (asked for on its own).
_NOT_CODING = ("prepared", "consensus")

# (recording id, start ms, end ms or None, code id, annotation id)
SegmentRow = tuple[int, int, int | None, int, int]
Interval = tuple[int, int]


@dataclass(frozen=True)
class Row:
    code_id: int
    label: str
    path: str
    depth: int
    members: frozenset[int]  # the code and its (active) descendants


@dataclass(frozen=True)
class Column:
    recording_id: int
    code: str
    duration_ms: int | None


def rows_of(nodes: Sequence[CodeNode]) -> list[Row]:
    """The active codes in codebook order, each with the ids it aggregates. An archived code
    takes what is under it out too: no row, no count (the tables and the chronogram agree,
    and no row is listed under a parent that is gone)."""
    parent_of = {node.id: node.parent_id for node in nodes}
    flagged = {node.id for node in nodes if node.archived}

    def retired(code_id: int | None) -> bool:
        while code_id is not None:
            if code_id in flagged:
                return True
            code_id = parent_of.get(code_id)
        return False

    archived = {node.id for node in nodes if retired(node.id)}
    active = [node for node in nodes if node.id not in archived]
    children: dict[int | None, list[int]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node.id)
    rows = []
    for node in active:
        members, pending = set(), [node.id]
        while pending:
            current = pending.pop()
            if current in archived:
                continue  # an archived code (and what is under it) no longer counts
            members.add(current)
            pending.extend(children.get(current, []))
        rows.append(Row(node.id, node.label, node.path, node.depth, frozenset(members)))
    return rows


def overlaps(segment: Interval, phase: Interval) -> bool:
    """Strict overlap; a moment (zero length) counts inside [start, end) of the phase."""
    start, end = segment
    if start == end:
        return phase[0] <= start < phase[1]
    return start < phase[1] and phase[0] < end


def union_ms(intervals: Iterable[Interval]) -> int:
    total, current_start, current_end = 0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def _clip(segment: Interval, phases: Sequence[Interval]) -> list[Interval]:
    start, end = segment
    return [(max(start, a), min(end, b)) for a, b in phases if max(start, a) < min(end, b)]


def compute(
    rows: Sequence[Row],
    columns: Sequence[Column],
    segments: Iterable[SegmentRow],
    value: Value = "mark",
    phases: dict[int, list[Interval]] | None = None,
) -> list[list[str | int | float | None]]:
    """The cells, row by row. With `phases` (recording -> intervals), only segments that
    overlap one of their recording's phase intervals count, and durations are clipped to it.
    """
    row_of_code: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        for code_id in row.members:
            row_of_code.setdefault(code_id, []).append(index)
    column_of = {column.recording_id: index for index, column in enumerate(columns)}
    found: dict[tuple[int, int], dict[int, Interval]] = {}
    for recording_id, start, end, code_id, annotation_id in segments:
        at = column_of.get(recording_id)
        targets = row_of_code.get(code_id)
        if at is None or not targets:
            continue
        interval = (start, end if end is not None else start)
        scope = phases.get(recording_id, []) if phases is not None else None
        if scope is not None and not any(overlaps(interval, phase) for phase in scope):
            continue
        for target in targets:
            # Keyed by annotation: a segment carrying two children counts once for the parent.
            found.setdefault((target, at), {})[annotation_id] = interval
    return [
        [
            _cell(value, list(found.get((r, c), {}).values()), column, phases)
            for c, column in enumerate(columns)
        ]
        for r in range(len(rows))
    ]


def _cell(
    value: Value,
    intervals: list[Interval],
    column: Column,
    phases: dict[int, list[Interval]] | None,
) -> str | int | float | None:
    if value == "mark":
        return "X" if intervals else ""
    if value == "count":
        return len(intervals)
    scope = phases.get(column.recording_id, []) if phases is not None else None
    if value == "first":
        if scope is None:
            return min(start for start, _ in intervals) if intervals else None
        # The first moment inside the phase: a segment begun before it counts from its start.
        starts = [max(s, p[0]) for s, e in intervals for p in scope if overlaps((s, e), p)]
        return min(starts) if starts else None
    if scope is None and column.duration_ms:
        scope = [(0, column.duration_ms)]  # never more than the recording (share ≤ 100 %)
    if scope is not None:
        intervals = [piece for interval in intervals for piece in _clip(interval, scope)]
    seconds = union_ms(intervals) / 1000
    if value == "duration":
        return seconds
    whole = union_ms(scope) if scope is not None else None
    return round(seconds * 1000 / whole, 4) if whole else None


def scheme_codebook(session: Session, study_id: int) -> Codebook:
    book = session.exec(
        select(Codebook)
        .where(Codebook.study_id == study_id, Codebook.kind == "schemes")
        .order_by(col(Codebook.position))
    ).first()
    if book is None:
        raise NotFound("Cette étude n'a pas de livre de schèmes.")
    return book


def study_columns(
    session: Session, study_id: int, recording_ids: Sequence[int] | None
) -> list[Column]:
    """The recordings as columns: those asked for, in that order, else all by code."""
    found = session.exec(
        select(Recording.id, Recording.code, Recording.duration_ms).where(
            Recording.study_id == study_id, Recording.category == "session"
        )
    ).all()
    by_id = {rid: Column(rid, code, duration) for rid, code, duration in found if rid}
    if recording_ids is None:
        return sorted(by_id.values(), key=lambda column: column.code)
    missing = [rid for rid in recording_ids if rid not in by_id]
    if missing:
        raise Invalid(f"Enregistrement(s) inconnu(s) dans cette étude : {missing}.")
    if len(set(recording_ids)) != len(recording_ids):
        raise Invalid("Un enregistrement est demandé deux fois comme colonne.")
    return [by_id[rid] for rid in recording_ids]


def coded_segments(
    session: Session,
    code_ids: Sequence[int],
    recording_ids: Sequence[int],
    coder: Coder,
    *,
    any_layer: bool = False,
) -> list[SegmentRow]:
    """The shared segments carrying these codes: one coder's, all coders', or the consensus;
    with `any_layer` (the phases, which frame everyone's coding), from every layer but the
    preparation's."""
    query = (
        sa_select(
            col(Annotation.recording_id),
            col(Annotation.start_ms),
            col(Annotation.end_ms),
            col(AnnotationCode.code_id),
            col(Annotation.id),
        )
        .join(AnnotationCode, col(AnnotationCode.annotation_id) == Annotation.id)
        .where(
            col(AnnotationCode.code_id).in_(code_ids),
            col(Annotation.recording_id).in_(recording_ids),
            col(Annotation.shared).is_(True),
        )
    )
    if any_layer:
        query = query.where(col(Annotation.layer) != "prepared")
    elif coder == CONSENSUS:
        query = query.where(col(Annotation.layer) == CONSENSUS)
    else:
        query = query.where(col(Annotation.layer).not_in(_NOT_CODING))
        if coder is not None:
            query = query.where(col(Annotation.author_id) == coder)
    return [tuple(row) for row in session.execute(query).all()]


def _phase_codes(session: Session, study_id: int, phase_code_id: int) -> frozenset[int]:
    """The phase and its (active) sub-phases."""
    code = session.get(Code, phase_code_id)
    book = session.get(Codebook, code.codebook_id) if code else None
    if code is None or book is None or book.study_id != study_id or book.kind != "phases":
        raise Invalid(f"Le code n° {phase_code_id} n'est pas une phase de cette étude.")
    if code.archived:
        raise Invalid(f"La phase « {code.label} » est archivée : désarchivez-la pour l'utiliser.")
    members = rows_of(codebook_tree(session, book.id or 0))
    return next((row.members for row in members if row.code_id == phase_code_id), frozenset())


def phase_intervals(
    session: Session, phase_codes: frozenset[int], recording_ids: Sequence[int]
) -> dict[int, list[Interval]]:
    phases: dict[int, list[Interval]] = {}
    for recording_id, start, end, _, _ in coded_segments(
        session, list(phase_codes), recording_ids, None, any_layer=True
    ):
        phases.setdefault(recording_id, []).append((start, end if end is not None else start))
    return phases


# The phase segments (intervals) of the recordings, then the rule of `overlaps`: a moment
# inside [start, end), a segment strictly across it. Joined, not a correlated EXISTS: one
# pass over the few phase segments instead of one per coded segment.
_PHASES_SQL = """, ph(recording_id, s, e) AS MATERIALIZED (
        SELECT p.recording_id, p.start_ms, COALESCE(p.end_ms, p.start_ms)
        FROM annotation p JOIN annotation_code pc ON pc.annotation_id = p.id
        WHERE pc.code_id IN ({phase_codes}) AND p.recording_id IN ({recordings})
          AND p.shared AND p.layer != 'prepared')"""
_OVERLAP_SQL = """ph.recording_id = a.recording_id AND a.start_ms < ph.e
        AND CASE WHEN COALESCE(a.end_ms, a.start_ms) = a.start_ms
                 THEN ph.s <= a.start_ms
                 ELSE ph.s < a.end_ms END"""


def _ints(values: Iterable[int]) -> str:
    """A list of ids written into SQL: integers only (nothing a user typed), and no bound
    parameters, so a thousand columns never meet a driver's parameter limit."""
    return ",".join(str(int(value)) for value in values) or "NULL"


def counted(
    session: Session,
    rows: Sequence[Row],
    columns: Sequence[Column],
    value: Value,
    coder: Coder,
    phase_codes: frozenset[int] | None,
) -> list[list[str | int | float | None]]:
    """`mark` and `count` in one GROUP BY (the covering index on annotation_code does the
    work): distinct segments per row (so a segment with two children counts once for their
    parent) and recording. Gives what `compute` gives on the same segments."""
    mapping = ",".join(
        f"({int(code)}, {index})" for index, row in enumerate(rows) for code in row.members
    )
    if not mapping or not columns:
        return [["" if value == "mark" else 0 for _ in columns] for _ in rows]
    recordings = _ints(c.recording_id for c in columns)
    where = [f"a.recording_id IN ({recordings})", "a.shared"]
    if coder == CONSENSUS:
        where.append("a.layer = 'consensus'")
    else:
        where.append("a.layer NOT IN ('prepared', 'consensus')")
        if coder is not None:
            where.append(f"a.author_id = {int(coder)}")
    if phase_codes is None:
        sql = (
            f"WITH m(code_id, r) AS (VALUES {mapping}) "
            "SELECT a.recording_id, m.r, count(DISTINCT a.id) FROM m "
            "JOIN annotation_code ac ON ac.code_id = m.code_id "
            "JOIN annotation a ON a.id = ac.annotation_id "
            f"WHERE {' AND '.join(where)} GROUP BY a.recording_id, m.r"
        )
    else:
        # From the few phase segments to the coded segments of their recording that start
        # before the phase ends (the index on recording and start), then to their codes.
        phases = _PHASES_SQL.format(phase_codes=_ints(phase_codes), recordings=recordings)
        sql = (
            f"WITH m(code_id, r) AS (VALUES {mapping}){phases} "
            "SELECT a.recording_id, m.r, count(DISTINCT a.id) "
            "FROM ph CROSS JOIN annotation a CROSS JOIN annotation_code ac CROSS JOIN m "
            f"WHERE {_OVERLAP_SQL} AND ac.annotation_id = a.id AND m.code_id = ac.code_id "
            f"AND {' AND '.join(where)} GROUP BY a.recording_id, m.r"
        )
    found = {(recording, row): n for recording, row, n in session.connection().exec_driver_sql(sql)}
    return [
        [
            ("X" if found.get((column.recording_id, r)) else "")
            if value == "mark"
            else found.get((column.recording_id, r), 0)
            for column in columns
        ]
        for r in range(len(rows))
    ]


@dataclass(frozen=True)
class Synthesis:
    rows: list[Row]
    columns: list[Column]
    cells: list[list[str | int | float | None]]
    value: Value

    def table(self, title: str, first_header: str) -> Table:
        return Table(
            title=title,
            header=[first_header, *(column.code for column in self.columns)],
            rows=[[row.label, *cells] for row, cells in zip(self.rows, self.cells, strict=True)],
            kind=self.value,
            depths=[row.depth for row in self.rows],
        )


def scheme_synthesis(
    session: Session,
    study_id: int,
    *,
    recording_ids: Sequence[int] | None = None,
    phase_code_id: int | None = None,
    coder: Coder = ALL_CODERS,
    value: Value = "mark",
) -> Synthesis:
    """Schemes (codebook order, parents aggregating children) × recordings."""
    book = scheme_codebook(session, study_id)
    rows = rows_of(codebook_tree(session, book.id or 0))
    columns = study_columns(session, study_id, recording_ids)
    ids = [column.recording_id for column in columns]
    phase_codes = _phase_codes(session, study_id, phase_code_id) if phase_code_id else None
    if value in ("mark", "count"):
        cells = counted(session, rows, columns, value, coder, phase_codes)
        return Synthesis(rows, columns, cells, value)
    codes = sorted({code for row in rows for code in row.members})
    segments = coded_segments(session, codes, ids, coder) if codes and ids else []
    phases = phase_intervals(session, phase_codes, ids) if phase_codes is not None else None
    return Synthesis(rows, columns, compute(rows, columns, segments, value, phases), value)


def sources_references(session: Session, codebook: Codebook, header: list[str]) -> Table:
    """Per code (parents aggregating descendants): sources, the distinct interviews (a
    recording in no interview is a source of its own) with at least one segment, and
    references, the number of segments. `header`: the four column titles (path,
    description, sources, references) in the reader's language."""
    nodes = codebook_tree(session, codebook.id or 0)
    rows = rows_of(nodes)
    descriptions = {node.id: node.description for node in nodes}
    codes = sorted({code for row in rows for code in row.members})
    recordings = session.exec(
        select(Recording.id).where(Recording.study_id == codebook.study_id)
    ).all()
    ids = [rid for rid in recordings if rid is not None]
    segments = coded_segments(session, codes, ids, None) if codes and ids else []
    interview_of: dict[int, str] = {}
    for interview_id, recording_id in session.exec(
        select(InterviewRecording.interview_id, InterviewRecording.recording_id).where(
            col(InterviewRecording.recording_id).in_(ids)
        )
    ).all():
        interview_of.setdefault(recording_id, f"i{interview_id}")
    # An interview's own recording (coded thematically, often) is a source of that interview.
    for ac_interview, ac_id in session.exec(
        select(Interview.id, Interview.ac_recording_id).where(
            col(Interview.ac_recording_id).in_(ids)
        )
    ).all():
        if ac_id is not None:
            interview_of.setdefault(ac_id, f"i{ac_interview}")
    row_of_code: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        for code_id in row.members:
            row_of_code.setdefault(code_id, []).append(index)
    sources: list[set[str]] = [set() for _ in rows]
    references: list[set[int]] = [set() for _ in rows]
    for recording_id, _, _, code_id, annotation_id in segments:
        for index in row_of_code.get(code_id, []):
            sources[index].add(interview_of.get(recording_id, f"r{recording_id}"))
            references[index].add(annotation_id)
    return Table(
        title=codebook.name,
        header=header,
        rows=[
            [row.path, descriptions[row.code_id], len(sources[i]), len(references[i])]
            for i, row in enumerate(rows)
        ],
        kind="count",
        depths=[row.depth for row in rows],
    )
