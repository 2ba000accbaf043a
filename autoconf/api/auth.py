"""Login, logout, the current user and their personal API tokens."""

from datetime import timedelta

import anyio.to_thread
from fastapi import APIRouter, Request, Response, status
from sqlmodel import Session

from autoconf.api.deps import (
    SESSION_COOKIE,
    CurrentUser,
    PathId,
    SessionDep,
    SettingsDep,
    write,
)
from autoconf.api.media import grant_key
from autoconf.auth import accounts
from autoconf.auth.accounts import API, SESSION
from autoconf.models import User
from autoconf.payloads import (
    LoginRequest,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserPublic,
    UserUpdate,
)
from autoconf.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def open_session(response: Response, settings: Settings, clear_token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        clear_token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


async def log_in(
    request: Request, session: Session, settings: Settings, username: str, password: str
) -> tuple[UserPublic, str]:
    """Check the password (slow by design, so outside the write lock), then open a session."""
    user = await anyio.to_thread.run_sync(
        accounts.authenticate,
        session,
        username,
        password,
        limiter=request.app.state.password_limiter,
    )
    lifetime = timedelta(days=settings.session_days)
    _, clear = await write(
        request, session, accounts.issue_token, session, user, SESSION, "", lifetime
    )
    return UserPublic.model_validate(user), clear


@router.post("/auth/login")
async def login(
    request: Request,
    body: LoginRequest,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> UserPublic:
    """Check the password and set the session cookie used by the pages."""
    user, clear = await log_in(request, session, settings, body.username, body.password)
    open_session(response, settings, clear)
    return user


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, session: SessionDep) -> None:
    """End the browser session (its cookie stops working at once)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await write(request, session, accounts.revoke_token, session, cookie)
        request.app.state.media_grants.forget_credential(grant_key(accounts.SESSION, cookie))
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/me")
async def update_me(
    request: Request, body: UserUpdate, user: CurrentUser, session: SessionDep
) -> UserPublic:
    """Your display name, interface language (null: the default) and reaction offset."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    updated = await write(request, session, accounts.update_preferences, session, user, changes)
    return UserPublic.model_validate(updated)


def _new_token(session: Session, user: User, name: str) -> TokenCreated:
    token, clear = accounts.issue_token(session, user, API, name=name)
    assert token.id is not None
    return TokenCreated(id=token.id, name=token.name, token=clear)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(
    request: Request, body: TokenCreate, user: CurrentUser, session: SessionDep
) -> TokenCreated:
    """A personal API token for scripts; the token is shown in this answer only."""
    return await write(request, session, _new_token, session, user, body.name)


@router.get("/me/tokens")
def list_tokens(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in accounts.list_api_tokens(session, user)]


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(
    request: Request, token_id: PathId, user: CurrentUser, session: SessionDep
) -> None:
    await write(request, session, accounts.delete_api_token, session, user, token_id)
    request.app.state.media_grants.clear()
