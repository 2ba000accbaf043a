"""The agreement report page (issue 18): choose two coders (researchers who coded, or the
consensus), the layer, the recordings, the slice length and the overlap threshold; read the
figures in words, per code, the confusion matrix and the disagreements (each linked to the
recording at that time); download the report as CSV, XLSX or HTML with the same query.

A GET form: the page is its own permalink. What cannot be computed (a wrong value, a blind
round still hiding a coder, a recording not processed) is said on the page, beside the form."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session, col, select

from autoconf.api.agreement import check_layer, parse_coders, study_recordings
from autoconf.api.deps import CurrentUser, ManagedStudyDep, SessionDep, audit_study_export
from autoconf.api.rendering import language_of, render
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import download
from autoconf.errors import Conflict, Invalid
from autoconf.i18n import gettext as _
from autoconf.i18n import set_language
from autoconf.models import Counsellor, Recording, Study, User
from autoconf.schemes import agreement_files, agreement_report, comparison, covalidation, writers
from autoconf.schemes.agreement import DEFAULT_SLICE_MS
from autoconf.schemes.rounds import ROUND_LAYERS
from autoconf.schemes.unitizing import DEFAULT_OVERLAP_THRESHOLD
from autoconf.studies import service
from autoconf.studies.recordings import list_recordings

router = IndexedRouter(include_in_schema=False)

FORMATS = [("csv", "CSV"), ("xlsx", "XLSX (Excel)"), ("html", "HTML")]
_DECIMAL = re.compile(r"^\d{1,6}(?:[.,]\d{1,6})?$")


@dataclass(frozen=True)
class Form:
    """The form as typed (the query string)."""

    coder_a: str
    coder_b: str
    layer: str
    recordings: str  # ids separated by commas; empty: every processed recording
    slice_s: str
    threshold: str


def form(
    coder_a: str = "",
    coder_b: str = "",
    layer: str = "schemes",
    recordings: Annotated[list[str] | None, Query()] = None,
    slice_s: str = "",
    threshold: str = "",
) -> Form:
    """The query: the boxes ticked come as `recordings=1&recordings=2`, a permalink may say
    `recordings=1,2`."""
    ids = ",".join(part for value in recordings or [] for part in value.split(",") if part.strip())
    return Form(coder_a.strip(), coder_b.strip(), layer, ids, slice_s.strip(), threshold.strip())


FormDep = Annotated[Form, Depends(form)]


@dataclass(frozen=True)
class Asked:
    coders: tuple[comparison.Coder, comparison.Coder]
    layer: str
    recordings: str
    slice_ms: int
    threshold: float


def _number(text: str, what: str) -> float:
    if not _DECIMAL.match(text):
        raise Invalid(f"{what} : un nombre est attendu, par exemple 0,5.")
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise Invalid(f"{what} : un nombre est attendu, par exemple 0,5.")
    return value


def slice_ms(text: str) -> int:
    """The slice length typed in seconds (`1`, `0,5`), in milliseconds."""
    if not text:
        return DEFAULT_SLICE_MS
    value = round(_number(text, "Longueur d'une tranche") * 1000)
    if not 100 <= value <= 60_000:
        raise Invalid("La longueur d'une tranche va de 0,1 à 60 secondes.")
    return value


def threshold(text: str) -> float:
    """The overlap threshold typed as a fraction (`0,6`) or a percentage (`60 %`)."""
    if not text:
        return DEFAULT_OVERLAP_THRESHOLD
    percent = text.rstrip("%\u202f\u00a0 ")
    value = _number(percent, "Seuil de recouvrement")
    if percent != text:
        value /= 100
    if not 0 < value <= 1:
        raise Invalid("Le seuil de recouvrement est au-dessus de 0 et au plus 1 (ou 100 %).")
    return value


def asked(session: Session, study_id: int, typed: Form) -> Asked | None:
    """What the form asks, checked; None before two coders are chosen."""
    if not typed.coder_a and not typed.coder_b:
        return None
    if not typed.coder_a or not typed.coder_b:
        raise Invalid("Choisissez deux codeurs à comparer.")
    if typed.coder_a == typed.coder_b:
        raise Invalid("Choisissez deux codeurs différents.")
    for coder in (typed.coder_a, typed.coder_b):
        if "," in coder:
            raise Invalid(f"« {coder[:40]} » n'est ni un numéro d'utilisateur ni « consensus ».")
    check_layer(typed.layer)
    return Asked(
        parse_coders(session, study_id, f"{typed.coder_a},{typed.coder_b}"),
        typed.layer,
        typed.recordings,
        slice_ms(typed.slice_s),
        threshold(typed.threshold),
    )


def _names(
    session: Session, user: User, study_id: int, recordings: Sequence[Recording]
) -> dict[comparison.Coder, str]:
    members = service.list_members(session, user, study_id)
    names: dict[comparison.Coder, str] = {m.user_id: m.display_name or m.username for m in members}
    return {**names, **pseudo_coders(counsellors_gender(session, recordings))}


def counsellors_gender(session: Session, recordings: Sequence[Recording]) -> str:
    """The grammatical gender (`User.gender`) the counsellors of these recordings share, else
    "" (neutral: several, or one without an account)."""
    ids = [r.counsellor_id for r in recordings if r.counsellor_id is not None]
    genders = set(
        session.exec(
            select(User.gender)
            .select_from(Counsellor)
            .outerjoin(User, col(User.id) == Counsellor.user_id)
            .where(col(Counsellor.id).in_(ids))
        ).all()
    )
    return (genders.pop() or "") if len(genders) == 1 else ""


def pseudo_coders(gender: str) -> dict[comparison.Coder, str]:
    """The co-validation's two codings, as the form and the report name them (the
    counsellor by their grammatical gender, as `live.wording` does)."""
    covalidated = {
        "feminine": _("Codage co-validé avec la conseillère"),
        "masculine": _("Codage co-validé avec le conseiller"),
    }.get(gender, _("Codage co-validé avec le·la conseiller·e"))
    return {
        covalidation.PRIOR: _("Codage d'avant la co-validation"),
        covalidation.COVALIDATED: covalidated,
    }


def html_text(text: str) -> Markup:
    """A report's text on the page (`agreement_report.html_text`)."""
    return Markup(agreement_report.html_text(text))  # escaped there


