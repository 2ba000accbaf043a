"""The session report of an interview: the two-column table researchers otherwise build by
hand. Left, the moment of the counselling session at each stop (recording, time, transcript
excerpt, schemes coded there); right, what was said in the auto-confrontation at that stop
(the comments typed, and the time and transcript of the interview's own recording there).

Computed once (`build`), written as a page, HTML, DOCX or CSV.
"""

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from autoconf.errors import Invalid, NotFound
from autoconf.i18n import current_language
from autoconf.i18n import gettext as _
from autoconf.live import sessions, stops, wording
from autoconf.models import (
    Annotation,
    AnnotationCode,
    Code,
    Codebook,
    Counsellor,
    DraftCue,
    Interview,
    InterviewRecording,
    LiveSession,
    Recording,
)
from autoconf.schemes.tables import Table, xml_safe
from autoconf.schemes.timecode import format_ms

# The transcript shown left of a stop: what was said in the seconds before it.
EXCERPT_BEFORE_MS = 12_000
# Schemes shown left of a stop: the segments running then, or that ended just before.
SCHEMES_BEFORE_MS = 5_000
# The interview's own transcript shown right: from the stop until the next (at most).
AC_EXCERPT_MAX_MS = 180_000


@dataclass(frozen=True)
class Said:
    speaker: str
    text: str
    ms: int | None = None
    gender: str = ""  # of who said it, for a comment's label (wording.label)


@dataclass
class ReportRow:
    stop_id: int
    recording_id: int
    recording: str
    position_ms: int
    role: str
    gender: str  # of who stopped, for the label of the role (wording.label)
    stopped_by: str
    stopped_at: datetime
    pause_ms: int | None
    prepared: str | None
    excerpt: list[Said] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)
    comments: list[Said] = field(default_factory=list)
    ac_ms: int | None = None
    ac_excerpt: list[Said] = field(default_factory=list)

    @property
    def time(self) -> str:
        return format_ms(self.position_ms)

    @property
    def ac_time(self) -> str:
        return format_ms(self.ac_ms) if self.ac_ms is not None else ""


@dataclass
class Report:
    interview_id: int
    code: str
    ac_recording_id: int | None
    ac_recording: str | None
    aligned: bool  # the interview's recording start is known (else guessed from the session)
    rows: list[ReportRow]
    # The right column's words come from the automatic transcript's draft (no transcript of
    # the interview's recording validated yet).
    ac_draft: bool = False

    @property
    def title(self) -> str:
        return _("Auto-confrontation %(code)s — rapport de séance") % {"code": self.code}


def _said(rows: Any) -> list[Said]:
    return [Said(speaker or "", text, ms) for ms, speaker, text in rows]


def _cues(session: Session, recording_id: int, start: int, end: int) -> list[Said]:
    """The transcript's cues overlapping [start, end], in time order."""
    rows = session.execute(
        sa_select(col(Annotation.start_ms), col(Annotation.speaker), col(Annotation.note))
        .where(
            col(Annotation.recording_id) == recording_id,
            col(Annotation.layer) == "transcript",
            col(Annotation.start_ms) <= end,
            col(Annotation.end_ms) >= start,
        )
        .order_by(col(Annotation.start_ms))
    ).all()
    return _said(rows)


def _draft_cues(session: Session, recording_id: int, start: int, end: int) -> list[Said]:
    """The automatic transcript's draft cues overlapping [start, end], in time order."""
    rows = session.execute(
        sa_select(col(DraftCue.start_ms), col(DraftCue.speaker), col(DraftCue.text))
        .where(
            col(DraftCue.recording_id) == recording_id,
            col(DraftCue.start_ms) <= end,
            col(DraftCue.end_ms) >= start,
        )
        .order_by(col(DraftCue.start_ms))
    ).all()
    return _said(rows)


def _has_transcript(session: Session, recording_id: int) -> bool:
    return (
        session.execute(
            sa_select(col(Annotation.id))
            .where(
                col(Annotation.recording_id) == recording_id, col(Annotation.layer) == "transcript"
            )
            .limit(1)
        ).first()
        is not None
    )


