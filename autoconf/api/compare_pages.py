"""The disagreement view of a recording (issue 18): two coders' layers side by side with
the consensus under them, the stretches where they disagree highlighted and listed, each
settled from the page (web/static/js/compare.js calls the consensus API). A GET form: the
page is its own permalink; without JavaScript it still shows and lists everything."""

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from autoconf.api.agreement import check_layer, parse_coders
from autoconf.api.deps import ManagedRecordingDep, SessionDep
from autoconf.api.pages import player_media
from autoconf.api.rendering import render
from autoconf.errors import Conflict, Invalid
from autoconf.i18n import gettext as _
from autoconf.models import Study
from autoconf.schemes import agreement, annotations, codebooks, comparison, consensus, rounds
from autoconf.schemes.codebooks import CodeNode
from autoconf.studies import access, service

router = APIRouter(include_in_schema=False)
LAYERS = ("schemes", "phases", "categories")


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


def _coders(views: list[annotations.AnnotationView], layer: str) -> list[int]:
    """The authors of segments on `layer`, most segments first."""
    counts: dict[int, int] = {}
    for v in views:
        if v.layer == layer and v.end_ms is not None and v.author_id is not None:
            counts[v.author_id] = counts.get(v.author_id, 0) + 1
    return sorted(counts, key=lambda author: -counts[author])


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
    check_layer(layer)
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
    candidates = [c for c in _coders(views, layer) if c in names]
    # A round on this recording names its coders: they are compared first (and, while it
    # is blind, the page says so rather than that one coder is missing).
    for view in rounds.open_rounds_of(session, recording.id or 0):
        if view.layer == layer:
            ours = [c.user_id for c in view.coders if c.user_id in names]
            candidates = ours + [c for c in candidates if c not in ours]
            break
    pair = _pair(session, recording.study_id, coders, candidates)
    result: comparison.Comparison | None = None
    refused = ""
    if pair is not None and recording.duration_ms is not None:
        try:
            result = comparison.compare(session, [recording], pair, layer)
        except Conflict as error:  # a blind round still hides a coder
            refused = str(error)
    elif recording.duration_ms is None:
        refused = _("L'enregistrement n'est pas encore traité : rien à comparer.")
    rows: list[Row] = []
    if pair is not None:
        for key, coder in zip(("a", "b"), pair, strict=True):
            mine = [v for v in views if v.layer == layer and v.author_id == coder]
            rows.append(Row(key, names.get(coder, f"n° {coder}"), _segments(mine, codes)))
    consensus_views = [v for v in views if v.layer == comparison.CONSENSUS]
    rows.append(Row("consensus", _("Consensus"), _segments(consensus_views, codes)))
    decisions = consensus.list_decisions(session, recording.id or 0)
    stretches = [
        {"d": d, "settled": consensus.settled(decisions, d.start_ms, d.end_ms)}
        for d in (result.disagreements if result else [])
    ]
    agreed = (
        len(consensus.agreed_pairs(session, recording, pair, layer))
        if pair is not None and result is not None
        else 0
    )
    return render(
        request,
        "compare.html",
        study=study,
        recording=recording,
        media=player_media(session, recording),
        can_manage=True,
        compare_keys=True,
        layer=layer,
        pair=pair,
        candidates=[(c, names[c]) for c in candidates],
        names=names,
        result=result,
        refused=refused,
        rows=rows,
        stretches=stretches,
        agreed=agreed,
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
