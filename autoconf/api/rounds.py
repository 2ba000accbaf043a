"""Coding rounds (issue 18): start one on a study's recordings, follow it, mark one's coding
done; blind rounds hold each coder's segments until every coder is done."""

import anyio.to_thread
from fastapi import Request, status
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, ManagedStudyDep, RoundDep, SessionDep, actor, write
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.models import CodingRound, Study, User
from autoconf.payloads import CodingRoundCreate, CodingRoundDone, CodingRoundPublic
from autoconf.schemes import rounds

router = IndexedRouter(prefix="/api/v1", tags=["coding rounds"])


def public(view: rounds.RoundView) -> CodingRoundPublic:
    return CodingRoundPublic.model_validate(
        {**view.__dict__, "open": view.open, "coders": [c.__dict__ for c in view.coders]}
    )


def start(session: Session, study: Study, user: User, body: CodingRoundCreate) -> rounds.RoundView:
    return rounds.start_round(
        session,
        study.id or 0,
        user.id or 0,
        name=body.name,
        recording_ids=body.recording_ids,
        coder_ids=body.coder_ids,
        blind=body.blind,
        layer=body.layer,
    )


@router.post(
    "/studies/{study_id}/rounds",
    status_code=status.HTTP_201_CREATED,
    responses=documented(401, 403, 404, 409, 422),
)
async def start_round(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    body: CodingRoundCreate,
) -> CodingRoundPublic:
    """Start a coding round (researchers): its coders code these recordings on `layer`; a
    blind round hides each coder's segments of the round from the others (and from everyone
    else) until every coder has marked their coding done. 409 when a recording is already in
    an open round on that layer."""
    return public(await write(request, session, start, session, study, user, body))


@router.get("/studies/{study_id}/rounds", responses=documented(401, 403, 404))
async def list_rounds(study: ManagedStudyDep, session: SessionDep) -> list[CodingRoundPublic]:
    """The study's coding rounds, the open ones first (researchers)."""
    views = await anyio.to_thread.run_sync(rounds.list_rounds, session, study.id or 0)
    return [public(view) for view in views]


@router.get("/rounds/{round_id}", responses=documented(401, 404))
async def get_round(coding_round: RoundDep, session: SessionDep) -> CodingRoundPublic:
    """A coding round: its coders, who is done, its recordings."""
    return public(await anyio.to_thread.run_sync(rounds.get_round, session, coding_round.id or 0))


@router.post("/rounds/{round_id}/done", responses=documented(401, 403, 404, 409, 422))
async def mark_done(
    request: Request,
    coding_round: RoundDep,
    user: CurrentUser,
    session: SessionDep,
    body: CodingRoundDone,
) -> CodingRoundPublic:
    """The signed-in coder marks their coding of the round done (`done: false` takes it back
    before the round is revealed); when the last coder is done, the round is revealed."""
    view = await write(
        request, session, rounds.mark_done, session, coding_round.id or 0, user.id or 0, body.done
    )
    return public(view)


def finish(
    session: Session, coding_round: CodingRound, user: User, who: audit_log.Actor
) -> rounds.RoundView:
    view = rounds.end_round(session, coding_round.id or 0, user)
    audit_log.record(
        session,
        who,
        audit_log.ROUND_ENDED,
        study_id=coding_round.study_id,
        object_type="coding_round",
        object_id=coding_round.id,
        waiting=[c.user_id for c in view.coders if c.done_at is None],
    )
    return view


@router.post("/rounds/{round_id}/end", responses=documented(401, 403, 404, 409))
async def end_round(
    request: Request, coding_round: RoundDep, user: CurrentUser, session: SessionDep
) -> CodingRoundPublic:
    """Its creator ends a round before every coder is done (a coder left, say): it is
    revealed as it stands, and the audit log says so."""
    view = await write(request, session, finish, session, coding_round, user, actor(request, user))
    return public(view)
