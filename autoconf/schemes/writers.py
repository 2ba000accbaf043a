"""One `Table`, every format researchers put in their reports or open in their tools: CSV,
XLSX (openpyxl), ODS (odfpy), DOCX (python-docx), HTML, Markdown, LaTeX. Text is written as
the reader writes it (`10’02`; `12,5 %` in French, `12.5%` in English); spreadsheets get
numbers. Every text cell is safe to open in a spreadsheet (a leading =, +, -, @ is quoted).

A CSV opens in columns in the reader's spreadsheet: UTF-8 with a byte order mark (without
it Excel reads the accents as Windows-1252), fields separated by `;` for a French reader
(their spreadsheets read `,` as the decimal mark, and split `12,5` in two) and `,` for an
English one, unless the reader chose a separator."""

import csv
import io
from collections.abc import Callable
from contextvars import copy_context
from dataclasses import dataclass
from html import escape
from typing import Literal

from autoconf.i18n import N_, gettext, set_language
from autoconf.schemes.tables import Cell, Table, neutralised, xml_safe
from autoconf.schemes.timecode import format_ms

Format = Literal["csv", "xlsx", "ods", "docx", "html", "md", "tex"]
FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "ods"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "html": ("text/html; charset=utf-8", "html"),
    "md": ("text/markdown; charset=utf-8", "md"),
    "tex": ("application/x-tex; charset=utf-8", "tex"),
}


# The separators a reader may choose for a CSV (`sep=` in the API).
SEPARATORS: dict[str, str] = {"semicolon": ";", "comma": ",", "tab": "\t"}
BOM = "\ufeff"


@dataclass(frozen=True)
class Reader:
    """Who the file is for: their language (`fr`: decimal comma, `;` between CSV fields;
    `en`: decimal point, `,`) and the CSV separator they chose, if any."""

    language: str = "fr"
    separator: str | None = None

    @property
    def french(self) -> bool:
        return self.language == "fr"

    @property
    def delimiter(self) -> str:
        return self.separator or (";" if self.french else ",")


FRENCH = Reader()


def number_text(value: int | float, reader: Reader = FRENCH) -> str:
    """A number as the reader writes it: `2`, `2,5` in French, `2.5` in English (no
    exponent, no thousands separator: a spreadsheet still reads it as a number)."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if value.is_integer():
        return str(int(value))
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if reader.french else text


def text_of(cell: Cell, kind: str, reader: Reader = FRENCH) -> str:
    """A cell as the report prints it, for `reader`."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralised(cell)
    if kind == "duration":
        return format_ms(round(float(cell) * 1000))
    if kind == "first":
        return format_ms(int(cell))
    if kind == "share":
        percent = f"{float(cell) * 100:.1f}"
        return percent.replace(".", ",") + "\u202f%" if reader.french else percent + "%"
    return number_text(cell, reader)


def _text_rows(table: Table, reader: Reader) -> list[list[str]]:
    header = [neutralised(h) for h in table.header]
    body = [
        [
            text_of(cell, "text" if index == 0 else table.kind, reader)
            for index, cell in enumerate(row)
        ]
        for row in table.rows
    ]
    return [header, *body]


