"""Consensus decisions: how the researchers settle a disagreement between codings.

A decision takes one coder's segment as it is (`accept`), merges coders' segments into one
spanning them with their codes together (`merge`), writes a new segment (`new`), or says no
code belongs there (`none`). All but `none` write one segment on the consensus layer; the
decision keeps who decided, when, and the segments it was made from: linked while they exist,
and as they were then (coder, times, codes), so that it stays readable once they change.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, delete, select

from autoconf.errors import Invalid, NotFound
from autoconf.models import (
    CODING_LAYERS,
    Annotation,
    ConsensusDecision,
    ConsensusSource,
    Recording,
    User,
)
from autoconf.schemes import annotations, comparison, rounds, unitizing
from autoconf.schemes.codebooks import code_paths

KINDS = ("accept", "merge", "new", "none")
# The layers a decision is made from: the coders' (not the consensus itself).
SOURCE_LAYERS = tuple(layer for layer in CODING_LAYERS if layer != "consensus")


@dataclass(frozen=True)
class DecisionView:
    id: int
    recording_id: int
    kind: str
    start_ms: int
    end_ms: int
    annotation_id: int | None
    sources: list[dict[str, Any]]
    decided_by: int | None
    decided_by_name: str
    decided_at: datetime
    source_ids: tuple[int, ...] = ()  # the source segments still there (`consensus_source`)


def decide(
    session: Session,
    recording: Recording,
    user: User,
    *,
    kind: str,
    source_ids: list[int],
    start_ms: int | None = None,
    end_ms: int | None = None,
    code_ids: list[int] | None = None,
    note: str = "",
) -> DecisionView:
    """Record a decision (and write its consensus segment); Invalid, in French, for a
    decision that does not hold together."""
    if kind not in KINDS:
        raise Invalid(f"Décision inconnue : « {kind[:20]} » ({', '.join(KINDS)}).")
    sources = _sources(session, recording, source_ids)
    if kind == "accept" and len(sources) != 1:
        raise Invalid("« Garder » prend exactement un segment d'un codeur.")
    if kind == "merge" and len(sources) < 2:
        raise Invalid("« Fusionner » prend au moins deux segments.")
    if sources and (start_ms is None or end_ms is None) and kind != "new":
        start_ms = min(s.start_ms for s in sources) if start_ms is None else start_ms
        end_ms = max(s.end_ms or s.start_ms for s in sources) if end_ms is None else end_ms
    if start_ms is None or end_ms is None or end_ms <= start_ms:
        raise Invalid("Une décision porte sur un intervalle : un début avant une fin.")
    codes_of = annotations.codes_by_annotation(session, [s.id or 0 for s in sources])
    if code_ids is None and kind in ("accept", "merge"):
        code_ids = list(dict.fromkeys(c for s in sources for c in codes_of.get(s.id or 0, [])))
    if kind == "new" and not code_ids:
        raise Invalid("Un nouveau segment de consensus porte au moins un code.")
    segment = None
    if kind != "none":
        segment = annotations.create_annotation(
            session,
            recording,
            user.id,
            start_ms=start_ms,
            end_ms=end_ms,
            code_ids=code_ids or [],
            note=note or (sources[0].note if kind == "accept" else ""),
            layer="consensus",
        )
    paths = code_paths(session, recording.study_id)
    names = annotations.user_names(session, [s.author_id for s in sources])
    decision = ConsensusDecision(
        recording_id=recording.id or 0,
        annotation_id=segment.id if segment else None,
        kind=kind,
        start_ms=start_ms,
        end_ms=end_ms,
        sources=[
            {
                "coder": names.get(s.author_id or 0, ""),
                "start_ms": s.start_ms,
                "end_ms": s.end_ms,
                "codes": [paths[c] for c in codes_of.get(s.id or 0, []) if c in paths],
            }
            for s in sources
        ],
        decided_by=user.id,
    )
    session.add(decision)
    session.flush()
    session.add_all(
        ConsensusSource(decision_id=decision.id or 0, annotation_id=s.id or 0) for s in sources
    )
    session.flush()
    return _view(decision, user.display_name or user.username, [s.id or 0 for s in sources])


def _sources(session: Session, recording: Recording, ids: list[int]) -> list[Annotation]:
    """The coders' segments named: shared ones of this recording, on a coding layer."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = {
        a.id: a
        for a in session.exec(
            select(Annotation).where(
                col(Annotation.id).in_(wanted),
                Annotation.recording_id == recording.id,
                col(Annotation.shared).is_(True),
            )
        ).all()
    }
    for annotation_id in wanted:
        annotation = found.get(annotation_id)
        if annotation is None:
            raise Invalid(f"Aucun segment n° {annotation_id} sur cet enregistrement.")
        if annotation.layer not in SOURCE_LAYERS or annotation.end_ms is None:
            raise Invalid(
                f"L'annotation n° {annotation_id} n'est pas un segment codé d'un codeur "
                "(schèmes, phases ou catégories)."
            )
    return [found[i] for i in wanted]


