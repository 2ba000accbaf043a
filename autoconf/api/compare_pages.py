"""The disagreement view of a recording (issue 18): two coders' layers side by side with
the consensus under them, the stretches where they disagree highlighted and listed, each
settled from the page (web/static/js/compare.js calls the consensus API). A GET form: the
page is its own permalink; without JavaScript it still shows and lists everything."""

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from autoconf.api.agreement import parse_coders
from autoconf.api.deps import ManagedRecordingDep, SessionDep
from autoconf.api.pages import player_media
from autoconf.api.rendering import language_of, render
from autoconf.api.routing import IndexedRouter
from autoconf.errors import Invalid
from autoconf.i18n import gettext as _
from autoconf.models import Study
from autoconf.schemes import (
    agreement,
    agreement_report,
    annotations,
    codebooks,
    comparison,
    disagreements,
    rounds,
    writers,
)
from autoconf.schemes.codebooks import CodeNode
from autoconf.studies import access, service

router = IndexedRouter(include_in_schema=False)
LAYERS = rounds.ROUND_LAYERS


@dataclass(frozen=True)
class Row:
    """One line of the timeline: a coder's segments, or the consensus."""

    key: str  # "a", "b", "consensus"
    name: str
    segments: list[dict[str, Any]]


def _segments(
    views: list[annotations.AnnotationView], codes: dict[int, CodeNode]
) -> list[dict[str, Any]]:
    return [
        {
            "id": v.id,
            "start_ms": v.start_ms,
            "end_ms": v.end_ms,
            "codes": [codes[c] for c in v.code_ids if c in codes],
            "note": v.note,
        }
        for v in sorted(views, key=lambda v: (v.start_ms, v.end_ms or 0))
        if v.end_ms is not None
    ]


def _pair(
    session: Session, study_id: int, text: str | None, candidates: list[int]
) -> tuple[int, int] | None:
    """The two coders asked (`A,B`), else the two who coded most; None when fewer."""
    if text:
        first, second = parse_coders(session, study_id, text)
        if not isinstance(first, int) or not isinstance(second, int):
            raise Invalid(_("Cette vue compare deux codeurs : choisissez deux chercheurs."))
        return first, second
    if len(candidates) < 2:
        return None
    return candidates[0], candidates[1]


@router.get("/recordings/{recording_id}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    recording: ManagedRecordingDep,
    session: SessionDep,
    coders: str | None = None,
    coder_a: str | None = None,
    coder_b: str | None = None,
    layer: str = "schemes",
) -> Response:
    if coder_a and coder_b:  # the page's form: two lists
        coders = f"{coder_a},{coder_b}"
    if layer not in LAYERS:
        raise Invalid(_("Choisissez la couche des codeurs : schèmes, phases ou catégories."))
    user = request.state.auth_user
    study = session.get(Study, recording.study_id)
    scope = access.annotation_scope(session, user, recording.study_id)
    views = annotations.list_annotations(session, recording.id or 0, scope.clause())
    books = codebooks.list_codebooks(session, recording.study_id)
    codes = {node.id: node for _, nodes in books for node in nodes}
    names = {
        m.user_id: m.display_name or m.username
        for m in service.list_members(session, user, recording.study_id)
    }
    candidates = disagreements.default_coders(session, recording, views, layer, names)
    pair = _pair(session, recording.study_id, coders, candidates)
    rows: list[Row] = []
    if pair is not None:
        for key, coder in zip(("a", "b"), pair, strict=True):
            mine = [v for v in views if v.layer == layer and v.author_id == coder]
            rows.append(Row(key, names.get(coder, f"n° {coder}"), _segments(mine, codes)))
    consensus_views = [v for v in views if v.layer == comparison.CONSENSUS]
    rows.append(Row("consensus", _("Consensus"), _segments(consensus_views, codes)))
    reader = writers.Reader(language_of(request, user))
    return render(
        request,
        "compare.html",
        study=study,
        recording=recording,
        media=player_media(session, recording),
        can_manage=True,
        compare_keys=True,
        layer=layer,
        layers=LAYERS,
        pair=pair,
        candidates=[(c, names[c]) for c in candidates],
        names=names,
        review=disagreements.review(session, recording, pair, layer) if pair else None,
        rows=rows,
        # figures written as the agreement report writes them
        coefficient=lambda value: agreement_report.display(
            agreement_report.Coefficient(value), reader
        ),
        percent=lambda value: agreement_report.display(agreement_report.Percent(value), reader),
        no_code=agreement.NO_CODE,
        code_by_path={
            node.path: node
            # the layer's own codebook last: its code wins where two books share a path
            for book, nodes in sorted(books, key=lambda item: item[0].kind == layer)
            for node in nodes
        },
        layer_codes=[
            node
            for book, nodes in books
            if book.kind == layer
            for node in nodes
            if not node.archived
        ],
    )
