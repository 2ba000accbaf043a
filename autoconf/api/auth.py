"""Login, logout, the current user and their personal API tokens."""

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from sqlmodel import col, select

from autoconf.api.deps import (
    SESSION_COOKIE,
    CurrentUser,
    SessionDep,
    SettingsDep,
    WriteSessionDep,
)
from autoconf.auth import accounts
from autoconf.errors import NotFound
from autoconf.models import AuthToken
from autoconf.payloads import LoginRequest, TokenCreate, TokenCreated, UserPublic
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


@router.post("/auth/login")
def login(
    body: LoginRequest, response: Response, session: WriteSessionDep, settings: SettingsDep
) -> UserPublic:
    """Check the password and set the session cookie used by the pages."""
    user = accounts.authenticate(session, body.username, body.password)
    _, clear = accounts.issue_token(
        session, user, accounts.SESSION, lifetime=timedelta(days=settings.session_days)
    )
    open_session(response, settings, clear)
    return UserPublic.model_validate(user)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, response: Response, session: WriteSessionDep) -> None:
    """End the browser session (its cookie stops working at once)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.revoke_token(session, cookie)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, user: CurrentUser, session: WriteSessionDep) -> TokenCreated:
    """A personal API token for scripts; the token is shown in this answer only."""
    token, clear = accounts.issue_token(session, user, accounts.API, name=body.name)
    assert token.id is not None
    return TokenCreated(id=token.id, name=token.name, token=clear)


@router.get("/me/tokens")
def list_tokens(user: CurrentUser, session: SessionDep) -> list[dict[str, object]]:
    tokens = session.exec(
        select(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.kind == accounts.API)
        .order_by(col(AuthToken.id))
    ).all()
    return [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in tokens]


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(token_id: int, user: CurrentUser, session: WriteSessionDep) -> None:
    token = session.get(AuthToken, token_id)
    if token is None or token.user_id != user.id or token.kind != accounts.API:
        raise NotFound(f"Aucun jeton n° {token_id}.")
    session.delete(token)
