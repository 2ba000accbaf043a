"""The tables researchers publish, computed from the coding: the scheme synthesis and the
sources/references of a codebook, as JSON or as a file in any report format; and every
annotation of a study as one flat table, for R or a spreadsheet.

Every file is written for its reader (`ExportReader`): headers, titles and file names in
their language, numbers with their decimal mark, a CSV with their separator."""

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from autoconf.api.deps import (
    AuditedExport,
    CurrentUser,
    ManagedCodebookDep,
    ManagedStudyDep,
    SessionDep,
    StudyDep,
)
from autoconf.api.rendering import language_of
from autoconf.api.routing import IndexedRouter
from autoconf.consent import records as consent
from autoconf.errors import Invalid
from autoconf.i18n import gettext as _
from autoconf.i18n import set_language
from autoconf.models import Codebook
from autoconf.payloads import MAX_ID
from autoconf.schemes import annotation_table, crosstabs, segment_report, synthesis, writers
from autoconf.schemes import counts as counts_module
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.schemes.tables import Table
from autoconf.studies import visibility

router = IndexedRouter(prefix="/api/v1", tags=["synthesis"])

Format = Literal["json", "csv", "xlsx", "ods", "docx", "html", "md", "tex"]
Separator = Literal["semicolon", "comma", "tab"]


async def export_language(request: Request, user: CurrentUser) -> str:
    """The reader's language, set for the request (async: in the context the handler then
    runs in), so that titles, headers and file names follow it."""
    language = language_of(request, user)
    set_language(language)
    return language


ExportLanguage = Annotated[str, Depends(export_language)]


async def export_reader(
    language: ExportLanguage,
    sep: Annotated[
        Separator | None,
        Query(
            description="CSV only: the separator between fields. Default: semicolon when "
            "the reader's language is French (French spreadsheets read a comma as the "
            "decimal mark), comma in English."
        ),
    ] = None,
) -> writers.Reader:
    """Who the file is for: their language and the CSV separator they chose."""
    return writers.Reader(language, writers.SEPARATORS[sep] if sep else None)


ExportReader = Annotated[writers.Reader, Depends(export_reader)]


def book_slug(kind: str) -> str:
    """A codebook's kind in a file name, in the reader's language."""
    return {
        "schemes": _("schemes"),
        "categories": _("categories"),
        "phases": _("phases"),
        "principles": _("principes"),
    }.get(kind, kind)


class SynthesisColumn(BaseModel):
    recording_id: int
    code: str


class SynthesisRow(BaseModel):
    code_id: int
    label: str
    path: str
    depth: int
    cells: list[str | int | float | None]


class SynthesisPublic(BaseModel):
    value: synthesis.Value
    columns: list[SynthesisColumn]
    rows: list[SynthesisRow]


class TablePublic(BaseModel):
    title: str
    header: list[str]
    rows: list[list[str | int | float | None]]


def parse_ids(text: str | None) -> list[int] | None:
    if text is None or not text.strip():
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Invalid(
            "recordings : des numéros d'enregistrements séparés par des virgules."
        ) from None
    if any(not 0 < rid <= MAX_ID for rid in ids):
        raise Invalid("recordings : un numéro d'enregistrement est hors limites.")
    return ids


def parse_coder(text: str | None) -> synthesis.Coder:
    """All coders together (empty, `all`), one coder (a user id), or the consensus layer."""
    if text is None or text == "" or text == "all":
        return synthesis.ALL_CODERS
    if text == synthesis.CONSENSUS:
        return synthesis.CONSENSUS
    return parse_id(text, "coder : le numéro d'un utilisateur, « all » ou « consensus ».")


def parse_id(text: str, message: str) -> int:
    """An id typed in a form or a query ("²" is a digit to Python, not to `int`)."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise Invalid(message)
    return int(text)


def _table(table: Table, fmt: str, name: str, reader: writers.Reader) -> Any:
    """A table as JSON, or as a file named `name` in the format asked for."""
    if fmt == "json":
        return TablePublic(title=table.title, header=table.header, rows=table.rows)
    return _file(table, fmt, name, reader)


def download(content: bytes, fmt: str, name: str) -> Response:
    """`content` as a file to save, `name` (ASCII) with the format's extension."""
    media_type, extension = writers.FORMATS[fmt]
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


def _file(table: Table, fmt: str, name: str, reader: writers.Reader) -> Response:
    return download(writers.write(table, fmt, reader), fmt, name)


