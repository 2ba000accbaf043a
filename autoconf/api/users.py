"""Accounts (administrators): list them, disable or enable one."""

from fastapi import Request
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, PathId, SessionDep, actor, write
from autoconf.api.routing import IndexedRouter
from autoconf.audit import log as audit_log
from autoconf.auth import accounts
from autoconf.models import User
from autoconf.payloads import UserActive, UserPublic
from autoconf.studies import access

router = IndexedRouter(prefix="/api/v1", tags=["users"])


@router.get("/users")
def list_users(user: CurrentUser, session: SessionDep) -> list[UserPublic]:
    """Every account (administrators)."""
    access.require_admin(user)
    return [UserPublic.model_validate(u) for u in accounts.list_users(session)]


def _set_active(
    session: Session, user_id: int, active: bool, by: User, who: audit_log.Actor
) -> UserPublic:
    changed = accounts.set_active(session, user_id, active, by)
    action = audit_log.ACCOUNT_ENABLED if active else audit_log.ACCOUNT_DISABLED
    audit_log.record(session, who, action, object_type="user", object_id=user_id)
    return UserPublic.model_validate(changed)


@router.patch("/users/{user_id}")
async def set_active(
    request: Request, user_id: PathId, body: UserActive, user: CurrentUser, session: SessionDep
) -> UserPublic:
    """Disable an account (`is_active: false`: its sessions and tokens stop at once, what it
    wrote stays) or enable it again (administrators)."""
    access.require_admin(user)
    return await set_account_active(request, session, user, user_id, body.is_active)


async def set_account_active(
    request: Request, session: Session, user: User, user_id: int, active: bool
) -> UserPublic:
    """Disable or enable an account (API and the accounts page; the caller is an admin)."""
    who = actor(request, user)
    changed = await write(request, session, _set_active, session, user_id, active, user, who)
    request.app.state.media_grants.clear()
    return changed
