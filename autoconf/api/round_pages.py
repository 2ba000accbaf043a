"""The forms of the coding rounds, on the study page (start, end) and the recording page
(mark one's coding done); they answer by going back to the page they came from."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from autoconf.api.deps import CurrentUser, ManagedStudyDep, RoundDep, SessionDep, actor, write
from autoconf.api.rounds import finish, start
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import parse_id
from autoconf.errors import Invalid
from autoconf.i18n import gettext as _
from autoconf.payloads import CodingRoundCreate
from autoconf.schemes import rounds

router = IndexedRouter(include_in_schema=False)


def _ids(values: list[str]) -> list[int]:
    return [
        parse_id(value, _("« {value} » n'est pas un numéro.").format(value=value[:20]))
        for value in values
    ]


@router.post("/studies/{study_id}/rounds")
async def start_round_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    layer: Annotated[str, Form()] = "schemes",
    blind: Annotated[str, Form()] = "",
    recording_ids: Annotated[list[str] | None, Form()] = None,
    coder_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The study page's "Commencer un tour de codage"."""
    recordings = _ids(recording_ids or [])
    coders = _ids(coder_ids or [])
    if len(set(coders)) < 2:
        raise Invalid(_("Cochez au moins deux codeurs."))
    if not recordings:
        raise Invalid(_("Cochez au moins un enregistrement à coder."))
    try:
        body = CodingRoundCreate(
            name=name,
            layer=layer,
            blind=blind == "true",
            recording_ids=recordings,
            coder_ids=coders,
        )
    except ValidationError:
        raise Invalid(
            _("Donnez un nom au tour (300 caractères au plus) et choisissez sa couche.")
        ) from None
    await write(request, session, start, session, study, user, body)
    return RedirectResponse(f"/studies/{study.id}#tours", status_code=303)


@router.post("/rounds/{round_id}/done")
async def mark_done_form(
    request: Request,
    coding_round: RoundDep,
    user: CurrentUser,
    session: SessionDep,
    done: Annotated[str, Form()] = "true",
    recording_id: Annotated[str, Form()] = "",
) -> Response:
    """\"J'ai terminé mon codage\" (or "Reprendre mon codage"), on the study or recording page."""
    view = await write(
        request,
        session,
        rounds.mark_done,
        session,
        coding_round.id or 0,
        user.id or 0,
        done == "true",
    )
    if recording_id.isdigit() and int(recording_id) in view.recording_ids:
        return RedirectResponse(f"/recordings/{recording_id}#tour", status_code=303)
    return RedirectResponse(f"/studies/{coding_round.study_id}#tours", status_code=303)


@router.post("/rounds/{round_id}/end")
async def end_round_form(
    request: Request, coding_round: RoundDep, user: CurrentUser, session: SessionDep
) -> Response:
    """The study page's "Arrêter le tour" (its creator)."""
    await write(request, session, finish, session, coding_round, user, actor(request, user))
    return RedirectResponse(f"/studies/{coding_round.study_id}#tours", status_code=303)
