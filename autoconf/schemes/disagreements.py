"""What the disagreement view of a recording shows: which coders to compare by default, the
stretches where their codings differ, each with the decisions that settled it, and how many
agreements are left to adopt at once."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from autoconf.errors import Conflict
from autoconf.i18n import gettext as _
from autoconf.models import Recording
from autoconf.schemes import comparison, consensus, rounds
from autoconf.schemes.annotations import AnnotationView


@dataclass(frozen=True)
class Stretch:
    disagreement: comparison.Disagreement
    settled: list[consensus.DecisionView]  # empty: still to settle


@dataclass(frozen=True)
class Review:
    """Two codings of a recording compared, for the researchers who settle them."""

    result: comparison.Comparison | None
    refused: str  # why there is no comparison (not processed, a blind round), else ""
    stretches: list[Stretch]
    agreements: int  # agreements not decided on yet (`consensus.agreements`)
    blind: bool = False  # refused because a blind round still hides a coder

    @property
    def open(self) -> int:
        return sum(not s.settled for s in self.stretches)


def default_coders(
    session: Session,
    recording: Recording,
    views: Iterable[AnnotationView],
    layer: str,
    members: Iterable[int],
) -> list[int]:
    """The coders to offer, in order: those of a round on the recording and layer first
    (while it is blind, the page then says so rather than that a coder is missing), then
    the members with segments on `layer` among `views`, most segments first."""
    known = set(members)
    counts: dict[int, int] = {}
    for v in views:
        if v.layer == layer and v.end_ms is not None and v.author_id in known:
            counts[v.author_id] = counts.get(v.author_id, 0) + 1
    ordered = sorted(counts, key=lambda author: -counts[author])
    for view in rounds.open_rounds_of(session, recording.id or 0):
        if view.layer == layer:
            ours = [c.user_id for c in view.coders if c.user_id in known]
            return ours + [c for c in ordered if c not in ours]
    return ordered


def review(session: Session, recording: Recording, pair: tuple[int, int], layer: str) -> Review:
    """The two coders' codings of the recording compared, with the consensus so far."""
    if recording.duration_ms is None:
        return Review(None, _("L'enregistrement n'est pas encore traité : rien à comparer."), [], 0)
    try:
        result = comparison.compare(session, [recording], pair, layer)
    except Conflict as error:  # a blind round still hides a coder
        return Review(None, str(error), [], 0, blind=True)
    decisions = consensus.list_decisions(session, recording.id or 0)
    stretches = [
        Stretch(
            d, consensus.settled(decisions, [*d.segments_a, *d.segments_b], d.start_ms, d.end_ms)
        )
        for d in result.disagreements
    ]
    left = len(consensus.agreements(session, recording, pair, layer))
    return Review(result, "", stretches, left)