@router.get(
    "/studies/{study_id}/synthesis",
    response_model=SynthesisPublic,
    responses={200: {"content": {t: {} for t, _ in writers.FORMATS.values()}}},
)
def scheme_synthesis(
    study: ManagedStudyDep,
    _audit: AuditedExport,
    session: SessionDep,
    reader: ExportReader,
    recordings: Annotated[
        str | None, Query(description="Column recording ids, in order (default: all, by code).")
    ] = None,
    phase: Annotated[
        int | None, Query(gt=0, le=MAX_ID, description="Only segments overlapping this phase.")
    ] = None,
    coder: Annotated[
        str | None,
        Query(description="A user id, all (default: the coders together) or consensus."),
    ] = None,
    value: synthesis.Value = "mark",
    format: Format = "json",
) -> Any:
    """Schemes (codebook order; parents aggregate their children; archived codes drop out)
    × recordings (their codes as headers): X, number of segments, seconds, share of the
    recording's (or phase's) duration, or time of first use. Files are in the reader's
    language (decimal comma and `;` in a CSV for French, unless `sep` says otherwise)."""
    result = synthesis.scheme_synthesis(
        session,
        study.id or 0,
        recording_ids=parse_ids(recordings),
        phase_code_id=phase,
        coder=parse_coder(coder),
        value=value,
    )
    if format == "json":
        return SynthesisPublic(
            value=result.value,
            columns=[
                SynthesisColumn(recording_id=c.recording_id, code=c.code) for c in result.columns
            ],
            rows=[
                SynthesisRow(
                    code_id=row.code_id,
                    label=row.label,
                    path=row.path,
                    depth=row.depth,
                    cells=cells,
                )
                for row, cells in zip(result.rows, result.cells, strict=True)
            ],
        )
    table = result.table(_("Synthèse des schèmes d'action"), _("Schèmes d'action"))
    name = _("synthese-schemes-etude-%(study)s") % {"study": study.id}
    return _file(table, format, name, reader)


@router.get(
    "/codebooks/{codebook_id}/sources",
    response_model=TablePublic,
    responses={200: {"content": {t: {} for t, _ in writers.FORMATS.values()}}},
)
def sources_references(
    codebook: ManagedCodebookDep,
    _audit: AuditedExport,
    session: SessionDep,
    reader: ExportReader,
    format: Format = "json",
) -> Any:
    """Per code, parents aggregating their descendants: sources (distinct interviews with a
    segment of the code) and references (segments), with the codes' descriptions."""
    header = [_("Code"), _("Description"), _("Sources"), _("Références")]
    table = synthesis.sources_references(session, codebook, header)
    name = _("sources-references-%(book)s-etude-%(study)s") % {
        "book": book_slug(codebook.kind),
        "study": codebook.study_id,
    }
    return _table(table, format, name, reader)


@router.get(
    "/codebooks/{codebook_id}/crosstab",
    response_model=TablePublic,
    responses={200: {"content": {t: {} for t, _ in writers.FORMATS.values()}}},
)
def crosstab(
    codebook: ManagedCodebookDep,
    _audit: AuditedExport,
    session: SessionDep,
    reader: ExportReader,
    by: crosstabs.By = "recordings",
    value: crosstabs.Measure = "count",
    other: Annotated[
        int | None,
        Query(
            gt=0,
            le=MAX_ID,
            description="With by=codes: the codebook in columns (default: this one).",
        ),
    ] = None,
    format: Format = "json",
) -> Any:
    """The codes (parents aggregating descendants) × recordings, counsellors, structures, or
    the codes of a codebook (co-occurrence by time overlap): segments or seconds."""
    columns = None
    if other is not None:
        columns = session.get(Codebook, other)
        if columns is None or columns.study_id != codebook.study_id:
            raise Invalid(f"other : le livre de codes n° {other} n'est pas dans cette étude.")
    if by == "codes":
        label, slug = (columns or codebook).name, book_slug((columns or codebook).kind)
    else:
        groups = {
            "recordings": _("enregistrements"),
            "counsellors": _("conseillers"),
            "structures": _("structures"),
        }
        label = slug = groups[by]  # one ASCII word in every language: a file name's too
    title = f"{codebook.name} × {label}"
    table = crosstabs.crosstab(session, codebook, by, value, columns, title=title)
    name = _("croisement-%(book)s-%(by)s-etude-%(study)s") % {
        "book": book_slug(codebook.kind),
        "by": slug,
        "study": codebook.study_id,
    }
    return _table(table, format, name, reader)


