"""The counts tables of the report's annexes: recorded counselling sessions, counsellors and
auto-confrontations per structure, per centre, or per researcher (who recorded them)."""

from collections import defaultdict
from typing import Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from autoconf.models import Counsellor, Interview, InterviewRecording, Recording, Structure
from autoconf.schemes.tables import Table

CountsBy = Literal["structures", "centres", "researchers"]
NONE_LABEL = "—"


def counts_table(
    session: Session, study_id: int, by: CountsBy, headers: list[str], total: str, title: str
) -> Table:
    """Rows of `by` (sorted, unknown last), columns: sessions, counsellors, interviews, then
    a `total` row. `headers` (the four column titles), `total` and `title` are in the
    reader's language."""
    researcher = headers[0]
    structures = {
        sid: (code, name, centre, city)
        for sid, code, name, centre, city in session.execute(
            sa_select(
                col(Structure.id),
                col(Structure.code),
                col(Structure.name),
                col(Structure.centre),
                col(Structure.city),
            ).where(col(Structure.study_id) == study_id)
        ).all()
    }
    counsellors = dict(
        session.exec(
            select(Counsellor.id, Counsellor.structure_id).where(Counsellor.study_id == study_id)
        ).all()
    )
    # Exports are pseudonymised: researchers by letter (in the order of their accounts),
    # structures by code.
    creators = session.exec(
        select(Recording.created_by).where(Recording.study_id == study_id)
    ).all()
    names = {
        uid: f"{researcher} {chr(65 + i) if i < 26 else i + 1}"
        for i, uid in enumerate(sorted({uid for uid in creators if uid is not None}))
    }

    def group(counsellor_id: int | None, creator: int | None) -> str:
        if by == "researchers":
            return names.get(creator, NONE_LABEL) if creator is not None else NONE_LABEL
        structure = counsellors.get(counsellor_id) if counsellor_id is not None else None
        if structure is None or structure not in structures:
            return NONE_LABEL
        code, _, centre, city = structures[structure]
        if by == "structures":
            return str(code)
        return ", ".join(part for part in (centre, city) if part) or code

    sessions: dict[str, int] = defaultdict(int)
    people: dict[str, set[int]] = defaultdict(set)
    interviews: dict[str, set[int]] = defaultdict(set)
    recordings = session.exec(
        select(Recording.id, Recording.counsellor_id, Recording.created_by).where(
            Recording.study_id == study_id, Recording.category == "session"
        )
    ).all()
    creator_of = {rid: creator for rid, _, creator in recordings}
    for _, counsellor_id, creator in recordings:
        key = group(counsellor_id, creator)
        sessions[key] += 1
        if counsellor_id is not None:
            people[key].add(counsellor_id)
    for interview_id, counsellor_id, recording_id in session.exec(
        select(Interview.id, Interview.counsellor_id, InterviewRecording.recording_id)
        .join(
            InterviewRecording,
            col(InterviewRecording.interview_id) == Interview.id,
            isouter=True,
        )
        .where(Interview.study_id == study_id)
    ).all():
        creator = creator_of.get(recording_id) if recording_id is not None else None
        key = group(counsellor_id, creator)
        interviews[key].add(interview_id or 0)
        if counsellor_id is not None:
            people[key].add(counsellor_id)
    every = set(sessions) | set(people) | set(interviews)
    keys = sorted(every - {NONE_LABEL}) + ([NONE_LABEL] if NONE_LABEL in every else [])
    rows: list[list[str | int | float | None]] = [
        [key, sessions.get(key, 0), len(people.get(key, ())), len(interviews.get(key, ()))]
        for key in keys
    ]
    all_people = set().union(*people.values()) if people else set()
    all_interviews = set().union(*interviews.values()) if interviews else set()
    rows.append([total, sum(sessions.values()), len(all_people), len(all_interviews)])
    return Table(title=title, header=headers, rows=rows, kind="count")
