"""Transcripts: WebVTT or SRT in (read by `subtitles`, with their speakers), WebVTT out.

A recording's transcript is its annotations of origin `transcript`, one per cue, the speaker
in `speaker` and the words in `note`; importing replaces the previous transcript as a whole.
"""

from html import escape
from pathlib import PurePath
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, delete, select

from autoconf.errors import Invalid
from autoconf.models import Annotation, Recording, utcnow
from autoconf.schemes.subtitles import Cue, read_cues
from autoconf.schemes.timecode import format_ms, format_vtt

FORMATS = {".vtt": "vtt", ".webvtt": "vtt", ".srt": "srt"}
MAX_CUES = 20_000  # a 90-minute session has about 1,500


def parse_transcript(content: bytes, filename: str) -> list[Cue]:
    """The cues of a WebVTT or SRT file, in time order; Invalid (French) when it is not one."""
    kind = FORMATS.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise Invalid(f"« {filename} » n'est pas une transcription WebVTT (.vtt) ou SRT (.srt).")
    cues = read_cues(content, kind, filename)
    cues = [cue for cue in cues if cue.text]
    if not cues:
        raise Invalid(f"« {filename} » ne contient aucune réplique.")
    if len(cues) > MAX_CUES:
        raise Invalid(f"« {filename} » contient plus de {MAX_CUES} répliques.")
    for cue in cues:
        if cue.end_ms < cue.start_ms:
            raise Invalid(f"La réplique de {format_ms(cue.start_ms)} finit avant de commencer.")
    return sorted(cues, key=lambda cue: (cue.start_ms, cue.end_ms))


def replace_transcript(
    session: Session, recording: Recording, cues: list[Cue], author_id: int | None
) -> int:
    """Store `cues` as the recording's transcript, instead of the previous one; how many.
    The caller commits."""
    limit = recording.duration_ms
    if limit is not None:
        beyond = next((cue for cue in cues if cue.end_ms > limit + 1000), None)
        if beyond is not None:
            raise Invalid(
                f"La réplique de {format_ms(beyond.start_ms)} dépasse la durée de "
                f"l'enregistrement ({format_ms(limit)}) : est-ce la bonne transcription ?"
            )
    session.exec(
        delete(Annotation).where(
            col(Annotation.recording_id) == recording.id, col(Annotation.origin) == "transcript"
        )
    )
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "recording_id": recording.id,
            "start_ms": cue.start_ms,
            "end_ms": min(cue.end_ms, limit) if limit is not None else cue.end_ms,
            "note": cue.text,
            "speaker": cue.speaker,
            "fields": {},
            "origin": "transcript",
            "layer": "transcript",
            "shared": True,
            "verbatims": [],
            "author_id": author_id,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for cue in cues
    ]
    for row in rows:
        if row["end_ms"] == row["start_ms"]:
            row["end_ms"] = None
    session.execute(insert(Annotation), rows)
    return len(rows)


def transcript_vtt(session: Session, recording_id: int) -> str:
    """The recording's transcript as WebVTT, voices included."""
    rows = session.exec(
        select(Annotation.start_ms, Annotation.end_ms, Annotation.speaker, Annotation.note)
        .where(
            col(Annotation.recording_id) == recording_id,
            col(Annotation.origin) == "transcript",
            col(Annotation.shared).is_(True),
        )
        .order_by(col(Annotation.start_ms), col(Annotation.id))
    ).all()
    lines = ["WEBVTT", ""]
    for start, end, speaker, note in rows:
        voice = f"<v {escape(speaker, quote=False)}>" if speaker else ""
        text = escape(note, quote=False)
        lines += [f"{format_vtt(start)} --> {format_vtt(end or start)}", f"{voice}{text}", ""]
    return "\n".join(lines)
