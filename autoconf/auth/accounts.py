"""Users, login sessions and API tokens. Tokens are random; only their sha256 is stored."""

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, delete, select

from autoconf.auth.passwords import hash_password, needs_rehash, verify_password
from autoconf.errors import Conflict, Invalid, NotAuthenticated, NotFound
from autoconf.models import GENDERS, ROLES, AuthToken, User, utcnow

SESSION = "session"
API = "api"
MIN_PASSWORD_LENGTH = 8


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 commonest passwords of leaked lists (zxcvbn's, which holds "motdepasse",
    "azerty123", "soleil"…), lower case; read once, when first needed."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_new_password(password: str, username: str = "") -> None:
    """Invalid, in French, for a password too short, among the commonest, or the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Le mot de passe doit faire au moins {MIN_PASSWORD_LENGTH} caractères.")
    if password.lower() in _common_passwords():
        raise Invalid(
            "Ce mot de passe est parmi les plus courants (listes de mots de passe divulgués) : "
            "il se devine en quelques essais. Choisissez-en un autre, par exemple plusieurs "
            "mots au hasard."
        )
    if username and password.strip().lower() == username.strip().lower():
        raise Invalid("Le mot de passe ne peut pas être le nom d'utilisateur.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def form_token(session_token: str) -> str:
    """The token a page's forms and scripts send back with the session cookie (protection
    against cross-site request forgery): derived from the session's own secret, so it is bound
    to that session, changes at every login and needs no storage. A page on another site can
    read neither the cookie nor our pages, so it cannot produce it."""
    return hashlib.sha256(b"autoconf form token\0" + session_token.encode()).hexdigest()[:40]


def create_user(
    session: Session, username: str, password: str, role: str, display_name: str = ""
) -> User:
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise Invalid("Le nom d'utilisateur doit faire 1 à 64 caractères, sans espace.")
    if role not in ROLES:
        raise Invalid(f"Rôle inconnu « {role} » ; rôles possibles : {', '.join(ROLES)}.")
    check_new_password(password, username)
    if find_user(session, username) is not None:
        raise Conflict(f"L'utilisateur « {username} » existe déjà.")
    user = User(
        username=username,
        role=role,
        display_name=display_name or username,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


# Letters and digits that cannot be mistaken for one another, read aloud or copied by hand.
_UNAMBIGUOUS = "abcdefghjkmnpqrstuvwxyz23456789"


def one_time_password() -> str:
    """A password to hand over once (12 characters in groups of four, ~59 bits), which its
    owner replaces at first sign-in."""
    chars = "".join(secrets.choice(_UNAMBIGUOUS) for _ in range(12))
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


def create_invited(
    session: Session, username: str, role: str, display_name: str = "", gender: str = ""
) -> tuple[User, str]:
    """A new account with a one-time password (returned in clear, to be shown once)."""
    if gender not in GENDERS:
        raise Invalid(f"Accord inconnu « {gender} ».")
    password = one_time_password()
    user = create_user(session, username, password, role, display_name)
    user.must_change_password = True
    user.gender = gender
    session.add(user)
    session.flush()
    return user, password


def set_password(session: Session, user: User, password: str) -> None:
    check_new_password(password, user.username)
    user.password_hash = hash_password(password)
    session.add(user)


def find_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"Aucun utilisateur « {username} ».")
    return user


def check_password(user: User | None, password: str) -> str | None:
    """The sign-in's check (slow: argon2, the same time for an unknown user; needs no
    database session): NotAuthenticated, in French, unless `user` is active and `password`
    is theirs. Returns a new hash when the stored one's parameters are outdated."""
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise NotAuthenticated("Nom d'utilisateur ou mot de passe incorrect.")
    return hash_password(password) if needs_rehash(user.password_hash) else None


