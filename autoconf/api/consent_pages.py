"""The recording page's consent forms: record one, withdraw one (without JavaScript)."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, select

from autoconf.api.consents import forget_grants
from autoconf.api.deps import (
    CurrentUser,
    ManagedConsentDep,
    ManagedRecordingDep,
    SessionDep,
    actor,
    write,
)
from autoconf.api.routing import IndexedRouter
from autoconf.consent import records as consent
from autoconf.errors import Invalid
from autoconf.models import Consent, Recording, User

router = IndexedRouter(include_in_schema=False)

# What a date field sends (ISO), or what a French user types where it is plain text.
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FRENCH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class ConsentRow:
    """A consent as the recording page lists it: with the names of who recorded it."""

    consent: Consent
    recorded_by: str
    withdrawn_by: str


def consent_context(session: Session, recording: Recording) -> dict[str, Any]:
    """What the recording page shows of the consents (`consents`, `today`)."""
    found = consent.of_recording(session, recording.id or 0)
    ids = {i for c in found for i in (c.recorded_by, c.withdrawn_by) if i is not None}
    names = {
        user_id: display_name or username
        for user_id, display_name, username in session.exec(
            select(User.id, User.display_name, User.username).where(col(User.id).in_(ids))
        ).all()
    }

    def name(user_id: int | None) -> str:
        return names.get(user_id, "—") if user_id is not None else "—"

    rows = [ConsentRow(c, name(c.recorded_by), name(c.withdrawn_by)) for c in found]
    return {"consents": rows, "today": date.today().isoformat()}


def _day(text: str, what: str) -> date:
    iso, french = _ISO.match(text.strip()), _FRENCH.match(text.strip())
    try:
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        if french:
            return date(int(french[3]), int(french[2]), int(french[1]))
    except ValueError:
        pass
    raise Invalid(f"{what} : une date est attendue (jour/mois/année), par exemple 14/03/2025.")


def _back(recording_id: int) -> Response:
    return RedirectResponse(f"/recordings/{recording_id}#consentements", status_code=303)


@router.post("/recordings/{recording_id}/consents")
async def give_consent_form(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    party: Annotated[str, Form(max_length=32)] = "",
    scopes: Annotated[list[str] | None, Form(max_length=10)] = None,
    given_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The recording page's "Enregistrer le consentement"."""
    day = _day(given_on, "Date du consentement")
    give = consent.give
    who = actor(request, user)
    await write(request, session, give, session, recording, who, party, scopes or [], day)
    return _back(recording.id or 0)


@router.post("/consents/{consent_id}/withdraw")
async def withdraw_consent_form(
    request: Request,
    found: ManagedConsentDep,
    user: CurrentUser,
    session: SessionDep,
    withdrawn_on: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """The recording page's "Retirer" of a consent: the media stops at once."""
    day = _day(withdrawn_on, "Date du retrait") if withdrawn_on.strip() else None
    who = actor(request, user)
    await write(request, session, consent.withdraw, session, found.id or 0, who, day)
    forget_grants(request, found.recording_id)
    return _back(found.recording_id)
