"""Rendering a page (Jinja2) in the user's language."""

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from autoconf.api.deps import SESSION_COOKIE
from autoconf.auth.accounts import form_token
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


@pass_context
def csrf_token(context: Context) -> str:
    """The form token of the page's session ("" signed out), for scripts (a meta tag)."""
    cookie = context["request"].cookies.get(SESSION_COOKIE)
    return form_token(cookie) if cookie else ""


@pass_context
def csrf_field(context: Context) -> Markup:
    """The hidden field every form that posts starts with (see web_security.CrossSiteGuard)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token(context))
