"""Consent per recording: record, list, withdraw (API)."""

from typing import Annotated

from fastapi import Body, Request, status
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedConsentDep,
    ManagedRecordingDep,
    RecordingDep,
    SessionDep,
    actor,
    write,
)
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.consent import records as consent
from autoconf.models import Recording
from autoconf.payloads import ConsentCreate, ConsentPublic, ConsentWithdraw

router = IndexedRouter(prefix="/api/v1", tags=["consents"])


def forget_grants(request: Request, recording_id: int) -> None:
    """A withdrawal takes effect at the next media request, cached grants included."""
    request.app.state.media_grants.forget(recording_id)


def _give(
    session: Session, recording: Recording, who: audit_log.Actor, body: ConsentCreate
) -> ConsentPublic:
    given = consent.give(session, recording, who, body.party, body.scopes, body.given_on)
    return ConsentPublic.model_validate(given)


def _withdraw(
    session: Session, consent_id: int, who: audit_log.Actor, body: ConsentWithdraw
) -> ConsentPublic:
    return ConsentPublic.model_validate(
        consent.withdraw(session, consent_id, who, body.withdrawn_on)
    )


@router.post("/recordings/{recording_id}/consents", status_code=status.HTTP_201_CREATED)
async def give_consent(
    request: Request,
    recording: ManagedRecordingDep,
    body: ConsentCreate,
    user: CurrentUser,
    session: SessionDep,
) -> ConsentPublic:
    """Record what one party (`counsellor` or `beneficiary`) agreed to, from the day given:
    `research`, `training` or both. One consent in force per party: withdraw it to record
    another. Researchers of the study only."""
    given: ConsentPublic = await write(
        request, session, _give, session, recording, actor(request, user), body
    )
    return given


@router.get("/recordings/{recording_id}/consents")
def list_consents(recording: RecordingDep, session: SessionDep) -> list[ConsentPublic]:
    """The recording's consents, withdrawn ones included, oldest first."""
    return [
        ConsentPublic.model_validate(c) for c in consent.of_recording(session, recording.id or 0)
    ]


@router.post("/consents/{consent_id}/withdraw")
async def withdraw_consent(
    request: Request,
    found: ManagedConsentDep,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[ConsentWithdraw | None, Body()] = None,
) -> ConsentPublic:
    """End a consent (today, or on `withdrawn_on`): at once, the recording stops playing
    (if its study requires consent) and its clips stop. Researchers of the study only."""
    who = actor(request, user)
    withdrawn: ConsentPublic = await write(
        request, session, _withdraw, session, found.id or 0, who, body or ConsentWithdraw()
    )
    forget_grants(request, found.recording_id)
    return withdrawn
