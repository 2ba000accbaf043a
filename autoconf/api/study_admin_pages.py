"""The study page's administration forms: its confidentiality settings, taking a member out."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from autoconf.api.deps import CurrentUser, ManagedStudyDep, PathId, SessionDep, actor
from autoconf.api.studies import remove_member_from, update_study_settings

router = APIRouter(include_in_schema=False)


@router.post("/studies/{study_id}/settings")
async def settings_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    consent_required: Annotated[str, Form()] = "",
    co_validation: Annotated[str, Form()] = "",
    code_pattern: Annotated[str, Form(max_length=200)] = "",
    code_example: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Unchecked boxes are not sent: absent means off."""
    changes = {
        "consent_required": consent_required == "true",
        "co_validation": co_validation == "true",
        "code_pattern": code_pattern.strip(),
        "code_example": code_example.strip(),
    }
    await update_study_settings(request, session, study.id or 0, changes, actor(request, user))
    return RedirectResponse(f"/studies/{study.id}#confidentialite", status_code=303)


@router.post("/studies/{study_id}/members/{user_id}/remove")
async def remove_member_form(
    request: Request,
    user_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    await remove_member_from(request, session, study.id or 0, user_id, actor(request, user))
    return RedirectResponse(f"/studies/{study.id}#membres", status_code=303)
