"""The chronogram drawn from hand-written segments: bands where their times are, one row per
top-level scheme, the phases above, labels escaped, the same layout in SVG and PNG."""

import io
import itertools
import xml.etree.ElementTree as ET

from PIL import Image

from autoconf.schemes.chronogram import Layout, chronogram, layout, to_png, to_svg
from autoconf.schemes.codebooks import CodeNode
from autoconf.schemes.synthesis import Column

SVG = "{http://www.w3.org/2000/svg}"


def node(
    id: int,
    label: str,
    parent: int | None = None,
    depth: int = 0,
    archived: bool = False,
    color: str = "#E69F00",
) -> CodeNode:
    return CodeNode(id, 1, label, label, parent, 0, "", color, None, archived, depth)


SCHEMES = [
    node(1, "Écouter / reformuler", color="#56B4E9"),
    node(2, "Reformuler", parent=1, depth=1, color="#000000"),
    node(3, "Informer / expliquer", color="#D55E00"),
    node(4, "Montrer / faire avec", archived=True),
    node(5, "Inciter à / proposer", color="#332288"),  # never used: no row
]
PHASES = [node(20, "Diagnostic", color="#4E79A7"), node(21, "1ère partie", color="#A0CBE8")]
A4, A10 = Column(10, "A4", 600_000), Column(11, "A10", 300_000)
SEGMENTS = [
    (10, 60_000, 120_000, 1, 100),
    (10, 300_000, 360_000, 2, 101),  # the child, in its parent's row
    (10, 300_000, 360_000, 1, 101),  # the same segment also carries the parent: drawn once
    (10, 90_000, None, 3, 102),  # a moment
    (11, 120_000, 180_000, 3, 103),
    (10, 400_000, 500_000, 4, 104),  # archived: not drawn
]
PHASE_SEGMENTS = [
    (10, 0, 600_000, 20, 200),
    (10, 0, 240_000, 21, 201),  # inside the diagnostic: a second phase row
    (11, 0, 300_000, 20, 202),
]


def draw(columns: list[Column] | None = None, schemes: list[CodeNode] = SCHEMES) -> Layout:
    chart = chronogram(
        schemes,
        PHASES,
        columns or [A4, A10],
        SEGMENTS,
        PHASE_SEGMENTS,
        title="Schèmes d'action",
        phase_label="Phases",
    )
    return layout(chart)


def parse(frame: Layout) -> ET.Element:
    return ET.fromstring(to_svg(frame).encode())


