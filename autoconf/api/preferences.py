"""The signed-in user's preferences, set from the pages: the interface language."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from autoconf.api.deps import CurrentUser, SessionDep, write
from autoconf.api.errors import back_to
from autoconf.api.routing import IndexedRouter
from autoconf.auth import accounts
from autoconf.errors import Invalid
from autoconf.i18n import LANGUAGES

router = IndexedRouter(include_in_schema=False)

# In both languages: a sender of an unknown one did not come from the page's list.
UNKNOWN_LANGUAGE = (
    "Langue inconnue : choisissez Français ou English. "
    "/ Unknown language: choose Français or English."
)


@router.post("/me/language")
async def language_form(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    language: Annotated[str, Form()] = "",
) -> Response:
    """The header's language switch: remembered for the account, then back to the page."""
    if language not in LANGUAGES:
        raise Invalid(UNKNOWN_LANGUAGE)
    changes = {"language": language}
    await write(request, session, accounts.update_preferences, session, user, changes)
    return RedirectResponse(back_to(request), status_code=303)
