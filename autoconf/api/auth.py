"""Login, logout, the current user and their personal API tokens."""

from datetime import timedelta

import anyio.to_thread
from fastapi import Request, Response, status
from sqlmodel import Session

from autoconf.api.deps import (
    SESSION_COOKIE,
    CurrentUser,
    PathId,
    SessionDep,
    SettingsDep,
    actor,
    request_session,
    write,
)
from autoconf.api.media import grant_key
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.auth import accounts, throttle
from autoconf.auth.accounts import API, SESSION
from autoconf.errors import NotAuthenticated, TooManyAttempts
from autoconf.models import User
from autoconf.payloads import (
    LoginRequest,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserPublic,
    UserUpdate,
)
from autoconf.settings import Settings

router = IndexedRouter(prefix="/api/v1", tags=["accounts"])


def open_session(
    request: Request, response: Response, settings: Settings, clear_token: str
) -> None:
    """The session cookie: never read by scripts, not sent by other sites' subrequests, and
    HTTPS-only when AUTOCONF_COOKIE_SECURE says so or the request came over HTTPS (a proxy's
    X-Forwarded-Proto, which uvicorn trusts from the proxy's address)."""
    response.set_cookie(
        SESSION_COOKIE,
        clear_token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure or request.url.scheme == "https",
    )


async def log_in(
    request: Request, settings: Settings, username: str, password: str
) -> tuple[UserPublic, str]:
    """Check the password (slow by design, so outside the write lock), then open a session.
    Both outcomes go to the audit log (a failure with the name tried, not the password).

    Throttled (`auth.throttle`): one check at a time per address, none for an account or an
    address with too many recent failures (429, Retry-After, logged), and the checks of
    addresses without failures first. No database session is held while a sign-in waits for
    its check: a flood of sign-ins must not take the slots every other request needs."""
    who = actor(request, None)
    state = request.app.state
    try:
        throttle.refuse(state.login_locks.wait(username, who.address))  # known: no look-up
        async with state.login_gates.enter(who.address):
            async with request_session(request) as session:
                clean, user = await anyio.to_thread.run_sync(
                    _before_check, session, state.login_locks, who, username
                )
            try:
                async with state.login_checks.turn(clean):
                    if await request.is_disconnected():  # gone while waiting: no check
                        raise NotAuthenticated("Connexion abandonnée.")
                    new_hash = await anyio.to_thread.run_sync(
                        accounts.check_password, user, password, limiter=state.password_limiter
                    )
            except NotAuthenticated:
                async with request_session(request) as session:
                    await write(request, session, _failed, session, who, username)
                raise
    except TooManyAttempts:
        # Logged holding no other session (a flood of refusals must not wait for a second
        # slot while holding one); answered after a while: a refusal answered at once is
        # asked again at once, and a flood's refusals would take the processor a researcher's
        # sign-in needs. Waiting costs nothing.
        await _log_refusal(request, who, username)
        await anyio.sleep(throttle.REFUSAL_DELAY_S)
        raise
    assert user is not None
    lifetime = timedelta(days=settings.session_days)
    async with request_session(request) as session:
        signed_in, clear = await write(
            request, session, _open, session, request, user.id, new_hash, lifetime
        )
    return signed_in, clear


def _before_check(
    session: Session, locks: throttle.Locks, who: audit_log.Actor, username: str
) -> tuple[bool, User | None]:
    """Whether the sign-in may be tried (TooManyAttempts if not) and from a clean address;
    the account named (None: unknown), detached from the session."""
    clean = throttle.check(session, username, who.address, locks)
    user = accounts.find_user(session, username)
    if user is not None:
        session.expunge(user)
    return clean, user


async def _log_refusal(request: Request, who: audit_log.Actor, username: str) -> None:
    """A throttled sign-in in the audit log: the first per account and address each minute,
    with the number refused since."""
    refused = request.app.state.login_refusals.refused(username, who.address)
    if refused is None:
        return
    async with request_session(request) as session:
        await write(
            request,
            session,
            audit_log.record,
            session,
            who,
            audit_log.LOGIN_THROTTLED,
            tried=username[:64],
            refused=refused,
        )


def _failed(session: Session, who: audit_log.Actor, username: str) -> None:
    throttle.record_failure(session, username, who.address)
    audit_log.record(session, who, audit_log.LOGIN_FAILED, tried=username[:64])