@dataclass(frozen=True)
class Computed:
    report: agreement_report.Report
    recordings: list[Recording]
    query: str  # the same report, for the download links


def compute(session: Session, user: User, study_id: int, wanted: Asked, language: str) -> Computed:
    """The report in `language` (Invalid or Conflict as the comparison says)."""
    chosen = study_recordings(session, user, study_id, wanted.recordings)
    result = comparison.compare(
        session, chosen, wanted.coders, wanted.layer, wanted.slice_ms, wanted.threshold
    )
    codes = {r.id or 0: r.code for r in chosen}
    names = _names(session, user, study_id, chosen)
    report = agreement_report.build(result, names, codes, language)
    query = urlencode(
        {
            "coder_a": str(wanted.coders[0]),
            "coder_b": str(wanted.coders[1]),
            "layer": wanted.layer,
            "recordings": ",".join(str(r.id) for r in chosen),
            "slice_s": writers.number_text(wanted.slice_ms / 1000, writers.Reader("en")),
            "threshold": writers.number_text(wanted.threshold, writers.Reader("en")),
        }
    )
    return Computed(report, chosen, query)


def _id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _ticked(computed: Computed | None, typed: Form, processed: list[Recording]) -> set[int]:
    """The recordings the form shows ticked: those compared, else asked, else all."""
    if computed:
        return {r.id or 0 for r in computed.recordings}
    asked_ids = {i for i in map(_id, typed.recordings.split(",")) if i is not None}
    return asked_ids or {r.id or 0 for r in processed}


def _candidates(
    names: dict[comparison.Coder, str], coded: list[int], typed: Form
) -> list[tuple[str, str]]:
    """The coders to choose from: the researchers who coded, and those the query names."""
    chosen = [i for i in map(_id, (typed.coder_a, typed.coder_b)) if i is not None]
    extra = [i for i in chosen if i in names and i not in coded]
    return [(str(c), names[c]) for c in [*coded, *dict.fromkeys(extra)]]