def _schemes(session: Session, recording_id: int, position: int) -> list[str]:
    """The scheme codes of the shared segments running at `position` or just before it."""
    rows = session.execute(
        sa_select(col(Code.label))
        .join(AnnotationCode, col(AnnotationCode.code_id) == Code.id)
        .join(Annotation, col(Annotation.id) == AnnotationCode.annotation_id)
        .join(Codebook, col(Codebook.id) == Code.codebook_id)
        .where(
            col(Annotation.recording_id) == recording_id,
            col(Annotation.shared).is_(True),
            col(Annotation.layer).not_in(("prepared", "transcript")),
            col(Codebook.kind) == "schemes",
            col(Annotation.start_ms) <= position,
            col(Annotation.end_ms) >= position - SCHEMES_BEFORE_MS,
        )
        .order_by(col(Annotation.start_ms), col(Code.position))
    ).all()
    return list(dict.fromkeys(row[0] for row in rows))


def _session_ids(session: Session, interview: Interview) -> list[int]:
    return [live.id for live in interview_sessions(session, interview.id or 0) if live.id]


def started_at(session: Session, interview: Interview) -> tuple[datetime | None, bool]:
    """When the interview's own recording started (wall clock), and whether it was said:
    unless a researcher aligned it, the start of its first live session."""
    if interview.ac_started_at is not None:
        return interview.ac_started_at, True
    first = interview_sessions(session, interview.id or 0)[:1]
    return (first[0].created_at if first else None), False


def _prepared_label(note: Annotation | None) -> str | None:
    if note is None:
        return None
    return f"{format_ms(note.start_ms)} — {note.note}" if note.note else format_ms(note.start_ms)


def _in_recording_order(
    session: Session, interview: Interview, stop_views: list[stops.StopView]
) -> list[stops.StopView]:
    """The stops as the recordings run: the interview's recordings in order, then the time in
    the recording, then the time they were made."""
    order = {r.id: i for i, r in enumerate(sessions.interview_recordings(session, interview.id))}
    return sorted(
        stop_views,
        key=lambda s: (order.get(s.recording_id, len(order)), s.position_ms, s.stopped_at, s.id),
    )


def _label_gender(stop: stops.StopView, counsellor_gender: str) -> str:
    """Whose gender the label of the stop's role follows: the interview's counsellor, or the
    researcher who stopped."""
    return counsellor_gender if stop.role == "counsellor" else stop.author_gender


