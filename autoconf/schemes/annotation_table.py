"""Every annotation of a study as one flat table, a row per annotation: what researchers load
into R or a spreadsheet. Written by `schemes.writers` like the other tables (CSV, XLSX).

Column names are identifiers, the same in every language and named as in the API
(`layer`, `origin`, `speaker`, `note`, the structured fields by their keys), so that a script
reading the file keeps working whoever exported it. Times are seconds with millisecond
precision (`start_s`, `end_s`, `duration_s`; empty for a moment), beside the timecodes a
person reads (`10’02`). Several codes share one cell, in codebook order, joined by
`CODE_SEPARATOR`; `codebooks` gives each code's codebook kind, in the same order.

The author is a code, as in every export (never a person's name): a counsellor's own code
(`A8`), a researcher's letter in the order of their usernames ("Chercheur·e A")."""

from collections.abc import Collection, Sequence

from sqlmodel import Session, col, select

from autoconf.models import Counsellor, Recording, User
from autoconf.schemes.annotations import AnnotationView
from autoconf.schemes.codebooks import list_codebooks
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.schemes.tables import Cell, Table
from autoconf.schemes.timecode import format_ms

CODE_SEPARATOR = " | "
COLUMNS = [
    "recording",
    "recording_category",
    "layer",
    "start_timecode",
    "end_timecode",
    "start_s",
    "end_s",
    "duration_s",
    "codes",
    "codebooks",
    "author",
    "origin",
    "speaker",
    "note",
    *STRUCTURED_FIELDS,
    "annotation_id",
]

# A recording with the annotations of it the reader may see, as they may see them.
Shown = tuple[Recording, Sequence[AnnotationView]]


def annotation_table(
    session: Session,
    study_id: int,
    recordings: Sequence[Shown],
    title: str,
    researcher: str,
    codebook_kinds: Collection[str] | None = None,
) -> Table:
    """A row per annotation of `recordings`, in their order, then by time. Only the codes of
    `codebook_kinds` are named (None: every codebook), as the reader's pages show them."""
    codes: dict[int, tuple[int, str, str]] = {}  # id -> (order, path, codebook kind)
    for book, nodes in list_codebooks(session, study_id):
        if codebook_kinds is None or book.kind in codebook_kinds:
            for node in nodes:
                codes[node.id] = (len(codes), node.path, book.kind)
    authors = {view.author_id for _, views in recordings for view in views if view.author_id}
    names = author_codes(session, study_id, authors, researcher)
    rows: list[list[Cell]] = []
    for recording, views in recordings:
        for view in views:
            named = sorted((codes[c] for c in view.code_ids if c in codes), key=lambda c: c[0])
            end = view.end_ms
            rows.append(
                [
                    recording.code,
                    recording.category,
                    view.layer,
                    format_ms(view.start_ms),
                    format_ms(end) if end is not None else None,
                    view.start_ms / 1000,
                    end / 1000 if end is not None else None,
                    (end - view.start_ms) / 1000 if end is not None else None,
                    CODE_SEPARATOR.join(path for _, path, _ in named),
                    CODE_SEPARATOR.join(kind for _, _, kind in named),
                    names.get(view.author_id, "") if view.author_id is not None else "",
                    view.origin,
                    view.speaker or "",
                    view.note,
                    *(view.fields.get(key, "") for key in STRUCTURED_FIELDS),
                    view.id,
                ]
            )
    return Table(title=title, header=list(COLUMNS), rows=rows)


def author_codes(
    session: Session, study_id: int, authors: Collection[int], researcher: str
) -> dict[int, str]:
    """Who wrote what, pseudonymised: a counsellor by their code in the study, anyone else by
    `researcher` and a letter, in the order of their usernames (the same letters wherever
    the study is, an archive of it imported elsewhere included)."""
    counsellors = dict(
        session.exec(
            select(Counsellor.user_id, Counsellor.code).where(
                Counsellor.study_id == study_id, col(Counsellor.user_id).is_not(None)
            )
        ).all()
    )
    others = set(authors) - set(counsellors)
    usernames = session.exec(select(User.id, User.username).where(col(User.id).in_(others))).all()
    ordered = [uid for uid, _ in sorted(usernames, key=lambda row: row[1].casefold())]
    letters = {
        uid: f"{researcher} {chr(65 + i) if i < 26 else i + 1}" for i, uid in enumerate(ordered)
    }
    return {uid: counsellors.get(uid) or letters.get(uid, researcher) for uid in authors}
