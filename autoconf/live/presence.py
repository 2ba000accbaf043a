"""Who is connected to a live session, whichever app process holds their connection.

Each connection is a row refreshed while it lives (`touch`); it goes when the browser leaves,
or when nobody refreshed it for `STALE` (its process stopped): so a restarted server does
not show ghosts for long. Every change is a "presence" event carrying the whole list.
"""

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select, update

from autoconf.live import sessions
from autoconf.models import LiveEvent, LivePresence, LiveSession, User, utcnow

STALE = timedelta(seconds=30)
TOUCH_SECONDS = 10.0


def present(session: Session, session_id: int) -> list[dict[str, Any]]:
    """The people connected now (one entry per person, however many tabs), by role, with
    their grammatical gender (for `wording.label`)."""
    rows = session.execute(
        sa_select(
            col(LivePresence.user_id),
            col(LivePresence.role),
            col(User.display_name),
            col(User.username),
            col(User.gender),
        )
        .join(User, col(User.id) == LivePresence.user_id)
        .where(
            col(LivePresence.session_id) == session_id,
            col(LivePresence.seen_at) > utcnow() - STALE,
        )
        .order_by(col(LivePresence.role).desc(), col(User.username))
    ).all()
    people: dict[int, dict[str, Any]] = {}
    for user_id, role, display_name, username, gender in rows:
        entry = people.setdefault(
            user_id,
            {"user_id": user_id, "name": display_name or username, "role": role, "gender": gender},
        )
        entry["connections"] = entry.get("connections", 0) + 1
    return list(people.values())


def _event(session: Session, session_id: int, author_id: int | None) -> LiveEvent:
    live = session.get(LiveSession, session_id, populate_existing=True)
    assert live is not None
    payload = {"presence": present(session, session_id)}
    return sessions.append(session, session_id, live.seq, "presence", payload, author_id)


def join(session: Session, session_id: int, user: User, role: str) -> str:
    """A new connection of `user`: its id, for `touch` and `leave`."""
    presence_id = secrets.token_hex(16)
    assert user.id is not None
    session.add(
        LivePresence(
            id=presence_id, session_id=session_id, user_id=user.id, role=role, seen_at=utcnow()
        )
    )
    session.flush()
    _event(session, session_id, user.id)
    return presence_id


def leave(session: Session, presence_id: str) -> None:
    row = session.get(LivePresence, presence_id)
    if row is None:
        return
    session_id, user_id = row.session_id, row.user_id
    session.delete(row)
    session.flush()
    _event(session, session_id, user_id)


def touch(session: Session, presence_ids: list[str]) -> None:
    """These connections are still there; forget those nobody refreshed, and say so."""
    now = utcnow()
    if presence_ids:
        session.exec(
            update(LivePresence).where(col(LivePresence.id).in_(presence_ids)).values(seen_at=now)
        )
    stale = session.exec(
        select(LivePresence.session_id).where(col(LivePresence.seen_at) <= now - STALE).distinct()
    ).all()
    if stale:
        session.exec(delete(LivePresence).where(col(LivePresence.seen_at) <= now - STALE))
        for session_id in stale:
            _event(session, session_id, None)