def build(session: Session, interview: Interview, viewer_id: int | None) -> Report:
    """The report of every stop of the interview's live sessions, in recording order."""
    assert interview.id is not None
    stop_views = _in_recording_order(
        session, interview, stops.list_stops(session, _session_ids(session, interview))
    )
    codes = dict(
        session.exec(
            select(Recording.id, Recording.code).where(Recording.study_id == interview.study_id)
        ).all()
    )
    prepared_ids = [s.prepared_id for s in stop_views if s.prepared_id is not None]
    prepared = {
        a.id: a
        for a in session.exec(select(Annotation).where(col(Annotation.id).in_(prepared_ids)))
        if a.shared or a.author_id == viewer_id
    }
    counsellor = session.get(Counsellor, interview.counsellor_id or 0)
    counsellor_code = counsellor.code if counsellor is not None else None
    counsellor_gender = stops.counsellor_gender(session, interview.id)
    start, aligned = started_at(session, interview)
    ac = interview.ac_recording_id
    ac_duration = None
    if ac is not None:
        recording = session.get(Recording, ac)
        ac_duration = recording.duration_ms if recording else None
    rows: list[ReportRow] = []
    for stop in stop_views:
        note = prepared.get(stop.prepared_id) if stop.prepared_id else None
        row = ReportRow(
            stop_id=stop.id,
            recording_id=stop.recording_id,
            recording=codes.get(stop.recording_id, "?"),
            position_ms=stop.position_ms,
            role=stop.role,
            gender=_label_gender(stop, counsellor_gender),
            # Pseudonymised as the exports are: the counsellor's code, no researcher's name.
            stopped_by=(counsellor_code or "") if stop.role == "counsellor" else "",
            stopped_at=stop.stopped_at,
            pause_ms=stop.pause_ms,
            prepared=_prepared_label(note),
            excerpt=_cues(
                session,
                stop.recording_id,
                max(0, stop.position_ms - EXCERPT_BEFORE_MS),
                stop.position_ms,
            ),
            schemes=_schemes(session, stop.recording_id, stop.position_ms),
            comments=[
                Said(
                    c.speaker,
                    c.text,
                    gender=counsellor_gender if c.speaker == "counsellor" else c.author_gender,
                )
                for c in stop.comments
            ],
        )
        if start is not None and ac is not None:
            ms = round((stop.stopped_at - start).total_seconds() * 1000)
            if ms >= 0 and (ac_duration is None or ms <= ac_duration):
                row.ac_ms = ms
        rows.append(row)
    ac_draft = False
    if ac is not None:
        # The validated transcript, else the automatic transcript's draft, marked as such.
        excerpt = _cues
        if not _has_transcript(session, ac):
            excerpt, ac_draft = _draft_cues, True
        # Rows are in recording order: the next stop in the interview's recording is the
        # next in time.
        ac_times = sorted({r.ac_ms for r in rows if r.ac_ms is not None})
        for row in rows:
            if row.ac_ms is None:
                continue
            following = [ms for ms in ac_times if ms > row.ac_ms]
            end = min([*following[:1], row.ac_ms + AC_EXCERPT_MAX_MS])
            row.ac_excerpt = excerpt(session, ac, row.ac_ms, max(row.ac_ms, end - 1))
        ac_draft = ac_draft and any(row.ac_excerpt for row in rows)
    return Report(
        interview_id=interview.id,
        code=interview.code,
        ac_recording_id=ac,
        ac_recording=codes.get(ac) if ac is not None else None,
        aligned=aligned,
        rows=rows,
        ac_draft=ac_draft,
    )


def set_recording(
    session: Session,
    interview: Interview,
    recording_id: int | None,
    stop_id: int | None = None,
    stop_at_ms: int | None = None,
) -> Interview:
    """Choose the interview's own recording (None: none) and, with `stop_at_ms`, align it:
    the stop `stop_id` (the first one by default) is at `stop_at_ms` in it."""
    previous = interview.ac_recording_id
    if recording_id is not None:
        recording = session.get(Recording, recording_id)
        if recording is None or recording.study_id != interview.study_id:
            raise NotFound(f"Aucun enregistrement n° {recording_id} dans cette étude.")
        covered = session.exec(
            select(InterviewRecording.interview_id).where(
                InterviewRecording.recording_id == recording_id
            )
        ).first()
        if covered is not None:
            raise Invalid(
                f"{recording.code} est une séance rejouée dans un entretien : choisissez "
                "l'enregistrement de l'auto-confrontation elle-même."
            )
        recording.category = "autoconfrontation"
        session.add(recording)
    interview.ac_recording_id = recording_id
    if stop_at_ms is not None:
        chosen = session.get(Recording, recording_id) if recording_id is not None else None
        too_far = chosen is not None and chosen.duration_ms and stop_at_ms > chosen.duration_ms
        if stop_at_ms < 0 or too_far:
            raise Invalid("Ce temps est en dehors de l'enregistrement de l'auto-confrontation.")
        stop = next(
            (
                r
                for r in stops.list_stops(session, _session_ids(session, interview))
                if stop_id is None or r.id == stop_id
            ),
            None,
        )
        if stop is None:
            raise Invalid("Aucun arrêt de cet entretien pour caler l'enregistrement.")
        interview.ac_started_at = stop.stopped_at - timedelta(milliseconds=stop_at_ms)
    session.add(interview)
    session.flush()
    if previous is not None and previous != recording_id:
        still = session.exec(
            select(Interview.id).where(Interview.ac_recording_id == previous)
        ).first()
        old = session.get(Recording, previous)
        if still is None and old is not None:
            old.category = "session"
            session.add(old)
            session.flush()
    return interview