def _view(decision: ConsensusDecision, name: str, source_ids: list[int]) -> DecisionView:
    return DecisionView(
        id=decision.id or 0,
        recording_id=decision.recording_id,
        kind=decision.kind,
        start_ms=decision.start_ms,
        end_ms=decision.end_ms,
        annotation_id=decision.annotation_id,
        sources=decision.sources,
        decided_by=decision.decided_by,
        decided_by_name=name,
        decided_at=decision.decided_at,
        source_ids=tuple(source_ids),
    )


def list_decisions(session: Session, recording_id: int) -> list[DecisionView]:
    """The recording's decisions, in time order."""
    decisions = session.exec(
        select(ConsensusDecision)
        .where(ConsensusDecision.recording_id == recording_id)
        .order_by(col(ConsensusDecision.start_ms), col(ConsensusDecision.id))
    ).all()
    names = annotations.user_names(session, [d.decided_by for d in decisions])
    linked: dict[int, list[int]] = {}
    for decision_id, annotation_id in session.exec(
        select(ConsensusSource.decision_id, ConsensusSource.annotation_id).where(
            col(ConsensusSource.decision_id).in_([d.id for d in decisions])
        )
    ).all():
        linked.setdefault(decision_id, []).append(annotation_id)
    return [
        _view(d, names.get(d.decided_by or 0, ""), sorted(linked.get(d.id or 0, [])))
        for d in decisions
    ]


def undo(session: Session, recording: Recording, decision_id: int) -> None:
    """Take a decision back: the decision and the consensus segment it wrote."""
    decision = session.get(ConsensusDecision, decision_id)
    if decision is None or decision.recording_id != recording.id:
        raise NotFound(f"Aucune décision n° {decision_id} sur cet enregistrement.")
    segment = decision.annotation_id
    if segment is not None:
        annotations.check_unanswered(session, segment)
    session.delete(decision)
    session.flush()
    if segment is not None:  # its codes go with it (ON DELETE CASCADE)
        session.exec(delete(Annotation).where(col(Annotation.id) == segment))


def settled(
    decisions: list[DecisionView], segments: Iterable[int], start_ms: int, end_ms: int
) -> list[DecisionView]:
    """The decisions that settle a stretch where two codings differ: made from one of its
    segments (`segments`, the two coders' there), or, made from none, over its time."""
    wanted = set(segments)
    return [
        d
        for d in decisions
        if (wanted & set(d.source_ids))
        or (not d.source_ids and d.start_ms < end_ms and d.end_ms > start_ms)
    ]


@dataclass(frozen=True)
class Agreement:
    """Two coders' segments that agree (matched, the same codes), and the span a consensus
    segment takes from them: both, less the edges decided to bear no code."""

    sources: tuple[int, int]
    start_ms: int
    end_ms: int


def agreements(
    session: Session,
    recording: Recording,
    coders: tuple[int, int],
    layer: str,
    threshold: float = unitizing.DEFAULT_OVERLAP_THRESHOLD,
) -> list[Agreement]:
    """The agreements of two coders not decided on yet: segments matched one-to-one
    (overlap / extent >= threshold) with exactly the same codes, neither of them kept,
    merged or rewritten by a decision already (a `none` decision made from one of them
    only trims the span where it says no code belongs)."""
    paths = comparison.compared_paths(session, recording.study_id, layer)
    a, b = (comparison.recording_codings(session, recording, c, layer, paths) for c in coders)
    codes: dict[int | None, set[str]] = {}
    spans: dict[int | None, tuple[int, int]] = {}
    for coded in (*a, *b):
        codes.setdefault(coded.annotation_id, set()).add(coded.code)
        spans[coded.annotation_id] = (coded.start_ms, coded.end_ms)
    decisions = list_decisions(session, recording.id or 0)
    written = {i for d in decisions if d.kind != "none" for i in d.source_ids}
    nothing = [d for d in decisions if d.kind == "none"]
    found: list[Agreement] = []
    taken: set[int] = set()  # a segment with several codes is matched once per code
    for x, y in unitizing.match_segments(a, b, threshold).pairs:
        first, second = x.annotation_id, y.annotation_id
        if first is None or second is None or {first, second} & (written | taken):
            continue
        if codes[first] != codes[second]:
            continue
        start = min(spans[first][0], spans[second][0])
        end = max(spans[first][1], spans[second][1])
        for d in nothing:  # an edge decided to bear no code is left out
            if d.start_ms <= start < d.end_ms:
                start = d.end_ms
            if d.start_ms < end <= d.end_ms:
                end = d.start_ms
        if start < end:
            found.append(Agreement((first, second), start, end))
            taken |= {first, second}
    return found


def adopt_agreements(
    session: Session,
    recording: Recording,
    user: User,
    coders: tuple[int, int],
    layer: str,
    threshold: float = unitizing.DEFAULT_OVERLAP_THRESHOLD,
) -> list[DecisionView]:
    """Every agreement not yet decided becomes a consensus segment at once (a `merge` of
    the two segments: it spans both, with their codes), so that the researchers are left
    with the disagreements only."""
    rounds.check_revealed(session, recording.id or 0, coders, layer)
    return [
        decide(
            session,
            recording,
            user,
            kind="merge",
            source_ids=list(found.sources),
            start_ms=found.start_ms,
            end_ms=found.end_ms,
        )
        for found in agreements(session, recording, coders, layer, threshold)
    ]
