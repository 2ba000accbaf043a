"""Rendering a page (Jinja2) in the user's language."""

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from autoconf.i18n import LANGUAGES, set_language


def language_of(request: Request, user: Any) -> str:
    """The language a user reads (a `User` or its public copy, or None): their account's,
    else the server's default."""
    language = (user.language if user else None) or request.app.state.settings.default_language
    return language if language in LANGUAGES else "fr"


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page, in the user's language (rendered in the calling thread, whose context it sets)."""
    user = getattr(request.state, "user", None)
    context.setdefault("user", user)
    set_language(language_of(request, user))
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status_code
    )