@router.get(
    "/codebooks/{codebook_id}/segments",
    responses={200: {"content": {"text/html": {}, writers.FORMATS["docx"][0]: {}}}},
)
def segments_by_code(
    request: Request,
    codebook: ManagedCodebookDep,
    _audit: AuditedExport,
    session: SessionDep,
    language: ExportLanguage,
    format: Literal["json", "html", "docx"] = "json",
) -> Any:
    """Every segment grouped by code (a parent gathers its descendants'), with its recording's
    code, time, note, structured fields and verbatims, each linked to the player there."""
    # Quotes are what a recording says: not exported without its consent.
    withheld = consent.withheld(session, codebook.study_id)
    groups = segment_report.segments_by_code(session, codebook, withheld)
    base = str(request.base_url).rstrip("/")
    if format == "json":
        return [
            {
                "code_id": row.code_id,
                "path": row.path,
                "segments": [
                    {
                        **dataclasses.asdict(entry),
                        "time": entry.time,
                        "url": f"{base}/recordings/{entry.recording_id}#t={entry.start_ms}",
                    }
                    for entry in entries
                ],
            }
            for row, entries in groups
        ]
    labels = {key: _(label) for key, label in STRUCTURED_FIELDS.items()}
    title = _("Segments regroupés par code — %(book)s") % {"book": codebook.name}
    if format == "html":
        content = segment_report.to_html(title, groups, labels, base, language)
    else:
        content = segment_report.to_docx(title, groups, labels, base)
    name = _("segments-%(book)s-etude-%(study)s") % {
        "book": book_slug(codebook.kind),
        "study": codebook.study_id,
    }
    return download(content, format, name)


@router.get(
    "/studies/{study_id}/counts",
    response_model=TablePublic,
    responses={200: {"content": {t: {} for t, _ in writers.FORMATS.values()}}},
)
def counts(
    study: ManagedStudyDep,
    _audit: AuditedExport,
    session: SessionDep,
    reader: ExportReader,
    by: counts_module.CountsBy = "structures",
    format: Format = "json",
) -> Any:
    """Recorded sessions, counsellors and auto-confrontations per structure, centre or
    researcher (who recorded the sessions), with a total."""
    first = {"structures": _("Structure"), "centres": _("Centre"), "researchers": _("Chercheur·e")}
    headers = [first[by], _("Séances enregistrées"), _("Conseillers"), _("Auto-confrontations")]
    title, slug = {
        "structures": (_("Effectifs par structure"), _("structures")),
        "centres": (_("Effectifs par centre"), _("centres")),
        "researchers": (_("Effectifs par chercheur·e"), _("chercheurs")),
    }[by]
    table = counts_module.counts_table(session, study.id or 0, by, headers, _("Total"), title)
    name = _("effectifs-%(by)s-etude-%(study)s") % {
        "by": slug,
        "study": study.id,
    }
    return _table(table, format, name, reader)


@router.get(
    "/studies/{study_id}/annotations",
    response_model=TablePublic,
    responses={200: {"content": {writers.FORMATS[f][0]: {} for f in ("csv", "xlsx")}}},
)
def study_annotations(
    study: StudyDep,
    user: CurrentUser,
    _audit: AuditedExport,
    session: SessionDep,
    reader: ExportReader,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Any:
    """Every annotation of the study you may see (as on the recordings' pages: a counsellor,
    on their own recordings, never the researchers' coding unless shown to them; the
    transcript only with the consents), a row each, for R or a spreadsheet: recording code
    and category, layer, start and end (timecodes, and seconds with milliseconds: `start_s`,
    `end_s`, `duration_s`, empty for a moment), code paths and their codebook kinds (joined
    by " | "), author's code (a counsellor's code, "Chercheur·e A"…), origin, speaker, note,
    one column per structured field (its key), annotation id. Column names are the same in
    every language."""
    study_id = study.id or 0
    shown = visibility.study_annotations(session, user, study_id)
    table = annotation_table.annotation_table(
        session,
        study_id,
        shown.recordings,
        _("Annotations"),
        _("Chercheur·e"),
        shown.codebook_kinds,
    )
    name = _("annotations-etude-%(study)s") % {"study": study_id}
    return _table(table, format, name, reader)
