"""Files written for their reader: a French reader's CSV opens in columns in a French
spreadsheet (UTF-8 with a BOM, `;` between fields, decimal comma), an English reader's with
`,` and a decimal point; a chosen separator wins; spreadsheets keep numbers as numbers."""

import codecs
import csv
import io

import pytest
from docx import Document
from odf import opendocument, table, teletype
from openpyxl import load_workbook

from autoconf.schemes import writers
from autoconf.schemes.tables import Table
from autoconf.schemes.writers import Reader, number_text, text_of, to_csv

FRENCH, ENGLISH = Reader("fr"), Reader("en")
BOM = codecs.BOM_UTF8

SHARES = Table(
    "Part de la durée",
    ["Schèmes d'action", "A4", "A8 - 1"],
    [["Écouter, reformuler", 0.125, None], ["Informer", 0.5, 0.0]],
    kind="share",
)
COUNTS = Table("Moyennes", ["Code", "Moyenne", "Total"], [["CV", 2.5, 3], ["=1+1", 0.75, 12]])


def read(content: bytes, separator: str) -> list[list[str]]:
    """What a spreadsheet set to that separator reads: the BOM says UTF-8."""
    assert content.startswith(BOM)
    return list(csv.reader(io.StringIO(content[len(BOM) :].decode()), delimiter=separator))


def test_numbers_read_as_the_reader_writes_them() -> None:
    assert number_text(2) == "2" and number_text(2, ENGLISH) == "2"
    assert number_text(2.5) == "2,5" and number_text(2.5, ENGLISH) == "2.5"
    assert number_text(10.0) == "10" and number_text(0.1 + 0.2) == "0,3"
    assert number_text(1234567.25) == "1234567,25"  # no thousands separator: still a number
    assert text_of(0.125, "share") == "12,5\u202f%" and text_of(0.125, "share", ENGLISH) == "12.5%"
    assert text_of(2.5, "count", FRENCH) == "2,5" and text_of(2.5, "count", ENGLISH) == "2.5"
    # Times read the same in both languages.
    assert text_of(65.2, "duration", ENGLISH) == "1’05" and text_of(602_000, "first") == "10’02"


def test_a_french_csv_has_a_bom_semicolons_and_decimal_commas() -> None:
    content = to_csv(SHARES, FRENCH)
    assert content.startswith(BOM) and content.count(BOM) == 1
    assert content.decode("utf-8-sig").splitlines()[0] == "Schèmes d'action;A4;A8 - 1"
    assert read(content, ";") == [
        ["Schèmes d'action", "A4", "A8 - 1"],
        ["Écouter, reformuler", "12,5\u202f%", ""],  # a comma in text needs no quotes here
        ["Informer", "50,0\u202f%", "0,0\u202f%"],
    ]
    assert read(to_csv(COUNTS), ";") == [
        ["Code", "Moyenne", "Total"],
        ["CV", "2,5", "3"],
        ["'=1+1", "0,75", "12"],  # still neutralised for spreadsheets
    ]


def test_an_english_csv_has_commas_and_decimal_points() -> None:
    content = to_csv(SHARES, ENGLISH)
    assert content.startswith(BOM)
    assert read(content, ",") == [
        ["Schèmes d'action", "A4", "A8 - 1"],
        ["Écouter, reformuler", "12.5%", ""],
        ["Informer", "50.0%", "0.0%"],
    ]
    assert b'"\xc3\x89couter, reformuler"' in content  # quoted: it holds the separator
    assert read(to_csv(COUNTS, ENGLISH), ",")[1] == ["CV", "2.5", "3"]


@pytest.mark.parametrize(
    ("language", "separator"),
    [("fr", ","), ("fr", "\t"), ("en", ";"), ("en", "\t"), ("fr", ";"), ("en", ",")],
)
def test_a_chosen_separator_wins_and_keeps_the_readers_numbers(
    language: str, separator: str
) -> None:
    reader = Reader(language, separator)
    assert reader.delimiter == separator
    rows = read(to_csv(COUNTS, reader), separator)
    assert rows[1] == ["CV", "2,5" if language == "fr" else "2.5", "3"]
    assert {len(row) for row in rows} == {3}


def test_the_separators_the_api_offers() -> None:
    assert writers.SEPARATORS == {"semicolon": ";", "comma": ",", "tab": "\t"}
    assert FRENCH.delimiter == ";" and ENGLISH.delimiter == ","


def test_text_formats_follow_the_reader() -> None:
    for reader, share, other in ((FRENCH, "12,5\u202f%", "12.5"), (ENGLISH, "12.5%", "12,5")):
        html = writers.to_html(SHARES, reader).decode()
        assert f'<html lang="{reader.language}">' in html and share in html and other not in html
        markdown = writers.to_markdown(SHARES, reader).decode()
        assert f"| {share} |" in markdown and other not in markdown
        document = Document(io.BytesIO(writers.to_docx(SHARES, reader)))
        cells = [cell.text for row in document.tables[0].rows for cell in row.cells]
        assert share in cells and not any(other in cell for cell in cells)
        latex = writers.to_latex(SHARES, reader).decode()
        assert share.replace("\u202f", "~").replace("%", "\\%") in latex


def test_the_latex_note_is_in_the_readers_language() -> None:
    french = writers.to_latex(SHARES, FRENCH).decode().splitlines()[0]
    english = writers.to_latex(SHARES, ENGLISH).decode().splitlines()[0]
    assert french == (
        "% Part de la durée (autoconf). Avec pdflatex, ajoutez \\usepackage[utf8]{inputenc}."
    )
    assert (
        english
        == "% Part de la durée (autoconf). Needs \\usepackage[utf8]{inputenc} with pdflatex."
    )


def test_spreadsheets_keep_numbers_whatever_the_language() -> None:
    for reader in (FRENCH, ENGLISH):
        sheet = load_workbook(io.BytesIO(writers.to_xlsx(SHARES, reader))).active
        assert sheet is not None
        values = list(sheet.iter_rows(values_only=True))
        assert values[1][1] == 0.125 and values[2][1] == 0.5
        ods = opendocument.load(io.BytesIO(writers.to_ods(SHARES, reader)))
        cells = [
            cell
            for row in ods.spreadsheet.getElementsByType(table.TableRow)
            for cell in row.getElementsByType(table.TableCell)
        ]
        numbers = [c for c in cells if c.getAttribute("valuetype") == "percentage"]
        assert [c.getAttribute("value") for c in numbers] == ["0.125", "0.5", "0.0"]
        shown = teletype.extractText(numbers[0])
        assert shown == ("12,5\u202f%" if reader is FRENCH else "12.5%")
