"""The chronogram: the action schemes of recordings over time, one band row per top-level
scheme (children drawn in their parent's row, as in the synthesis) under a thin row of the
phases, the recordings stacked on one shared time axis.

Plain data (`Chronogram`) → one `Layout` (boxes, rules, labels, measured with the fonts the
PNG uses) → SVG written by hand (escaped) or PNG drawn by Pillow: both show the same picture.
"""

import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont
from sqlmodel import Session, col, select

from autoconf.errors import Invalid
from autoconf.models import Codebook
from autoconf.schemes.codebooks import CodeNode, codebook_tree
from autoconf.schemes.synthesis import (
    Column,
    SegmentRow,
    coded_segments,
    rows_of,
    scheme_codebook,
    study_columns,
)
from autoconf.schemes.tables import xml_safe
from autoconf.schemes.timecode import format_ms

MAX_RECORDINGS = 40  # ~12,000 px of rows already; more is no longer read at a glance
WIDTH = 1200
FONT_FAMILY = "DejaVu Sans, Verdana, sans-serif"
_FONTS = Path("/usr/share/fonts/truetype/dejavu")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Characters XML 1.0 cannot hold, even escaped: a label typed with one must not break the file.
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 14400)
MARGIN, LANE_H, LANE_GAP, PHASE_H, LABEL_MAX = 16, 16, 4, 13, 330
INK, GREY, FAINT, GROUND = "#1F2933", "#5F6B7A", "#C9CED6", "#EEF1F4"


@dataclass(frozen=True)
class Band:
    start_ms: int
    end_ms: int | None  # None: a moment


@dataclass(frozen=True)
class Lane:
    label: str
    color: str
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Phase:
    label: str
    color: str
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class Strip:
    """One recording: its code, length, phases and one lane per scheme row."""

    code: str
    duration_ms: int
    phases: tuple[Phase, ...]
    lanes: tuple[Lane, ...]


@dataclass(frozen=True)
class Chronogram:
    title: str
    phase_label: str
    strips: tuple[Strip, ...]
    legend: tuple[tuple[str, str], ...]  # (label, colour) of the scheme rows
    phase_legend: tuple[tuple[str, str], ...]


def chronogram(
    schemes: Sequence[CodeNode],
    phases: Sequence[CodeNode],
    columns: Sequence[Column],
    segments: Iterable[SegmentRow],
    phase_segments: Iterable[SegmentRow],
    *,
    title: str,
    phase_label: str,
) -> Chronogram:
    """The strips of `columns`, in their order. Rows: the active top-level schemes, each with
    the segments of its active descendants (a segment once per row); rows used by none of the
    recordings are left out, unless none is used at all. Phases: every active phase code."""
    color = {node.id: _color(node.color) for node in [*schemes, *phases]}
    rows = [row for row in rows_of(schemes) if row.depth == 0]
    row_of_code: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        for code_id in row.members:
            row_of_code.setdefault(code_id, []).append(index)
    found: dict[tuple[int, int], dict[int, Band]] = {}
    ends: dict[int, int] = {}
    for recording_id, start, end, code_id, annotation_id in segments:
        for index in row_of_code.get(code_id, []):
            found.setdefault((recording_id, index), {})[annotation_id] = Band(start, end)
            ends[recording_id] = max(ends.get(recording_id, 0), end or start)
    phase_of = {node.id: node for node in phases if not node.archived}
    drawn: dict[int, list[Phase]] = {}
    used_phases: set[int] = set()
    for recording_id, start, end, code_id, _ in phase_segments:
        node = phase_of.get(code_id)
        if node is None:
            continue
        drawn.setdefault(recording_id, []).append(Phase(node.label, color[node.id], start, end))
        used_phases.add(node.id)
        ends[recording_id] = max(ends.get(recording_id, 0), end or start)
    used = [i for i in range(len(rows)) if any((c.recording_id, i) in found for c in columns)]
    shown = used or list(range(len(rows)))
    strips = tuple(
        Strip(
            code=column.code,
            duration_ms=max(column.duration_ms or 0, ends.get(column.recording_id, 0)),
            phases=tuple(sorted(drawn.get(column.recording_id, []), key=lambda p: p.start_ms)),
            lanes=tuple(
                Lane(
                    rows[i].label,
                    color[rows[i].code_id],
                    tuple(
                        sorted(
                            found.get((column.recording_id, i), {}).values(),
                            key=lambda b: b.start_ms,
                        )
                    ),
                )
                for i in shown
            ),
        )
        for column in columns
    )
    return Chronogram(
        title=title,
        phase_label=phase_label,
        strips=strips,
        legend=tuple((rows[i].label, color[rows[i].code_id]) for i in shown),
        phase_legend=tuple(
            (node.label, color[node.id]) for node in phases if node.id in used_phases
        ),
    )


def study_chronogram(
    session: Session,
    study_id: int,
    recording_ids: Sequence[int] | None,
    *,
    title: str,
    phase_label: str,
) -> Chronogram:
    """The chronogram of the study's recordings (those asked for, else all by code)."""
    columns = study_columns(session, study_id, recording_ids)
    if len(columns) > MAX_RECORDINGS:
        raise Invalid(
            f"Un chronogramme montre au plus {MAX_RECORDINGS} enregistrements à la fois : "
            "choisissez les colonnes de la synthèse."
        )
    schemes = codebook_tree(session, scheme_codebook(session, study_id).id or 0)
    book = session.exec(
        select(Codebook)
        .where(Codebook.study_id == study_id, Codebook.kind == "phases")
        .order_by(col(Codebook.position))
    ).first()
    phases = codebook_tree(session, book.id or 0) if book else []
    ids = [column.recording_id for column in columns]
    codes = sorted({code for row in rows_of(schemes) for code in row.members})
    phase_codes = [node.id for node in phases if not node.archived]
    return chronogram(
        schemes,
        phases,
        columns,
        coded_segments(session, codes, ids, None) if codes and ids else [],
        coded_segments(session, phase_codes, ids, None) if phase_codes and ids else [],
        title=title,
        phase_label=phase_label,
    )


# --- Layout -------------------------------------------------------------------------------

Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    fill: str
    kind: str  # its SVG class: band, moment, phase, lane, swatch
    stroke: str | None = None
    tip: str | None = None


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    text: str
    size: int
    color: str = INK
    anchor: Anchor = "start"
    bold: bool = False


Shape = Box | Rule | Label


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    title: str
    plot_left: float
    plot_width: float
    span_ms: int  # the time at the right end of the axis
    shapes: tuple[Shape, ...]

    def x(self, ms: int) -> float:
        return self.plot_left + self.plot_width * ms / self.span_ms


def layout(chart: Chronogram, width: int = WIDTH) -> Layout:
    """Where everything goes: title, axes above and below, per recording its code, phase
    rows and scheme rows, then the legend. Backgrounds first, then the grid, then the bands."""
    back: list[Shape] = []
    grid: list[Shape] = []
    front: list[Shape] = []
    names = [lane.label for lane in chart.strips[0].lanes] if chart.strips else []
    label_w = min(LABEL_MAX, max(_width(text, 12) for text in [*names, chart.phase_label]))
    left = MARGIN + 8 + label_w + 12
    plot_w = width - left - MARGIN - _width(format_ms(36_000_000), 10) / 2  # room for 10h00’00
    longest = max((strip.duration_ms for strip in chart.strips), default=0) or 60_000
    step = _step(longest, plot_w)
    span = math.ceil(longest / step) * step
    frame = Layout(width, 0, chart.title, left, plot_w, span, ())
    front.append(Label(MARGIN, MARGIN + 16, chart.title, 16, bold=True))
    y: float = MARGIN + 30
    ticks = range(0, span + 1, step)
    y = _axis(front, frame, ticks, y, above=True)
    top = y
    for strip in chart.strips:
        y += 12
        front.append(Label(MARGIN, y + 12, strip.code, 13, bold=True))
        if strip.duration_ms:
            after = MARGIN + _width(strip.code, 13, bold=True) + 5  # SVG drops a leading space
            front.append(Label(after, y + 12, f"· {format_ms(strip.duration_ms)}", 12, GREY))
        y += 20
        end = frame.x(strip.duration_ms)
        rows = _pack(strip.phases)
        if rows:
            middle = y + len(rows) * (PHASE_H + 2) / 2 + 4
            front.append(Label(MARGIN + 8, middle, _fit(chart.phase_label, 11, label_w), 11, GREY))
        for phases in rows:
            if end > left:  # a recording of unknown length with nothing coded has none
                back.append(Box(left, y, end - left, PHASE_H, GROUND, "lane"))
            for phase in phases:
                _phase(front, frame, strip.code, phase, y)
            y += PHASE_H + 2
        y += 3 if rows else 0
        first = y
        for lane in strip.lanes:
            front.append(Label(MARGIN + 8, y + 12, _fit(lane.label, 12, label_w), 12))
            if end > left:
                back.append(Box(left, y, end - left, LANE_H, GROUND, "lane"))
            for band in lane.bands:
                front.append(_band(frame, strip.code, lane, band, y))
            y += LANE_H + LANE_GAP
        for ms in sorted({t for p in strip.phases for t in (p.start_ms, p.end_ms or p.start_ms)}):
            if 0 < ms < strip.duration_ms and strip.lanes:
                grid.append(Rule(frame.x(ms), first - 3, frame.x(ms), y - LANE_GAP, GREY, 1, True))
    y += 4
    grid.extend(Rule(frame.x(ms), top, frame.x(ms), y, FAINT, 0.6) for ms in ticks)
    y = _axis(front, frame, ticks, y, above=False)
    y = _legend(front, chart, width, y + 18)
    return Layout(
        width, math.ceil(y + MARGIN), chart.title, left, plot_w, span, (*back, *grid, *front)
    )


