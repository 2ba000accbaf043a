"""The account pages: one's password and API tokens (`/account`), and the administrators'
list of accounts, to disable or enable them (`/users`)."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from autoconf.api.auth import change_password_of, new_api_token, revoke_api_token
from autoconf.api.deps import CurrentUser, PathId, SessionDep
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.api.users import set_account_active
from autoconf.auth import accounts
from autoconf.errors import Invalid
from autoconf.payloads import PasswordChange, TokenCreate
from autoconf.studies import access

router = IndexedRouter(include_in_schema=False)
Password = Annotated[str, Form(max_length=1024)]


def _account(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    status_code: int = 200,
    **context: object,
) -> Response:
    tokens = accounts.list_api_tokens(session, user)
    return render(request, "account.html", status_code, tokens=tokens, **context)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    done = request.query_params.get("done")
    return _account(request, user, session, done=done)


@router.post("/account/password", response_class=HTMLResponse)
async def password_form(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    current_password: Password = "",
    new_password: Password = "",
    confirmation: Password = "",
) -> Response:
    """Errors come back on the page, in French; nothing typed is shown again."""
    try:
        if new_password != confirmation:
            raise Invalid("Les deux saisies du nouveau mot de passe diffèrent.")
        if not current_password or not new_password:
            raise Invalid("Tapez le mot de passe actuel et le nouveau.")
        body = PasswordChange(current_password=current_password, new_password=new_password)
        await change_password_of(request, session, user, body)
    except Invalid as error:
        return _account(request, user, session, 422, password_error=str(error))
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/tokens", response_class=HTMLResponse)
async def token_form(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_in_days: Annotated[int, Form(ge=1, le=365)] = 90,
) -> Response:
    """The new token is shown on this answer only (never stored in clear)."""
    body = TokenCreate(name=name.strip(), expires_in_days=expires_in_days)
    created = await new_api_token(request, session, user, body)
    return _account(request, user, session, 201, created=created)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_form(
    request: Request, token_id: PathId, user: CurrentUser, session: SessionDep
) -> Response:
    await revoke_api_token(request, session, user, token_id)
    return RedirectResponse("/account?done=revoked", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    access.require_admin(user)
    return render(request, "users.html", accounts=accounts.list_users(session))


@router.post("/users/{user_id}/active")
async def active_form(
    request: Request,
    user_id: PathId,
    user: CurrentUser,
    session: SessionDep,
    is_active: Annotated[str, Form()] = "",
) -> Response:
    access.require_admin(user)
    if is_active not in ("true", "false"):
        raise Invalid("is_active : true ou false.")
    await set_account_active(request, session, user, user_id, is_active == "true")
    return RedirectResponse("/users", status_code=303)
