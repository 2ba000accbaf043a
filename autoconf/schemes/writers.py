"""One `Table`, every format researchers put in their reports or open in their tools: CSV,
XLSX (openpyxl), ODS (odfpy), DOCX (python-docx), HTML, Markdown, LaTeX. Text is written as
the researchers write it (`10’02`, `12,5 %`); spreadsheets get numbers. Every text cell is
safe to open in a spreadsheet (a leading =, +, -, @ is quoted)."""

import csv
import io
from collections.abc import Callable
from html import escape
from typing import Literal

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


def text_of(cell: Cell, kind: str) -> str:
    """A cell as the report prints it."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        return neutralised(cell)
    if kind == "duration":
        return format_ms(round(float(cell) * 1000))
    if kind == "first":
        return format_ms(int(cell))
    if kind == "share":
        return f"{float(cell) * 100:.1f}".replace(".", ",") + "\u202f%"
    return str(cell)


def _text_rows(table: Table) -> list[list[str]]:
    header = [neutralised(h) for h in table.header]
    body = [
        [text_of(cell, "text" if index == 0 else table.kind) for index, cell in enumerate(row)]
        for row in table.rows
    ]
    return [header, *body]


def to_csv(table: Table) -> bytes:
    """UTF-8, `\\n` line ends, quotes only where a cell needs them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(_text_rows(table))
    return out.getvalue().encode()


def to_markdown(table: Table) -> bytes:
    rows = [
        [cell.replace("|", "\\|").replace("\n", " ") for cell in row] for row in _text_rows(table)
    ]
    lines = [f"# {table.title}", "", "| " + " | ".join(rows[0]) + " |"]
    lines.append("|" + "|".join(["---"] + [":-:"] * (len(rows[0]) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return ("\n".join(lines) + "\n").encode()


def to_html(table: Table) -> bytes:
    rows = _text_rows(table)
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
        '<!doctype html>\n<html lang="fr">\n<head><meta charset="utf-8">'
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


def to_latex(table: Table) -> bytes:
    rows = [[_tex(cell) for cell in row] for row in _text_rows(table)]
    spec = "p{7cm}" + "c" * (len(rows[0]) - 1)
    lines = [
        f"% {table.title} (autoconf). Needs \\usepackage[utf8]{{inputenc}} with pdflatex.",
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


def _sheet_cells(table: Table) -> list[list[Cell]]:
    """Header and rows for a spreadsheet: numbers stay numbers, times read `10’02`."""
    rows: list[list[Cell]] = [[neutralised(h) for h in table.header]]
    for row in table.rows:
        line: list[Cell] = []
        for index, cell in enumerate(row):
            kind = "text" if index == 0 else table.kind
            if isinstance(cell, str) or cell is None or kind == "first":
                line.append(text_of(cell, kind))
            else:
                line.append(cell)
        rows.append(line)
    return rows


def to_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_sheet_name(table.title))
    sheet.column_dimensions["A"].width = 60
    number_format = _number_format(table.kind)
    for r, row in enumerate(_sheet_cells(table)):
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


def to_ods(table: Table) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdsTable
    from odf.table import TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    sheet = OdsTable(name=_sheet_name(table.title))
    for row in _sheet_cells(table):
        line = TableRow()
        for value in row:
            if isinstance(value, int | float) and not isinstance(value, bool):
                kind = "percentage" if table.kind == "share" else "float"
                cell = TableCell(valuetype=kind, value=value)
                cell.addElement(P(text=text_of(value, table.kind)))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text="" if value is None else xml_safe(str(value))))
            line.addElement(cell)
        sheet.addElement(line)
    document.spreadsheet.addElement(sheet)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def to_docx(table: Table) -> bytes:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    document = Document()
    rows = _text_rows(table)
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


WRITERS: dict[str, Callable[[Table], bytes]] = {
    "csv": to_csv,
    "xlsx": to_xlsx,
    "ods": to_ods,
    "docx": to_docx,
    "html": to_html,
    "md": to_markdown,
    "tex": to_latex,
}


def write(table: Table, fmt: str) -> bytes:
    return WRITERS[fmt](table)
