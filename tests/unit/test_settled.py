"""Which consensus decisions settle a stretch where two codings differ: those made from one
of its segments; those made from none (a `new` or `none` typed by hand) by their time. A
decision on another layer's segments over the same time settles nothing here."""

from datetime import UTC, datetime

from autoconf.schemes.consensus import DecisionView, settled


def _decision(kind: str, start: int, end: int, sources: tuple[int, ...]) -> DecisionView:
    return DecisionView(
        id=len(sources) + start,
        recording_id=1,
        kind=kind,
        start_ms=start,
        end_ms=end,
        annotation_id=None,
        sources=[],
        decided_by=1,
        decided_by_name="claire",
        decided_at=datetime(2026, 12, 6, tzinfo=UTC),
        source_ids=sources,
    )


def test_a_stretch_is_settled_by_decisions_on_its_own_segments() -> None:
    phases = _decision("accept", 0, 6_000, (41,))  # another layer, same time
    schemes = _decision("accept", 0, 6_000, (7,))
    by_hand = _decision("none", 5_000, 8_000, ())
    decisions = [phases, schemes, by_hand]
    assert settled(decisions, [7, 9], 0, 4_000) == [schemes]
    assert settled(decisions, [9], 0, 4_000) == []
    assert settled(decisions, [12], 7_000, 9_000) == [by_hand]
    assert settled(decisions, [12], 8_000, 9_000) == []  # touching is not overlapping
