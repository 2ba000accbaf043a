"""The erasure pages: what will go, confirmed by typing the recording's code (or the study's
name); then the erasure, and back to the study (or the studies) with a confirmation."""

from typing import Annotated

import anyio.to_thread
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from autoconf.api.deps import (
    CurrentUser,
    ManagedRecordingDep,
    SessionDep,
    SettingsDep,
    StudyDep,
    actor,
    write,
)
from autoconf.api.erasure import disposing
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.media.store import store_for
from autoconf.models import Recording, Study
from autoconf.settings import Settings
from autoconf.studies import access, erasure

router = IndexedRouter(include_in_schema=False)

Confirmation = Annotated[str, Form(max_length=300)]


def _recording_page(
    request: Request,
    session: SessionDep,
    settings: Settings,
    recording: Recording,
    status_code: int = 200,
) -> Response:
    study = session.get(Study, recording.study_id)
    contents = erasure.recording_contents(session, store_for(settings), recording)
    return render(
        request,
        "erase.html",
        status_code,
        kind="recording",
        study=study,
        recording=recording,
        contents=contents,
        wrong=status_code != 200,
    )


def _study_page(
    request: Request,
    session: SessionDep,
    settings: Settings,
    study: Study,
    status_code: int = 200,
) -> Response:
    contents = erasure.study_contents(session, store_for(settings), study)
    return render(
        request,
        "erase.html",
        status_code,
        kind="study",
        study=study,
        contents=contents,
        wrong=status_code != 200,
    )


@router.get("/recordings/{recording_id}/erase", response_class=HTMLResponse)
async def erase_recording_page(
    request: Request, recording: ManagedRecordingDep, session: SessionDep, settings: SettingsDep
) -> Response:
    return await anyio.to_thread.run_sync(_recording_page, request, session, settings, recording)


@router.post("/recordings/{recording_id}/erase")
async def erase_recording_form(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    confirmation: Confirmation = "",
) -> Response:
    """Erase once the code typed is the recording's (checked again under the lock: a
    rename meanwhile refuses); else the page again, nothing erased."""
    if not erasure.matches(confirmation, recording.code):
        return await anyio.to_thread.run_sync(
            _recording_page, request, session, settings, recording, 422
        )
    study_id = recording.study_id
    async with disposing(request, session, settings) as disposal:
        await write(
            request,
            session,
            erasure.erase_recording,
            session,
            disposal,
            actor(request, user),
            recording.id or 0,
            confirmation,
        )
    return RedirectResponse(f"/studies/{study_id}?erased=recording", status_code=303)


@router.get("/studies/{study_id}/erase", response_class=HTMLResponse)
async def erase_study_page(
    request: Request, study: StudyDep, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    access.require_admin(user)
    return await anyio.to_thread.run_sync(_study_page, request, session, settings, study)


@router.post("/studies/{study_id}/erase")
async def erase_study_form(
    request: Request,
    study: StudyDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    confirmation: Confirmation = "",
) -> Response:
    """Erase once the name typed is the study's; else the page again, nothing erased."""
    access.require_admin(user)
    if not erasure.matches(confirmation, study.name):
        return await anyio.to_thread.run_sync(_study_page, request, session, settings, study, 422)
    async with disposing(request, session, settings) as disposal:
        await write(
            request,
            session,
            erasure.erase_study,
            session,
            disposal,
            actor(request, user),
            study.id or 0,
            confirmation,
        )
    return RedirectResponse("/studies?erased=study", status_code=303)