def _axis(out: list[Shape], frame: Layout, ticks: range, y: float, *, above: bool) -> float:
    right = frame.plot_left + frame.plot_width
    if above:
        for ms in ticks:
            out.append(Label(frame.x(ms), y + 10, format_ms(ms), 10, GREY, "middle"))
            out.append(Rule(frame.x(ms), y + 14, frame.x(ms), y + 18, GREY))
        out.append(Rule(frame.plot_left, y + 18, right, y + 18, GREY))
        return y + 18
    out.append(Rule(frame.plot_left, y, right, y, GREY))
    for ms in ticks:
        out.append(Rule(frame.x(ms), y, frame.x(ms), y + 4, GREY))
        out.append(Label(frame.x(ms), y + 16, format_ms(ms), 10, GREY, "middle"))
    return y + 18


def _band(frame: Layout, code: str, lane: Lane, band: Band, y: float) -> Box:
    x = frame.x(band.start_ms)
    if band.end_ms is None or band.end_ms <= band.start_ms:
        tip = f"{code} · {lane.label} · {format_ms(band.start_ms)}"
        return Box(x - 1, y - 1, 2, LANE_H + 2, _darker(lane.color), "moment", tip=tip)
    tip = f"{code} · {lane.label} · {format_ms(band.start_ms)} – {format_ms(band.end_ms)}"
    width = max(frame.x(band.end_ms) - x, 1.5)
    return Box(x, y, width, LANE_H, lane.color, "band", _darker(lane.color), tip)


def _phase(out: list[Shape], frame: Layout, code: str, phase: Phase, y: float) -> None:
    x = frame.x(phase.start_ms)
    end = phase.end_ms if phase.end_ms is not None else phase.start_ms
    width = max(frame.x(end) - x, 2)
    span = f"{format_ms(phase.start_ms)} – {format_ms(end)}" if end > phase.start_ms else ""
    tip = f"{code} · {phase.label} · {span or format_ms(phase.start_ms)}"
    out.append(Box(x, y, width, PHASE_H, phase.color, "phase", tip=tip))
    text = _fit(phase.label, 10, width - 6)
    if len(text) > 3 or text == phase.label:
        out.append(Label(x + width / 2, y + 10, text, 10, _ink_on(phase.color), "middle"))


def _legend(out: list[Shape], chart: Chronogram, width: int, y: float) -> float:
    columns = 2 if width >= 700 else 1
    column_w = (width - 2 * MARGIN) / columns
    for start in range(0, len(chart.legend), columns):
        height = 0
        for offset, (text, color) in enumerate(chart.legend[start : start + columns]):
            x = MARGIN + offset * column_w
            out.append(Box(x, y + 1, 12, 12, color, "swatch", _darker(color)))
            lines = _wrap(text, 11, column_w - 30)
            for number, line in enumerate(lines):
                out.append(Label(x + 18, y + 11 + 14 * number, line, 11))
            height = max(height, 14 * len(lines))
        y += height + 5
    if chart.phase_legend:
        y += 4
        out.append(Label(MARGIN, y + 11, chart.phase_label, 11, GREY, bold=True))
        x = MARGIN + _width(chart.phase_label, 11, bold=True) + 14
        for text, color in chart.phase_legend:
            needed = 18 + _width(text, 11) + 16
            if x + needed > width - MARGIN and x > MARGIN + 60:
                x, y = MARGIN, y + 17
            out.append(Box(x, y + 1, 12, 12, color, "swatch"))
            out.append(Label(x + 18, y + 11, _fit(text, 11, width - 2 * MARGIN - 18), 11))
            x += needed
        y += 17
    return y


def _pack(phases: Sequence[Phase]) -> list[list[Phase]]:
    """Phases in as few rows as possible, none overlapping another in its row."""
    rows: list[list[Phase]] = []
    for phase in sorted(phases, key=lambda p: (p.start_ms, -(p.end_ms or p.start_ms))):
        for row in rows:
            last = row[-1]
            if (last.end_ms or last.start_ms) <= phase.start_ms and last.start_ms < phase.start_ms:
                row.append(phase)
                break
        else:
            rows.append([phase])
    return rows