@router.get("/studies/{study_id}/agreement", response_class=HTMLResponse)
def agreement_page(
    request: Request, study: ManagedStudyDep, session: SessionDep, typed: FormDep
) -> Response:
    study_id = study.id or 0
    user = request.state.auth_user
    language = language_of(request, user)
    set_language(language)  # the form's labels, before render sets it again
    reader = writers.Reader(language)
    processed = study_recordings(session, user, study_id, "")
    names = _names(session, user, study_id, processed)
    coded = [c for c in agreement_report.researchers_who_coded(session, study_id) if c in names]
    computed: Computed | None = None
    error, status = "", 200
    try:
        wanted = asked(session, study_id, typed)
        if wanted is not None:
            computed = compute(session, user, study_id, wanted, language)
    except (Invalid, Conflict) as refused:  # said beside the form, which keeps what was typed
        error, status = str(refused), 409 if isinstance(refused, Conflict) else 422
    candidates = _candidates(names, coded, typed)
    mine = str(user.id)
    default_a = mine if mine in dict(candidates) else (candidates[0][0] if candidates else "")
    report = computed.report if computed else None
    return render(
        request,
        "agreement.html",
        status,
        study=study,
        error=error,
        report=report,
        tables={s.key: agreement_report.shown(s, reader) for s in report.sections}
        if report
        else {},
        numeric={s.key: agreement_report.numeric_columns(s) for s in report.sections}
        if report
        else {},
        query=computed.query if computed else "",
        formats=FORMATS,
        candidates=candidates,
        consensus=comparison.CONSENSUS,
        pseudo_coders={key: names[key] for key in covalidation.PSEUDO_CODERS}
        if study.co_validation
        else {},
        html_text=html_text,
        coder_a=typed.coder_a or default_a,
        coder_b=typed.coder_b or comparison.CONSENSUS,
        layers=[(layer, _(agreement_report.LAYER_LABELS[layer])) for layer in ROUND_LAYERS],
        layer=typed.layer,
        recordings=processed,
        ticked=_ticked(computed, typed, processed),
        unprocessed=len(list_recordings(session, user, study_id)) - len(processed),
        slice_s=typed.slice_s or "1",
        threshold=typed.threshold or writers.number_text(DEFAULT_OVERLAP_THRESHOLD, reader),
    )


def _file(
    session: Session, user: User, study: Study, typed: Form, language: str, fmt: str, base: str
) -> tuple[bytes, str]:
    """The report as a file, and its name (without the extension)."""
    study_id = study.id or 0
    wanted = asked(session, study_id, typed)
    if wanted is None:
        raise Invalid("Choisissez deux codeurs à comparer.")
    report = compute(session, user, study_id, wanted, language).report
    reader = writers.Reader(language)
    if fmt == "csv":
        content = agreement_files.to_csv(report, reader)
    elif fmt == "xlsx":
        content = agreement_files.to_xlsx(report, reader)
    else:
        content = agreement_files.to_html(report, reader, base)
    set_language(language)
    return content, _("accord-etude-%(study)s") % {"study": study_id}


async def _download(
    request: Request, study: Study, user: User, session: Session, typed: Form, fmt: str
) -> Response:
    language = language_of(request, user)
    base = str(request.base_url).rstrip("/")
    content, name = await anyio.to_thread.run_sync(
        _file, session, user, study, typed, language, fmt, base
    )
    await audit_study_export(request, session, user, study.id or 0, "agreement", format=fmt)
    return download(content, fmt, name)


@router.get("/studies/{study_id}/agreement/report.csv")
async def agreement_csv(
    request: Request, study: ManagedStudyDep, user: CurrentUser, session: SessionDep, typed: FormDep
) -> Response:
    return await _download(request, study, user, session, typed, "csv")


@router.get("/studies/{study_id}/agreement/report.xlsx")
async def agreement_xlsx(
    request: Request, study: ManagedStudyDep, user: CurrentUser, session: SessionDep, typed: FormDep
) -> Response:
    return await _download(request, study, user, session, typed, "xlsx")


@router.get("/studies/{study_id}/agreement/report.html")
async def agreement_html(
    request: Request, study: ManagedStudyDep, user: CurrentUser, session: SessionDep, typed: FormDep
) -> Response:
    return await _download(request, study, user, session, typed, "html")
