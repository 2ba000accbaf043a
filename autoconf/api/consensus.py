"""Consensus decisions on a recording (issue 18): settle a disagreement between codings by
keeping one side, merging, writing a new segment, or no code; take a decision back."""

import anyio.to_thread
from fastapi import Request, Response, status
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, ManagedRecordingDep, PathId, SessionDep, write
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.errors import Invalid
from autoconf.models import Recording, User
from autoconf.payloads import ConsensusAdopt, ConsensusCreate, ConsensusDecisionPublic
from autoconf.schemes import consensus, rounds

router = IndexedRouter(prefix="/api/v1", tags=["agreement"])


def _decide(
    session: Session, recording: Recording, user: User, body: ConsensusCreate
) -> consensus.DecisionView:
    return consensus.decide(
        session,
        recording,
        user,
        kind=body.kind,
        source_ids=body.source_ids,
        start_ms=body.start_ms,
        end_ms=body.end_ms,
        code_ids=body.code_ids,
        note=body.note,
    )


@router.get("/recordings/{recording_id}/consensus", responses=documented(401, 403, 404))
async def list_decisions(
    recording: ManagedRecordingDep, session: SessionDep
) -> list[ConsensusDecisionPublic]:
    """The consensus decisions on a recording, in time order: what, who, when, from what."""
    views = await anyio.to_thread.run_sync(consensus.list_decisions, session, recording.id or 0)
    return [ConsensusDecisionPublic.model_validate(v) for v in views]


@router.post(
    "/recordings/{recording_id}/consensus",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 404, 409, 422),
)
async def decide(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    body: ConsensusCreate,
) -> ConsensusDecisionPublic:
    """Settle a disagreement (researchers): the decision and, but for `none`, its segment on
    the consensus layer, with who decided, when, and from which segments."""
    view = await write(request, session, _decide, session, recording, user, body)
    return ConsensusDecisionPublic.model_validate(view)


def _adopt(
    session: Session, recording: Recording, user: User, body: ConsensusAdopt
) -> list[consensus.DecisionView]:
    first, second = body.coder_ids
    if first == second:
        raise Invalid("Adopter les accords demande deux codeurs différents.")
    if missing := {first, second} - rounds.coders_among(
        session, recording.study_id, body.coder_ids
    ):
        raise Invalid(f"L'utilisateur n° {min(missing)} n'est pas chercheur de cette étude.")
    return consensus.adopt_agreements(
        session, recording, user, (first, second), body.layer, body.threshold
    )


@router.post(
    "/recordings/{recording_id}/consensus/agreements",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 404, 409, 422),
)
async def adopt_agreements(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    body: ConsensusAdopt,
) -> list[ConsensusDecisionPublic]:
    """Adopt, at once, every agreement of two coders not decided on yet (researchers): each
    pair of matched segments with the same codes becomes a consensus segment spanning both
    (a `merge`), leaving the disagreements to settle."""
    views = await write(request, session, _adopt, session, recording, user, body)
    return [ConsensusDecisionPublic.model_validate(v) for v in views]


@router.delete(
    "/recordings/{recording_id}/consensus/{decision_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(401, 403, 404),
)
async def undo(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, decision_id: PathId
) -> Response:
    """Take a decision back, with the consensus segment it wrote."""
    await write(request, session, consensus.undo, session, recording, decision_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