def rects(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    """The rectangles of a class, by their tooltip."""
    return {
        rect.findtext(f"{SVG}title", ""): rect
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") == kind
    }


def texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{SVG}text")]


def test_bands_are_where_their_times_are_on_one_axis() -> None:
    frame = draw()
    assert frame.span_ms >= 600_000
    bands = rects(parse(frame), "band")
    first = bands["A4 · Écouter / reformuler · 1’00 – 2’00"]
    assert float(first.get("x", "")) == round(frame.x(60_000), 2)
    assert float(first.get("width", "")) == round(frame.x(120_000) - frame.x(60_000), 2)
    later = bands["A4 · Écouter / reformuler · 5’00 – 6’00"]
    assert float(later.get("x", "")) == round(frame.plot_left + frame.plot_width * 0.5, 2)
    # The second recording is on the same axis: the same time, the same x.
    other = bands["A10 · Informer / expliquer · 2’00 – 3’00"]
    assert float(other.get("x", "")) == round(frame.x(120_000), 2)
    assert float(other.get("y", "")) > float(first.get("y", ""))
    moment = rects(parse(frame), "moment")["A4 · Informer / expliquer · 1’30"]
    assert float(moment.get("width", "")) == 2
    assert abs(float(moment.get("x", "")) + 1 - frame.x(90_000)) < 0.01


def test_one_row_per_top_level_scheme_children_in_their_parent() -> None:
    chart = chronogram(
        SCHEMES, PHASES, [A4, A10], SEGMENTS, PHASE_SEGMENTS, title="t", phase_label="Phases"
    )
    a4 = chart.strips[0]
    assert [lane.label for lane in a4.lanes] == ["Écouter / reformuler", "Informer / expliquer"]
    assert [(b.start_ms, b.end_ms) for b in a4.lanes[0].bands] == [
        (60_000, 120_000),
        (300_000, 360_000),
    ]
    assert chart.strips[1].lanes[0].bands == ()  # A10 keeps the row, empty
    assert [label for label, _ in chart.legend] == [lane.label for lane in a4.lanes]
    words = texts(parse(layout(chart)))
    assert "Reformuler" not in words and "Montrer / faire avec" not in words
    assert "Inciter à / proposer" not in words  # used by neither recording
    assert words.count("Écouter / reformuler") == 3  # a row in each recording, the legend
    # With nothing coded at all, every active top-level scheme keeps its row.
    empty = chronogram(SCHEMES, [], [A4], [], [], title="t", phase_label="Phases")
    assert [lane.label for lane in empty.strips[0].lanes] == [
        "Écouter / reformuler",
        "Informer / expliquer",
        "Inciter à / proposer",
    ]


def test_the_phases_are_a_labelled_row_above_the_schemes() -> None:
    frame = draw()
    root = parse(frame)
    phases = rects(root, "phase")
    diagnostic = phases["A4 · Diagnostic · 0’00 – 10’00"]
    first_part = phases["A4 · 1ère partie · 0’00 – 4’00"]
    # Overlapping phases go on two thin rows, both above the first scheme row.
    assert float(first_part.get("y", "")) > float(diagnostic.get("y", ""))
    band = rects(root, "band")["A4 · Écouter / reformuler · 1’00 – 2’00"]
    assert float(band.get("y", "")) > float(first_part.get("y", ""))
    assert float(first_part.get("width", "")) == round(frame.x(240_000) - frame.x(0), 2)
    words = texts(root)
    assert {"Diagnostic", "1ère partie", "Phases", "A4", "A10"} <= set(words)
    assert "· 10’00" in words  # the recording's length beside its code


def test_labels_are_escaped_and_the_svg_is_well_formed() -> None:
    tricky = 'Questionner <vraiment> & "bien" l\'autre\x01'
    frame = draw(schemes=[node(1, tricky), node(3, "Informer / expliquer")])
    svg = to_svg(frame)
    assert "<vraiment>" not in svg and "\x01" not in svg
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    assert 'Questionner <vraiment> & "bien" l\'autre' in texts(root)
    assert 'A4 · Questionner <vraiment> & "bien" l\'autre · 1’00 – 2’00' in rects(root, "band")
    assert "script" not in svg


def test_axis_labels_and_row_labels_do_not_overlap() -> None:
    long = "Questionner / faire expliquer pour identifier la cohérence du projet " * 2
    frame = draw(columns=[Column(10, "A4", 5_400_000)], schemes=[node(1, long)])
    root = parse(frame)
    ticks = [t for t in root.iter(f"{SVG}text") if (t.text or "").endswith("’00")]
    positions = sorted({float(t.get("x", "")) for t in ticks})
    assert len(positions) >= 5 and positions[-1] <= frame.width
    assert min(b - a for a, b in itertools.pairwise(positions)) > 50
    assert "1h30’00" in texts(root)
    row = next(t for t in texts(root) if t.startswith("Questionner") and t.endswith("…"))
    assert len(row) < len(long)  # cut to its column; the legend wraps it whole
    assert frame.plot_left > 0 and frame.plot_left + frame.plot_width < frame.width


def test_the_png_draws_the_same_layout() -> None:
    frame = draw()
    image = Image.open(io.BytesIO(to_png(frame)))
    assert image.format == "PNG"
    assert image.size == (frame.width * 2, frame.height * 2)
    rgb = image.convert("RGB")
    x = round((frame.x(60_000) + frame.x(120_000)) / 2 * 2)
    band = rects(parse(frame), "band")["A4 · Écouter / reformuler · 1’00 – 2’00"]
    y = round((float(band.get("y", "")) + 8) * 2)
    assert rgb.getpixel((x, y)) == (0x56, 0xB4, 0xE9)  # the scheme's colour, where the SVG has it
    assert rgb.getpixel((2, 2)) == (255, 255, 255)


def test_a_recording_of_unknown_length_with_nothing_coded() -> None:
    chart = chronogram(
        SCHEMES, PHASES, [Column(12, "B1", None)], [], [], title="t", phase_label="P"
    )
    frame = layout(chart)
    assert chart.strips[0].duration_ms == 0
    assert rects(parse(frame), "lane") == {}  # no length to show
    assert {"B1", "Écouter / reformuler"} <= set(texts(parse(frame)))
    assert Image.open(io.BytesIO(to_png(frame))).size == (frame.width * 2, frame.height * 2)
    nothing = layout(chronogram(SCHEMES, PHASES, [], [], [], title="t", phase_label="P"))
    assert Image.open(io.BytesIO(to_png(nothing))).size[0] == 2400
