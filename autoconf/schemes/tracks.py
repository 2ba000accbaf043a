"""A recording's annotations as WebVTT tracks for the player: the prepared moments as a
`chapters` track, the coding segments as a `metadata` track (a JSON object per cue).

Both are made from the annotations their reader may see (the caller chooses them). No
payload can end its cue early or open a tag: chapter titles are escaped as WebVTT text
(`&amp;`, `&lt;`, `&gt;`, so "-->" is written "--&gt;"), and JSON writes "<", ">" and "&"
as `\\u003c`, `\\u003e`, `\\u0026` (a metadata cue's text reaches scripts as written, so
character references would stay in it), line breaks as `\\n`.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import webvtt
from sqlmodel import Session, col, select

from autoconf.i18n import N_
from autoconf.models import User
from autoconf.schemes.annotations import AnnotationView
from autoconf.schemes.codebooks import code_paths
from autoconf.schemes.timecode import format_vtt

UNTITLED = N_("Moment préparé %(n)s")
LAST_CHAPTER_MS = 60_000  # the last chapter's length when the recording's is unknown
SEGMENT_LAYERS = ("schemes", "consensus")
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@dataclass(frozen=True)
class Chapter:
    start_ms: int
    end_ms: int
    title: str


@dataclass(frozen=True)
class Segment:
    id: int
    start_ms: int
    end_ms: int
    layer: str
    codes: list[str]
    author: str | None
    note: str


def chapters(
    views: Iterable[AnnotationView], duration_ms: int | None, untitled: str = UNTITLED
) -> list[Chapter]:
    """A chapter per time at which prepared moments are (their notes as its title, else
    `untitled` % {"n": its number}), until the next one; the last until the recording's
    end (or for a minute when its duration is unknown)."""
    notes: dict[int, list[str]] = {}
    for view in views:
        if view.layer == "prepared":
            note = " ".join(view.note.split())
            notes.setdefault(view.start_ms, []).extend([note] if note else [])
    starts = sorted(notes)
    found = []
    for number, start in enumerate(starts, start=1):
        if number < len(starts):
            end = starts[number]
        elif duration_ms is not None and duration_ms > start:
            end = duration_ms
        else:
            end = start + LAST_CHAPTER_MS
        title = " · ".join(notes[start]) or untitled % {"n": number}
        found.append(Chapter(start, end, title))
    return found


def segments(session: Session, study_id: int, views: Iterable[AnnotationView]) -> list[Segment]:
    """The coding segments among `views` (layers schemes and consensus; moments left out: a
    cue of no length is never current), with their codes' paths and author's username."""
    chosen = [v for v in views if v.layer in SEGMENT_LAYERS and (v.end_ms or 0) > v.start_ms]
    paths = code_paths(session, study_id)
    ids = {view.author_id for view in chosen if view.author_id is not None}
    names = dict(session.exec(select(User.id, User.username).where(col(User.id).in_(ids))).all())
    return [
        Segment(
            id=view.id,
            start_ms=view.start_ms,
            end_ms=view.end_ms or view.start_ms,
            layer=view.layer,
            codes=[paths[code] for code in view.code_ids if code in paths],
            author=names.get(view.author_id) if view.author_id is not None else None,
            note=view.note,
        )
        for view in sorted(chosen, key=lambda view: (view.start_ms, view.id))
    ]


def chapters_vtt(found: Sequence[Chapter]) -> str:
    """A `chapters` track: each title as WebVTT text on one line."""
    return _vtt(
        (chapter.start_ms, chapter.end_ms, escape(chapter.title, quote=False)) for chapter in found
    )


def segments_vtt(found: Sequence[Segment]) -> str:
    """A `metadata` track: each cue a JSON object on one line (id, layer, codes, author,
    note)."""
    return _vtt((segment.start_ms, segment.end_ms, _payload(segment)) for segment in found)


def _payload(segment: Segment) -> str:
    data = {
        "id": segment.id,
        "layer": segment.layer,
        "codes": segment.codes,
        "author": segment.author,
        "note": segment.note,
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_JSON_ESCAPES)


def _vtt(cues: Iterable[tuple[int, int, str]]) -> str:
    captions = [
        webvtt.Caption(format_vtt(start), format_vtt(end), text) for start, end, text in cues
    ]
    return webvtt.WebVTT(captions=captions).content
