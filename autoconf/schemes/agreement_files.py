"""The agreement report (`agreement_report.Report`) as files: CSV, XLSX, HTML.

- **CSV**: one file, its sections one after another (a line with the section's title, its
  header, its rows, an empty line), the report's title first. It is what a researcher opens
  in a spreadsheet to read or paste the figures; the XLSX keeps each table on a sheet of its
  own for a program to read. UTF-8 with a byte order mark, the reader's separator and
  decimal mark, every decimal kept (as `writers.to_csv`).
- **XLSX**: one sheet per section, the header in bold; coefficients, percentages, seconds
  and counts are numbers (shown with 3, 1 and 1 decimals), times text (`10’02`).
- **HTML**: a standalone document to read and print: the figures in sentences, then every
  table; each disagreement's start links to the recording there (`base_url` in front, so
  the links work from a saved file).

Text cells are made safe for spreadsheets (a leading =, +, -, @ quoted) in CSV and XLSX.
"""

import csv
import io
from html import escape

from autoconf.schemes.agreement_report import (
    Cell,
    Coefficient,
    Percent,
    Report,
    Seconds,
    Section,
    display,
    html_text,
    precise,
    shown,
)
from autoconf.schemes.tables import neutralised, xml_safe
from autoconf.schemes.writers import BOM, Reader


def to_csv(report: Report, reader: Reader) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, delimiter=reader.delimiter, lineterminator="\n")
    writer.writerow([neutralised(report.title)])
    for section in report.sections:
        writer.writerow([])
        writer.writerow([neutralised(section.title)])
        writer.writerow([neutralised(h) for h in section.header])
        for row in section.rows:
            writer.writerow([_csv_text(cell, reader) for cell in row])
    return out.getvalue().encode()


def _csv_text(cell: Cell, reader: Reader) -> str:
    return neutralised(cell) if isinstance(cell, str) else precise(cell, reader)


_NUMBER_FORMATS = {Coefficient: "0.000", Percent: "0.0", Seconds: "0.0"}


def to_xlsx(report: Report, reader: Reader) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    taken: set[str] = set()
    for section in report.sections:
        sheet = book.create_sheet(_sheet_name(section.title, taken))
        for index, width in enumerate(_widths(section, reader), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        header = []
        for text in section.header:
            cell = WriteOnlyCell(sheet, value=xml_safe(neutralised(text)))
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            header.append(cell)
        sheet.append(header)
        for row in section.rows:
            line = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=_sheet_value(value, reader))
                number_format = _NUMBER_FORMATS.get(type(value))
                if number_format:
                    cell.number_format = number_format
                if isinstance(value, str):
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
                line.append(cell)
            sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_value(cell: Cell, reader: Reader) -> str | int | float | None:
    if cell is None or isinstance(cell, int | float):
        return cell
    if isinstance(cell, str):
        return xml_safe(neutralised(cell))
    if isinstance(cell, Coefficient | Percent):
        return cell.value
    if isinstance(cell, Seconds):
        return cell.ms / 1000
    return precise(cell, reader)  # a time: `10’02`


def _widths(section: Section, reader: Reader) -> list[float]:
    """Each column as wide as its longest text, between 8 and 60 characters."""
    widths = [len(h) for h in section.header]
    for row in section.rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(display(cell, reader)))
    return [min(max(w + 2, 8), 60) for w in widths]


def _sheet_name(title: str, taken: set[str]) -> str:
    """A sheet's name: none of []:*?/\\, at most 31 characters, unique in the workbook."""
    base = "".join(" " if char in "[]:*?/\\" else char for char in title).strip()[:31]
    base = base or "Tableau"
    name, number = base, 2
    while name.lower() in taken:
        suffix = f" ({number})"
        name, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.lower())
    return name


_STYLE = (
    "body{font-family:sans-serif;max-width:64em;margin:1em auto;padding:0 1em;color:#1f2933}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}"
    "table{border-collapse:collapse;margin:.4em 0;font-size:.9em}"
    "th,td{border:1px solid #bbb;padding:.25em .5em;vertical-align:top;text-align:left}"
    "thead th{background:#f0f4f8}td.num{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}.note{color:#52606d;font-size:.9em}"
    "@media print{body{max-width:none;margin:0}a{color:inherit;text-decoration:none}"
    "tr,li{break-inside:avoid}h2{break-after:avoid}}"
)


def to_html(report: Report, reader: Reader, base_url: str = "") -> bytes:
    title = escape(report.title)
    parts = [
        f'<!doctype html>\n<html lang="{escape(report.language)}">\n<head><meta charset="utf-8">'
        f"<title>{title}</title>\n<style>{_STYLE}</style></head>\n<body>",
        f"<h1>{html_text(report.title)}</h1>",
        "<ul>" + "".join(f"<li>{html_text(line)}</li>" for line in report.headline) + "</ul>",
    ]
    for section in report.sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        parts.append(_html_table(section, reader, base_url))
        if section.note:
            parts.append(f'<p class="note">{html_text(section.note)}</p>')
    parts.append("</body>\n</html>\n")
    return "\n".join(parts).encode()


def _html_table(section: Section, reader: Reader, base_url: str) -> str:
    head = "".join(f"<th>{html_text(h)}</th>" for h in section.header)
    body = []
    for row in shown(section, reader):
        cells = []
        for cell in row:
            text = html_text(cell.text)
            if cell.link:
                text = f'<a href="{escape(base_url + cell.link)}">{text}</a>'
            cells.append(f'<td class="num">{text}</td>' if cell.numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )
