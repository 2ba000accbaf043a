"""The report of every segment grouped by code (NVivo's "édition des segments regroupés par
catégories"): per code, in codebook order (a parent gathers its descendants' segments),
each segment with its recording's code, its time, note, structured fields and verbatims,
linked to the player at that time. HTML and DOCX."""

import io
from collections.abc import Collection
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from autoconf.models import Annotation, AnnotationCode, Codebook, Recording
from autoconf.schemes.codebooks import codebook_tree
from autoconf.schemes.synthesis import Row, rows_of
from autoconf.schemes.tables import xml_safe
from autoconf.schemes.timecode import format_ms


@dataclass(frozen=True)
class Entry:
    annotation_id: int
    recording_id: int
    recording: str
    start_ms: int
    end_ms: int | None
    note: str
    fields: dict[str, str]
    verbatims: list[dict[str, Any]]

    @property
    def time(self) -> str:
        start = format_ms(self.start_ms)
        return start if self.end_ms is None else f"{start} – {format_ms(self.end_ms)}"


def segments_by_code(
    session: Session, codebook: Codebook, withheld: Collection[int] = ()
) -> list[tuple[Row, list[Entry]]]:
    """Each active code with its segments (and its descendants'), by recording and time;
    the quotes of the `withheld` recordings (no consent to export their content) left out."""
    rows = rows_of(codebook_tree(session, codebook.id or 0))
    codes = sorted({code for row in rows for code in row.members})
    if not codes:
        return [(row, []) for row in rows]
    found = session.execute(
        sa_select(
            col(AnnotationCode.code_id),
            col(Annotation.id),
            col(Annotation.recording_id),
            col(Recording.code),
            col(Annotation.start_ms),
            col(Annotation.end_ms),
            col(Annotation.note),
            col(Annotation.fields),
            col(Annotation.verbatims),
        )
        .join(Annotation, col(Annotation.id) == AnnotationCode.annotation_id)
        .join(Recording, col(Recording.id) == Annotation.recording_id)
        .where(
            col(AnnotationCode.code_id).in_(codes),
            col(Recording.study_id) == codebook.study_id,
            col(Annotation.shared).is_(True),
            col(Annotation.layer).not_in(("prepared", "consensus")),
        )
    ).all()
    by_code: dict[int, list[Entry]] = {}
    for code_id, annotation_id, recording_id, code, start, end, note, fields, verbatims in found:
        quotes = [] if recording_id in withheld else verbatims or []
        entry = Entry(annotation_id, recording_id, code, start, end, note, fields or {}, quotes)
        by_code.setdefault(code_id, []).append(entry)
    groups = []
    for row in rows:
        entries = {
            entry.annotation_id: entry for code in row.members for entry in by_code.get(code, [])
        }
        ordered = sorted(entries.values(), key=lambda e: (e.recording, e.start_ms, e.annotation_id))
        groups.append((row, ordered))
    return groups


def to_html(
    title: str,
    groups: list[tuple[Row, list[Entry]]],
    labels: dict[str, str],
    base_url: str,
    language: str = "fr",
) -> bytes:
    """A document to read and print; each time links to the player (`base_url` in front, so
    the links work from a downloaded file too). `title` and `labels` are in `language`."""
    parts = [
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
        "h2{border-bottom:1px solid #999;margin-top:1.6em}.seg{margin:.6em 0 .9em}"
        ".meta a{font-weight:bold}.fields{margin:.2em 0 0 1.2em;color:#333}"
        "blockquote{margin:.2em 0 0 1.2em;font-style:italic}</style></head>\n<body>",
        f"<h1>{escape(title)}</h1>",
    ]
    for row, entries in groups:
        level = min(2 + row.depth, 6)
        parts.append(f"<h{level}>{escape(row.path)} <small>({len(entries)})</small></h{level}>")
        for entry in entries:
            link = f"{base_url}/recordings/{entry.recording_id}#t={entry.start_ms}"
            parts.append('<div class="seg"><div class="meta">')
            parts.append(
                f'{escape(entry.recording)} · <a href="{escape(link)}">{escape(entry.time)}</a>'
            )
            parts.append("</div>")
            if entry.note:
                parts.append(f"<div>{escape(entry.note)}</div>")
            if entry.fields:
                items = "".join(
                    f"<li><em>{escape(labels.get(key, key))}</em> : {escape(value)}</li>"
                    for key, value in entry.fields.items()
                )
                parts.append(f'<ul class="fields">{items}</ul>')
            for verbatim in entry.verbatims:
                who = ", ".join(
                    bit
                    for bit in (
                        verbatim.get("speaker") or "",
                        format_ms(verbatim["ms"]) if verbatim.get("ms") is not None else "",
                    )
                    if bit
                )
                parts.append(
                    f"<blockquote>« {escape(verbatim.get('text', ''))} »"
                    + (f" — {escape(who)}" if who else "")
                    + "</blockquote>"
                )
            parts.append("</div>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts).encode()


def to_docx(
    title: str, groups: list[tuple[Row, list[Entry]]], labels: dict[str, str], base_url: str
) -> bytes:
    from docx import Document
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = Document()
    document.add_heading(xml_safe(title), level=0)

    def link(paragraph: Any, url: str, text: str) -> None:
        """A real hyperlink (python-docx has no API for it: the relationship and the run)."""
        rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        hyperlink = OxmlElement("w:hyperlink")
        hyperlink.set(qn("r:id"), rel)
        run = OxmlElement("w:r")
        props = OxmlElement("w:rPr")
        underline = OxmlElement("w:u")
        underline.set(qn("w:val"), "single")
        color = OxmlElement("w:color")
        color.set(qn("w:val"), "1F5F8B")
        props.append(color)
        props.append(underline)
        run.append(props)
        text_element = OxmlElement("w:t")
        text_element.text = xml_safe(text)
        run.append(text_element)
        hyperlink.append(run)
        paragraph._p.append(hyperlink)

    for row, entries in groups:
        document.add_heading(xml_safe(f"{row.path} ({len(entries)})"), level=min(1 + row.depth, 9))
        for entry in entries:
            meta = document.add_paragraph()
            meta.add_run(xml_safe(f"{entry.recording} · ")).bold = True
            link(meta, f"{base_url}/recordings/{entry.recording_id}#t={entry.start_ms}", entry.time)
            if entry.note:
                document.add_paragraph(xml_safe(entry.note))
            for key, value in entry.fields.items():
                paragraph = document.add_paragraph(style="List Bullet")
                paragraph.add_run(xml_safe(labels.get(key, key))).italic = True
                paragraph.add_run(xml_safe(f" : {value}"))
            for verbatim in entry.verbatims:
                who = verbatim.get("speaker") or ""
                quote = document.add_paragraph(style="Quote")
                text = f"« {verbatim.get('text', '')} »" + (f" — {who}" if who else "")
                quote.add_run(xml_safe(text))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