def _open(
    session: Session,
    request: Request,
    user_id: int | None,
    new_hash: str | None,
    lifetime: timedelta,
) -> tuple[UserPublic, str]:
    """A new login session (a new id at every login); the one this browser had ends. The
    account's failed sign-ins are forgotten; an outdated hash is replaced."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:  # removed or disabled during the check
        raise NotAuthenticated("Nom d'utilisateur ou mot de passe incorrect.")
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        accounts.revoke_token(session, previous)
    throttle.forget_account(session, user.username)
    _, clear = accounts.issue_token(session, user, SESSION, "", lifetime)
    who = audit_log.Actor.of(user, actor(request, user).address, clear)
    audit_log.record(session, who, audit_log.LOGIN)
    return UserPublic.model_validate(user), clear


@router.post("/auth/login", responses=documented(429))
async def login(
    request: Request,
    body: LoginRequest,
    response: Response,
    settings: SettingsDep,
) -> UserPublic:
    """Check the password and set the session cookie used by the pages."""
    user, clear = await log_in(request, settings, body.username, body.password)
    open_session(request, response, settings, clear)
    return user


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, session: SessionDep) -> None:
    """End the browser session (its cookie stops working at once)."""
    await end_session(request, session)
    response.delete_cookie(SESSION_COOKIE)


async def end_session(request: Request, session: Session) -> None:
    """Logout (API and page): the cookie's login session ends on the server, at once."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = accounts.user_for_token(session, cookie, SESSION)
        await write(request, session, _close, session, cookie, actor(request, user))
        request.app.state.media_grants.forget_credential(grant_key(accounts.SESSION, cookie))


def _close(session: Session, cookie: str, who: audit_log.Actor) -> None:
    accounts.revoke_token(session, cookie)
    if who.user_id is not None:
        audit_log.record(session, who, audit_log.LOGOUT)


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


def _new_token(
    session: Session, user: User, body: TokenCreate, who: audit_log.Actor
) -> TokenCreated:
    lifetime = timedelta(days=body.expires_in_days)
    token, clear = accounts.issue_token(session, user, API, name=body.name, lifetime=lifetime)
    assert token.id is not None
    audit_log.record(session, who, audit_log.TOKEN_CREATED, object_type="token", object_id=token.id)
    return TokenCreated(id=token.id, name=token.name, token=clear, expires_at=token.expires_at)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
async def create_token(
    request: Request, body: TokenCreate, user: CurrentUser, session: SessionDep
) -> TokenCreated:
    """A personal API token for scripts, valid `expires_in_days` (90 by default); the token
    is shown in this answer only. List them with GET, revoke one with DELETE."""
    return await new_api_token(request, session, user, body)


async def new_api_token(
    request: Request, session: Session, user: User, body: TokenCreate
) -> TokenCreated:
    """A new API token (API and the account page)."""
    who = actor(request, user)
    return await write(request, session, _new_token, session, user, body, who)


@router.get("/me/tokens")
def list_tokens(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in accounts.list_api_tokens(session, user)]


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(
    request: Request, token_id: PathId, user: CurrentUser, session: SessionDep
) -> None:
    """Revoke a token: it stops working at once."""
    await revoke_api_token(request, session, user, token_id)


async def revoke_api_token(request: Request, session: Session, user: User, token_id: int) -> None:
    """Revoke one of the user's tokens (API and the account page)."""
    await write(request, session, _revoke, session, user, token_id, actor(request, user))
    request.app.state.media_grants.clear()


def _revoke(session: Session, user: User, token_id: int, who: audit_log.Actor) -> None:
    accounts.delete_api_token(session, user, token_id)
    audit_log.record(session, who, audit_log.TOKEN_REVOKED, object_type="token", object_id=token_id)


def _change_password(
    session: Session, user: User, new_hash: str, keep: str | None, who: audit_log.Actor
) -> None:
    accounts.replace_password(session, user, new_hash, keep)
    audit_log.record(session, who, audit_log.PASSWORD_CHANGED)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    request: Request, body: PasswordChange, user: CurrentUser, session: SessionDep
) -> None:
    """Change your password (the current one is asked again). Your other login sessions end;
    this one stays. Your API tokens stay: revoke them apart if they may have leaked."""
    await change_password_of(request, session, user, body)


async def change_password_of(
    request: Request, session: Session, user: User, body: PasswordChange
) -> None:
    """The password change (API and the account page): argon2 on the password limiter,
    outside the write lock; then the new hash and the end of the other sessions."""
    new_hash = await anyio.to_thread.run_sync(
        accounts.new_password_hash,
        user,
        body.current_password,
        body.new_password,
        limiter=request.app.state.password_limiter,
    )
    keep = request.cookies.get(SESSION_COOKIE)
    who = actor(request, user)
    await write(request, session, _change_password, session, user, new_hash, keep, who)
    request.app.state.media_grants.clear()
