"""The signed-in user's preferences, set from the pages: the interface language."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from autoconf.api.deps import CurrentUser, SessionDep, write
from autoconf.auth import accounts
from autoconf.errors import Invalid
from autoconf.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)

# In both languages: a sender of an unknown one did not come from the page's list.
UNKNOWN_LANGUAGE = (
    "Langue inconnue : choisissez Français ou English. "
    "/ Unknown language: choose Français or English."
)


def _back(request: Request) -> str:
    """The page the choice was made on (this site's paths only), else the studies."""
    referer = urlsplit(request.headers.get("referer", ""))
    path = referer.path
    same_site = (referer.scheme, referer.netloc) == ("", "") or (
        referer.scheme in ("http", "https") and referer.netloc == request.url.netloc
    )
    if not same_site or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/studies"
    return path + (f"?{referer.query}" if referer.query else "")


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
    return RedirectResponse(_back(request), status_code=303)