def _step(span_ms: int, plot_w: float) -> int:
    """The tick interval: the smallest round one whose labels do not crowd each other."""
    most = max(2, int(plot_w // (_width(format_ms(span_ms), 10) + 28)))
    return next((s * 1000 for s in _STEPS_S if span_ms / (s * 1000) <= most), _STEPS_S[-1] * 1000)


# --- Text and colour ----------------------------------------------------------------------

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(size: int, bold: bool = False) -> Font:
    path = _FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def _width(text: str, size: int, bold: bool = False) -> float:
    return float(_font(size, bold).getlength(text))


def _fit(text: str, size: int, room: float) -> str:
    """`text`, cut with an ellipsis to fit `room` pixels."""
    if _width(text, size) <= room:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(text[:middle].rstrip() + "…", size) <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…" if low else ""


def _wrap(text: str, size: int, room: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _width(candidate, size) <= room:
            lines[-1] = candidate
        else:
            lines.append(_fit(word, size, room))
    return lines or [""]


def _color(value: str) -> str:
    return value if _COLOR.match(value) else "#888888"


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _darker(color: str) -> str:
    return "#" + "".join(f"{int(c * 0.62):02X}" for c in _rgb(color))


def _ink_on(color: str) -> str:
    red, green, blue = _rgb(color)
    return INK if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#FFFFFF"


# --- Writers ------------------------------------------------------------------------------


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(value: str) -> str:
    return escape(xml_safe(value))


def _attr(value: str) -> str:
    return quoteattr(xml_safe(value))


def to_svg(frame: Layout) -> str:
    """The layout as a standalone SVG document (no script, no external reference)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" '
        f'height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" '
        f'font-family={_attr(FONT_FAMILY)} role="img" class="chronogram">',
        f"<title>{_text(frame.title)}</title>",
        f'<rect width="{frame.width}" height="{frame.height}" fill="#FFFFFF"/>',
    ]
    for shape in frame.shapes:
        if isinstance(shape, Box):
            stroke = f' stroke="{shape.stroke}" stroke-width="0.75"' if shape.stroke else ""
            close = f"><title>{_text(shape.tip)}</title></rect>" if shape.tip else "/>"
            out.append(
                f'<rect class="{shape.kind}" x="{_n(shape.x)}" y="{_n(shape.y)}" '
                f'width="{_n(shape.width)}" height="{_n(shape.height)}" '
                f'fill="{shape.fill}"{stroke}{close}'
            )
        elif isinstance(shape, Rule):
            dash = ' stroke-dasharray="3 3"' if shape.dashed else ""
            out.append(
                f'<line x1="{_n(shape.x1)}" y1="{_n(shape.y1)}" x2="{_n(shape.x2)}" '
                f'y2="{_n(shape.y2)}" stroke="{shape.color}" '
                f'stroke-width="{_n(shape.width)}"{dash}/>'
            )
        else:
            weight = ' font-weight="bold"' if shape.bold else ""
            out.append(
                f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-size="{shape.size}" '
                f'fill="{shape.color}" text-anchor="{shape.anchor}"{weight}>'
                f"{_text(shape.text)}</text>"
            )
    out.append("</svg>\n")
    return "\n".join(out)


_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


def to_png(frame: Layout, scale: int = 2) -> bytes:
    """The same layout drawn by Pillow, `scale` pixels per SVG unit (2: sharp in a report)."""
    image = Image.new("RGB", (frame.width * scale, frame.height * scale), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    for shape in frame.shapes:
        if isinstance(shape, Box):
            x, y = shape.x * scale, shape.y * scale
            box = (
                x,
                y,
                max(x, (shape.x + shape.width) * scale - 1),
                max(y, (shape.y + shape.height) * scale - 1),
            )
            draw.rectangle(box, fill=shape.fill, outline=shape.stroke, width=1)
        elif isinstance(shape, Rule):
            _line(draw, shape, scale)
        else:
            font = _font(shape.size * scale, shape.bold)
            anchor = _ANCHORS[shape.anchor] if isinstance(font, ImageFont.FreeTypeFont) else None
            position = (shape.x * scale, shape.y * scale)
            draw.text(position, shape.text, fill=shape.color, font=font, anchor=anchor)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _line(draw: ImageDraw.ImageDraw, rule: Rule, scale: int) -> None:
    width = max(1, round(rule.width * scale))
    start = (rule.x1 * scale, rule.y1 * scale)
    end = (rule.x2 * scale, rule.y2 * scale)
    if not rule.dashed:
        draw.line([start, end], fill=rule.color, width=width)
        return
    length = math.dist(start, end)
    dash = 3 * scale
    for at in range(0, int(length), 2 * dash):
        a, b = at / length, min(at + dash, length) / length
        draw.line(
            [
                (start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b),
            ],
            fill=rule.color,
            width=width,
        )