# --- writers -----------------------------------------------------------------------------


def _speaker(said: Said) -> str:
    """A comment's speaker, as the files name them: "Conseillère", "Chercheur·e"…"""
    return wording.label(said.speaker, said.gender).capitalize()


def _transcript_lines(said: list[Said]) -> list[str]:
    return [(f"{s.speaker} : " if s.speaker else "") + s.text for s in said]


def _ac_heading(report: Report) -> str:
    """The right column's title; its words from a draft say so."""
    heading = _("Ce qui est dit en auto-confrontation")
    if report.ac_draft:
        heading += " " + _("(brouillon de transcription automatique non validé)")
    return heading


def _comment_lines(said: list[Said]) -> list[str]:
    return [f"{_speaker(s)} : {s.text}" for s in said]


def _who(row: ReportRow) -> str:
    """Who stopped: "conseillère (A8)", "chercheur" (researchers are not named)."""
    role = wording.label(row.role, row.gender)
    return f"{role} ({row.stopped_by})" if row.stopped_by else role


def _stopped_by(row: ReportRow) -> str:
    """ "Arrêt de la conseillère (A8)", "Arrêt du chercheur"."""
    label = wording.label(row.role, row.gender, form="stop")
    return f"{label} ({row.stopped_by})" if row.stopped_by else label


def _answers(prepared: str) -> str:
    return _(" — répond au moment préparé %(mark)s") % {"mark": prepared}


def to_table(report: Report) -> Table:
    """One line per stop, for spreadsheets (CSV)."""
    header = [
        _("Séance"),
        _("Temps"),
        _("Arrêt par"),
        _("Heure"),
        _("Pause (s)"),
        _("Moment préparé"),
        _("Transcription"),
        _("Schèmes"),
        _("Commentaires"),
        _("Temps dans l'enregistrement de l'AC"),
        _("Transcription de l'AC")
        + (
            " " + _("(brouillon de transcription automatique non validé)")
            if report.ac_draft
            else ""
        ),
    ]
    rows: list[list[Any]] = []
    for row in report.rows:
        rows.append(
            [
                row.recording,
                row.time,
                _who(row),
                row.stopped_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                round(row.pause_ms / 1000) if row.pause_ms is not None else "",
                row.prepared or "",
                "\n".join(_transcript_lines(row.excerpt)),
                " ; ".join(row.schemes),
                "\n".join(_comment_lines(row.comments)),
                row.ac_time,
                "\n".join(_transcript_lines(row.ac_excerpt)),
            ]
        )
    return Table(title=report.title, header=header, rows=rows)


def to_html(report: Report, base_url: str) -> bytes:
    """A document to read and print: the two columns, each time linked to its player."""
    parts = [
        f'<!doctype html>\n<html lang="{current_language()}">\n<head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>body{{font-family:sans-serif;"
        "max-width:70em;margin:auto}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #999;padding:.4em .6em;vertical-align:top;text-align:left;"
        "width:50%}p{margin:.2em 0}.muted{color:#555;font-size:.9em}"
        "blockquote{margin:.2em 0 .2em 1em;font-style:italic}</style></head>\n<body>",
        f"<h1>{escape(report.title)}</h1>",
        f"<table><thead><tr><th>{escape(_('Moment de la séance de conseil'))}</th>"
        f"<th>{escape(_ac_heading(report))}</th></tr></thead><tbody>",
    ]
    for row in report.rows:
        session_link = f"{base_url}/recordings/{row.recording_id}#t={row.position_ms}"
        left = [
            f'<p><strong>{escape(row.recording)} · <a href="{escape(session_link)}">'
            f"{escape(row.time)}</a></strong></p>",
            f'<p class="muted">{escape(_stopped_by(row))}'
            + (escape(_answers(row.prepared)) if row.prepared else "")
            + "</p>",
        ]
        left += [
            f"<blockquote>{escape(line)}</blockquote>" for line in _transcript_lines(row.excerpt)
        ]
        if row.schemes:
            schemes = escape(" ; ".join(row.schemes))
            left.append(f"<p><em>{escape(_('Schèmes :'))}</em> {schemes}</p>")
        right = [f"<p>{escape(line)}</p>" for line in _comment_lines(row.comments)]
        if row.ac_ms is not None and report.ac_recording_id is not None:
            ac_link = f"{base_url}/recordings/{report.ac_recording_id}#t={row.ac_ms}"
            ac_label = escape(_("Enregistrement de l'AC :"))
            right.append(
                f'<p class="muted">{ac_label} <a href="{escape(ac_link)}">'
                f"{escape(row.ac_time)}</a></p>"
            )
        right += [
            f"<blockquote>{escape(line)}</blockquote>" for line in _transcript_lines(row.ac_excerpt)
        ]
        parts.append(f"<tr><td>{''.join(left)}</td><td>{''.join(right)}</td></tr>")
    parts.append("</tbody></table>\n</body>\n</html>\n")
    return "\n".join(parts).encode()


