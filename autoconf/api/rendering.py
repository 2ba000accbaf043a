"""Rendering a page (Jinja2) in the user's language."""

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from autoconf.i18n import set_language


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """A page, in the user's language (rendered in the calling thread, whose context it sets)."""
    user = getattr(request.state, "user", None)
    context.setdefault("user", user)
    set_language((user.language if user else None) or request.app.state.settings.default_language)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, context, status_code=status_code
    )