def issue_token(
    session: Session, user: User, kind: str, name: str = "", lifetime: timedelta | None = None
) -> tuple[AuthToken, str]:
    """Create a session or API token; the clear token is returned once and never stored."""
    assert user.id is not None
    prefix = "acs_" if kind == SESSION else "act_"
    clear = prefix + secrets.token_urlsafe(32)
    token = AuthToken(
        user_id=user.id,
        kind=kind,
        token_hash=_digest(clear),
        name=name,
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    session.add(token)
    session.flush()
    return token, clear


# Built once: every request signs in with it (building a statement costs more than running
# it; bench/README.md, "Where a request's time goes").
_TOKEN_USER = (
    select(AuthToken, User)
    .join(User, col(User.id) == AuthToken.user_id)
    .where(AuthToken.token_hash == bindparam("digest"), AuthToken.kind == bindparam("kind"))
)


def user_for_token(session: Session, clear: str, kind: str) -> User | None:
    """The active user a valid, unexpired token of `kind` belongs to, or None."""
    row = session.exec(_TOKEN_USER, params={"digest": _digest(clear), "kind": kind}).first()
    if row is None:
        return None
    token, user = row
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    return user if user.is_active else None


def new_password_hash(user: User, current: str, new: str) -> str:
    """Check the current password and the new one, and hash the new one (slow: argon2 twice;
    run it outside the write lock). Invalid, in French, when either is refused."""
    if not verify_password(user.password_hash, current):
        raise Invalid("Le mot de passe actuel n'est pas le bon : rien n'a été changé.")
    if new == current:
        raise Invalid("Le nouveau mot de passe doit être différent de l'actuel.")
    check_new_password(new, user.username)
    return hash_password(new)


def replace_password(session: Session, user: User, new_hash: str, keep: str | None) -> None:
    """Store the new hash; every other login session of the user ends (`keep` stays)."""
    stored = session.get(User, user.id, populate_existing=True)
    if stored is None:
        raise NotFound("Ce compte n'existe plus.")
    stored.password_hash = new_hash
    stored.must_change_password = False
    session.add(stored)
    end_sessions(session, stored, keep=keep)
    session.flush()


def end_sessions(session: Session, user: User, keep: str | None = None) -> int:
    """End the user's login sessions (all, or all but `keep`); how many ended."""
    statement = delete(AuthToken).where(
        col(AuthToken.user_id) == user.id, col(AuthToken.kind) == SESSION
    )
    if keep is not None:
        statement = statement.where(col(AuthToken.token_hash) != _digest(keep))
    return session.exec(statement).rowcount


def set_active(session: Session, user_id: int, active: bool, by: User) -> User:
    """Disable (or enable again) an account. Disabled, it signs in no more and its sessions
    and tokens stop at once (every request checks `is_active`); its login sessions are ended.
    What it wrote stays. An administrator does not disable their own account."""
    user = session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFound(f"Aucun utilisateur n° {user_id}.")
    if user.id == by.id and not active:
        raise Conflict("Vous ne pouvez pas désactiver votre propre compte.")
    user.is_active = active
    session.add(user)
    if not active:
        end_sessions(session, user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))).all())


def revoke_token(session: Session, clear: str) -> None:
    session.exec(delete(AuthToken).where(col(AuthToken.token_hash) == _digest(clear)))


def list_api_tokens(session: Session, user: User) -> list[AuthToken]:
    return list(
        session.exec(
            select(AuthToken)
            .where(AuthToken.user_id == user.id, AuthToken.kind == API)
            .order_by(col(AuthToken.id))
        ).all()
    )


def delete_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(AuthToken, token_id)
    if token is None or token.user_id != user.id or token.kind != API:
        raise NotFound(f"Aucun jeton n° {token_id}.")
    session.delete(token)
    session.flush()


def update_preferences(session: Session, user: User, changes: dict[str, Any]) -> User:
    """Apply what `changes` holds of display_name, language, reaction_offset_ms and gender."""
    stored = session.get(User, user.id, populate_existing=True)
    if stored is None:
        raise NotFound("Ce compte n'existe plus.")
    for name in ("display_name", "language", "reaction_offset_ms", "gender"):
        if name in changes:
            setattr(stored, name, changes[name])
    session.add(stored)
    session.flush()
    return stored