def to_csv(table: Table, reader: Reader = FRENCH) -> bytes:
    """UTF-8 with a byte order mark, the reader's separator, `\\n` line ends, quotes only
    where a cell needs them."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=reader.delimiter, lineterminator="\n")
    writer.writerows(_text_rows(table, reader))
    return out.getvalue().encode()


def _md(text: str) -> str:
    """User text in a Markdown table: as text, never HTML (a label `<img onerror=…>` stays
    those characters in every Markdown viewer), on one line, its pipes not column breaks."""
    return escape(text, quote=False).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(table: Table, reader: Reader = FRENCH) -> bytes:
    rows = [[_md(cell) for cell in row] for row in _text_rows(table, reader)]
    lines = [f"# {_md(table.title)}", "", "| " + " | ".join(rows[0]) + " |"]
    lines.append("|" + "|".join(["---"] + [":-:"] * (len(rows[0]) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return ("\n".join(lines) + "\n").encode()


def to_html(table: Table, reader: Reader = FRENCH) -> bytes:
    rows = _text_rows(table, reader)
    head = "".join(f"<th>{escape(cell)}</th>" for cell in rows[0])
    body = []
    for r, row in enumerate(rows[1:]):
        depth = table.depths[r] if r < len(table.depths) else 0
        cells = []
        for c, cell in enumerate(row):
            link = table.links.get((r, c))
            text = f'<a href="{escape(link)}">{escape(cell)}</a>' if link else escape(cell)
            style = f' style="padding-left: {0.4 + depth * 1.2:.1f}em"' if c == 0 and depth else ""
            tag = "th" if c == 0 else "td"
            cells.append(f"<{tag}{style}>{text}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = escape(table.title)
    return (
        f'<!doctype html>\n<html lang="{escape(reader.language)}">\n<head><meta charset="utf-8">'
        f"<title>{title}</title>\n<style>table{{border-collapse:collapse;font-family:sans-serif}}"
        "th,td{border:1px solid #999;padding:.3em .5em}td{text-align:center}"
        "tbody th{text-align:left;font-weight:normal}</style></head>\n<body>\n"
        f"<h1>{title}</h1>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    ).encode()


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\u202f": "~",
}


def _tex(text: str) -> str:
    return "".join(_TEX.get(char, char) for char in text)


# The LaTeX file's first line (a comment), in the reader's language.
TEX_NOTE = N_("%(title)s (autoconf). Avec pdflatex, ajoutez \\usepackage[utf8]{inputenc}.")


def in_language(language: str, message: str) -> str:
    """`message` translated for `language`, whatever the language of the request."""

    def translate() -> str:
        set_language(language)
        return gettext(message)

    return copy_context().run(translate)


def to_latex(table: Table, reader: Reader = FRENCH) -> bytes:
    rows = [[_tex(cell) for cell in row] for row in _text_rows(table, reader)]
    spec = "p{7cm}" + "c" * (len(rows[0]) - 1)
    note = in_language(reader.language, TEX_NOTE) % {"title": table.title}
    lines = [
        "% " + " ".join(note.splitlines()),
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(rows[0]) + " \\\\",
        "\\hline",
        *(" & ".join(row) + " \\\\" for row in rows[1:]),
        "\\hline",
        "\\end{tabular}",
    ]
    return ("\n".join(lines) + "\n").encode()


def _number_format(kind: str) -> str | None:
    return {"share": "0.0%", "duration": "0.0", "count": "0"}.get(kind)


def _sheet_cells(table: Table, reader: Reader) -> list[list[Cell]]:
    """Header and rows for a spreadsheet: numbers stay numbers, times read `10’02`."""
    rows: list[list[Cell]] = [[neutralised(h) for h in table.header]]
    for row in table.rows:
        line: list[Cell] = []
        for index, cell in enumerate(row):
            kind = "text" if index == 0 else table.kind
            if isinstance(cell, str) or cell is None or kind == "first":
                line.append(text_of(cell, kind, reader))
            else:
                line.append(cell)
        rows.append(line)
    return rows


def to_xlsx(table: Table, reader: Reader = FRENCH) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_name(table.title))
    sheet.column_dimensions["A"].width = 60
    number_format = _number_format(table.kind)
    for r, row in enumerate(_sheet_cells(table, reader)):
        line = []
        for c, value in enumerate(row):
            cell = WriteOnlyCell(sheet, value=xml_safe(value) if isinstance(value, str) else value)
            if r == 0:
                cell.font = Font(bold=True)
            elif c == 0 and r - 1 < len(table.depths):
                cell.alignment = Alignment(indent=table.depths[r - 1], wrap_text=True)
            elif number_format and isinstance(value, int | float):
                cell.number_format = number_format
            line.append(cell)
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()
    return (cleaned or "Tableau")[:31]


def to_ods(table: Table, reader: Reader = FRENCH) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdsTable
    from odf.table import TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    sheet = OdsTable(name=_sheet_name(table.title))
    for row in _sheet_cells(table, reader):
        line = TableRow()
        for value in row:
            if isinstance(value, int | float) and not isinstance(value, bool):
                kind = "percentage" if table.kind == "share" else "float"
                cell = TableCell(valuetype=kind, value=value)
                cell.addElement(P(text=text_of(value, table.kind, reader)))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text="" if value is None else xml_safe(str(value))))
            line.addElement(cell)
        sheet.addElement(line)
    document.spreadsheet.addElement(sheet)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def to_docx(table: Table, reader: Reader = FRENCH) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    document = Document()
    rows = _text_rows(table, reader)
    if len(rows[0]) > 6:  # a wide table reads better across the page
        section = document.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    document.add_heading(xml_safe(table.title), level=1)
    grid = document.add_table(rows=len(rows), cols=len(rows[0]))
    grid.style = "Table Grid"
    # Row by row, cell by cell: `grid.cell(r, c)` rebuilds the cell list on every call
    # (minutes for a few hundred columns).
    for r, (line, texts) in enumerate(zip(grid.rows, rows, strict=True)):
        for cell, text in zip(line.cells, texts, strict=True):
            cell.text = xml_safe(text)
            run = cell.paragraphs[0].runs[0] if cell.paragraphs[0].runs else None
            if run is not None:
                run.font.size = Pt(9)
                run.bold = r == 0
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


WRITERS: dict[str, Callable[[Table, Reader], bytes]] = {
    "csv": to_csv,
    "xlsx": to_xlsx,
    "ods": to_ods,
    "docx": to_docx,
    "html": to_html,
    "md": to_markdown,
    "tex": to_latex,
}


def write(table: Table, fmt: str, reader: Reader = FRENCH) -> bytes:
    return WRITERS[fmt](table, reader)
