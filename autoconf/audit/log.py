"""The audit log, append-only: a line per login, failed login, first play of a recording in a
login session, download, export, consent change, erasure, membership or role change.

Entries hold ids, codes and counts, never names typed by people nor content: an erased
recording's entry must not keep what was erased. No function here changes or deletes an entry
(and the database refuses it: triggers of migration 0007).
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from autoconf.models import AuditEvent, User, utcnow

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_THROTTLED = "login_throttled"
LOGOUT = "logout"
PLAY = "play"
DOWNLOAD = "download"
EXPORT = "export"
CONSENT_GIVEN = "consent_given"
CONSENT_WITHDRAWN = "consent_withdrawn"
ERASE_RECORDING = "erase_recording"
ERASE_STUDY = "erase_study"
MEMBER_ADDED = "member_added"
MEMBER_ROLE = "member_role"
MEMBER_REMOVED = "member_removed"
ACCOUNT_CREATED = "account_created"
ACCOUNT_DISABLED = "account_disabled"
ACCOUNT_ENABLED = "account_enabled"
PASSWORD_CHANGED = "password_changed"
TOKEN_CREATED = "token_created"
TOKEN_REVOKED = "token_revoked"
STUDY_SETTINGS = "study_settings"
STUDY_IMPORTED = "study_imported"  # a study archive (autoconf.archive)
ROUND_ENDED = "coding_round_ended"  # by its creator, before every coder was done
ACTIONS = (
    LOGIN,
    LOGIN_FAILED,
    LOGIN_THROTTLED,
    LOGOUT,
    PLAY,
    DOWNLOAD,
    EXPORT,
    CONSENT_GIVEN,
    CONSENT_WITHDRAWN,
    ERASE_RECORDING,
    ERASE_STUDY,
    MEMBER_ADDED,
    MEMBER_ROLE,
    MEMBER_REMOVED,
    ACCOUNT_CREATED,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    PASSWORD_CHANGED,
    TOKEN_CREATED,
    TOKEN_REVOKED,
    STUDY_SETTINGS,
    STUDY_IMPORTED,
    ROUND_ENDED,
)


@dataclass(frozen=True)
class Actor:
    """Who acts, seen from the request: the user (None before sign-in), the client's address
    and a digest of the credential (login session or token)."""

    user_id: int | None
    username: str
    address: str = ""
    credential: str = ""

    @classmethod
    def of(cls, user: User | None, address: str = "", secret: str | None = None) -> "Actor":
        return cls(
            user.id if user else None,
            user.username if user else "",
            address[:64],
            credential_digest(secret) if secret else "",
        )


SYSTEM = Actor(None, "")


def credential_digest(secret: str) -> str:
    """16 hex digits of the secret's sha256: tells two login sessions apart, reveals nothing
    (the tokens table keeps the full sha256, this is a different prefix of another hash)."""
    return hashlib.sha256(b"audit:" + secret.encode()).hexdigest()[:16]


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    study_id: int | None = None,
    recording_id: int | None = None,
    object_type: str = "",
    object_id: int | None = None,
    **detail: Any,
) -> None:
    """Append one entry (committed with the caller's transaction)."""
    assert action in ACTIONS, action
    session.execute(
        insert(AuditEvent).values(
            at=utcnow(),
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            study_id=study_id,
            recording_id=recording_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
            address=actor.address,
            credential=actor.credential,
        )
    )


def played_before(session: Session, recording_id: int, credential: str) -> bool:
    """Whether this login session (or token) already has a `play` entry for the recording."""
    return (
        session.exec(
            select(AuditEvent.id).where(
                AuditEvent.action == PLAY,
                AuditEvent.recording_id == recording_id,
                AuditEvent.credential == credential,
            )
        ).first()
        is not None
    )


def exported_before(session: Session, recording_id: int, credential: str, what: str) -> bool:
    """Whether this login session (or token) already has an `export` entry of `what` (the
    entry's detail) for the recording."""
    details = session.exec(
        select(AuditEvent.detail).where(
            AuditEvent.action == EXPORT,
            AuditEvent.recording_id == recording_id,
            AuditEvent.credential == credential,
        )
    ).all()
    return any(detail.get("what") == what for detail in details)


def entries(
    session: Session,
    *,
    study_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The newest entries first, `limit` at most, older than `before_id` (the page after)."""
    query = select(AuditEvent)
    if study_ids is not None:
        query = query.where(col(AuditEvent.study_id).in_(list(study_ids)))
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all())
