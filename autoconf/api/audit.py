"""The audit log (administrators): the API, its CSV and the page. Read only: no route
changes or deletes an entry (and the database refuses it)."""

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from autoconf.api.deps import CurrentUser, SessionDep
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import ExportReader, download
from autoconf.audit import log as audit_log
from autoconf.errors import Invalid
from autoconf.i18n import gettext as _
from autoconf.models import AuditEvent, Study
from autoconf.payloads import MAX_ID, AuditEntryPublic
from autoconf.schemes import writers
from autoconf.schemes.tables import Cell, Table
from autoconf.studies import access

router = IndexedRouter(tags=["audit"])
MAX_CSV = 100_000


class AuditPage(BaseModel):
    entries: list[AuditEntryPublic]
    next_before_id: int | None


StudyFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
BeforeFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Paging: older ids.")]
SinceFilter = Annotated[
    datetime | None, Query(description="ISO date or date-time (UTC when no zone is given).")
]
ActionFilter = Annotated[str | None, Query(max_length=32)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _entries(
    session: Session,
    study_id: int | None,
    since: datetime | None,
    action: str | None,
    before_id: int | None,
    limit: int,
) -> list[AuditEvent]:
    if action is not None and action not in audit_log.ACTIONS:
        raise Invalid(f"action : une de {', '.join(audit_log.ACTIONS)}.")
    return audit_log.entries(
        session,
        study_ids=None if study_id is None else [study_id],
        since=since,
        action=action or None,
        before_id=before_id,
        limit=limit,
    )


@router.get("/api/v1/audit")
def audit_entries(
    user: CurrentUser,
    session: SessionDep,
    study_id: StudyFilter = None,
    since: SinceFilter = None,
    action: ActionFilter = None,
    before_id: BeforeFilter = None,
    limit: Limit = 100,
) -> AuditPage:
    """The newest entries first (administrators): logins and failed logins, first play of a
    recording per login session, downloads, exports, consent changes, erasures, membership
    and account changes. `next_before_id` gives the next page."""
    access.require_admin(user)
    rows = _entries(session, study_id, since, action, before_id, limit)
    following = rows[-1].id if len(rows) == limit else None
    return AuditPage(
        entries=[AuditEntryPublic.model_validate(r) for r in rows], next_before_id=following
    )


# The fields of an entry, in the CSV's order (detail and address last).
CSV_FIELDS = ["id", "at", "user_id", "username", "action", "study_id", "recording_id"]
CSV_FIELDS += ["object_type", "object_id"]


def _csv_header() -> list[str]:
    """The CSV's column titles, in the reader's language."""
    return [
        _("N°"),
        _("Date (UTC)"),
        _("N° utilisateur"),
        _("Identifiant"),
        _("Action"),
        _("N° étude"),
        _("N° enregistrement"),
        _("Type d'objet"),
        _("N° objet"),
        _("Détail"),
        _("Adresse"),
    ]


@router.get("/api/v1/audit.csv", response_class=Response)
def audit_csv(
    user: CurrentUser,
    session: SessionDep,
    reader: ExportReader,
    study_id: StudyFilter = None,
    since: SinceFilter = None,
    action: ActionFilter = None,
) -> Response:
    """The same entries as CSV (oldest last, up to 100,000 lines), written like every CSV
    of the application: UTF-8 with a byte order mark, `;` between fields for a French
    reader and `,` for an English one unless `sep` says otherwise."""
    access.require_admin(user)
    rows = _entries(session, study_id, since, action, None, MAX_CSV)
    lines: list[list[Cell]] = []
    for row in rows:
        public = AuditEntryPublic.model_validate(row).model_dump(mode="json")
        lines.append([*(public[name] for name in CSV_FIELDS), _detail(row), public["address"]])
    table = Table(title="", header=_csv_header(), rows=lines)
    return download(writers.to_csv(table, reader), "csv", _("journal-audit"))


def _detail(row: AuditEvent) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted(row.detail.items()))


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    study_id: StudyFilter = None,
    action: ActionFilter = None,
    before_id: BeforeFilter = None,
) -> Response:
    """The administrators' page: the newest entries, filtered by study and action."""
    access.require_admin(user)
    limit = 200
    rows = _entries(session, study_id, None, action, before_id, limit)
    studies = {s.id: s.name for s in session.exec(select(Study).order_by(col(Study.name)))}
    return render(
        request,
        "audit.html",
        entries=rows,
        studies=studies,
        actions=audit_log.ACTIONS,
        study_id=study_id,
        action=action or "",
        next_before_id=rows[-1].id if len(rows) == limit else None,
        detail=_detail,
    )
