"""A table as the reports print it: a header row, then rows of cells. Computed once (the
synthesis, sources/references…), then written in any format by `schemes.writers`."""

import re
from dataclasses import dataclass, field
from typing import Literal

Cell = str | int | float | None
# How the numbers of a table read: `mark` (X or empty), `count`, `duration` (seconds),
# `share` (a fraction of 1), `first` (milliseconds from the start), `text`.
CellKind = Literal["mark", "count", "duration", "share", "first", "text"]


@dataclass(frozen=True)
class Table:
    title: str
    header: list[str]
    rows: list[list[Cell]]
    kind: CellKind = "text"
    # Indentation of each row's first cell (nested codes), same length as rows.
    depths: list[int] = field(default_factory=list)
    # Where a cell links to (segments by code: the player at that time), by (row, column).
    links: dict[tuple[int, int], str] = field(default_factory=dict)


# What XML 1.0 (XLSX, ODS, DOCX, SVG) cannot hold: a vertical tab pasted from Word would
# make the whole export fail.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return NOT_XML.sub("", text)


# Spreadsheets run a cell starting with these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """`text` safe to open in a spreadsheet: a leading formula character is quoted."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