def to_docx(report: Report) -> bytes:
    """The two columns as a Word table (one row per stop)."""
    from docx import Document

    document = Document()
    document.add_heading(xml_safe(report.title), level=0)
    table = document.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    table.rows[0].cells[0].text = _("Moment de la séance de conseil")
    table.rows[0].cells[1].text = _ac_heading(report)
    for cell in table.rows[0].cells:
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in report.rows:
        left, right = table.add_row().cells
        left.paragraphs[0].add_run(xml_safe(f"{row.recording} · {row.time}")).bold = True
        by = _stopped_by(row)
        if row.prepared:
            by += _answers(row.prepared)
        left.add_paragraph(xml_safe(by)).runs[0].italic = True
        for line in _transcript_lines(row.excerpt):
            left.add_paragraph(xml_safe(f"« {line} »"))
        if row.schemes:
            left.add_paragraph(xml_safe(_("Schèmes :") + " " + " ; ".join(row.schemes)))
        lines = _comment_lines(row.comments)
        right.paragraphs[0].add_run(xml_safe(lines[0] if lines else ""))
        for line in lines[1:]:
            right.add_paragraph(xml_safe(line))
        if row.ac_ms is not None and report.ac_recording_id is not None:
            right.add_paragraph(xml_safe(_("Enregistrement de l'AC :") + f" {row.ac_time}")).runs[
                0
            ].italic = True
        for line in _transcript_lines(row.ac_excerpt):
            right.add_paragraph(xml_safe(f"« {line} »"))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def json_of(report: Report) -> dict[str, Any]:
    def said(items: list[Said]) -> list[dict[str, Any]]:
        return [{"speaker": s.speaker, "text": s.text, "ms": s.ms} for s in items]

    def comments(items: list[Said]) -> list[dict[str, Any]]:
        return [
            {"speaker": s.speaker, "text": s.text, "ms": s.ms, "gender": s.gender} for s in items
        ]

    return {
        "interview_id": report.interview_id,
        "code": report.code,
        "ac_recording_id": report.ac_recording_id,
        "ac_recording": report.ac_recording,
        "aligned": report.aligned,
        "ac_draft": report.ac_draft,
        "rows": [
            {
                "stop_id": r.stop_id,
                "recording_id": r.recording_id,
                "recording": r.recording,
                "position_ms": r.position_ms,
                "time": r.time,
                "role": r.role,
                "gender": r.gender,
                "stopped_by": r.stopped_by,
                "stopped_at": r.stopped_at.isoformat(),
                "pause_ms": r.pause_ms,
                "prepared": r.prepared,
                "excerpt": said(r.excerpt),
                "schemes": r.schemes,
                "comments": comments(r.comments),
                "ac_ms": r.ac_ms,
                "ac_time": r.ac_time,
                "ac_excerpt": said(r.ac_excerpt),
            }
            for r in report.rows
        ],
    }


def interview_sessions(session: Session, interview_id: int) -> list[LiveSession]:
    return list(
        session.exec(
            select(LiveSession)
            .where(LiveSession.interview_id == interview_id)
            .order_by(col(LiveSession.created_at))
        ).all()
    )
