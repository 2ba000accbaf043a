"""The synthesis page: choose the columns (and their order), the phase, the coder and the
value; see the table; download it in any format. A GET form: the page is its own
permalink, and works without JavaScript (the script adds drag-and-drop ordering)."""

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from autoconf.api.deps import ManagedStudyDep, SessionDep
from autoconf.api.rendering import language_of, render
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import parse_coder, parse_id, parse_ids
from autoconf.schemes import codebooks, synthesis, writers
from autoconf.studies import service

router = IndexedRouter(include_in_schema=False)

# Every file format, as the download links name it.
FORMATS = [
    ("csv", "CSV"),
    ("xlsx", "XLSX (Excel)"),
    ("ods", "ODS (LibreOffice)"),
    ("docx", "DOCX (Word)"),
    ("html", "HTML"),
    ("md", "Markdown"),
    ("tex", "LaTeX"),
]


def _phase(text: str | None) -> int | None:
    """The form's phase: empty means the whole session."""
    if not text:
        return None
    return parse_id(text, "phase : le numéro d'une phase de l'étude.")


@router.get("/studies/{study_id}/synthesis", response_class=HTMLResponse)
def synthesis_page(
    request: Request,
    study: ManagedStudyDep,
    session: SessionDep,
    recordings: str | None = None,
    phase: str | None = None,
    coder: str | None = None,
    value: synthesis.Value = "mark",
) -> Response:
    study_id = study.id or 0
    user = request.state.auth_user
    reader = writers.Reader(language_of(request, user))
    chosen = parse_ids(recordings)
    phase_id = _phase(phase)
    result = synthesis.scheme_synthesis(
        session,
        study_id,
        recording_ids=chosen,
        phase_code_id=phase_id,
        coder=parse_coder(coder),
        value=value,
    )
    every = synthesis.study_columns(session, study_id, None)
    shown = {column.recording_id for column in result.columns}
    books = codebooks.list_codebooks(session, study_id)
    phases = next((nodes for book, nodes in books if book.kind == "phases"), [])
    params = {
        "recordings": ",".join(str(c.recording_id) for c in result.columns),
        "value": value,
        **({"phase": str(phase_id)} if phase_id else {}),
        **({"coder": coder} if coder else {}),
    }
    return render(
        request,
        "synthesis.html",
        study=study,
        result=result,
        cells=[[writers.text_of(cell, value, reader) for cell in line] for line in result.cells],
        columns=result.columns,
        hidden=[column for column in every if column.recording_id not in shown],
        phases=[node for node in phases if not node.archived],
        phase=phase_id,
        coders=service.list_members(session, user, study_id),
        coder=coder or "",
        value=value,
        query=urlencode(params),
        formats=FORMATS,
        books=[book for book, _ in books if book.kind != "principles"],
    )
