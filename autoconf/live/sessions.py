"""Live sessions: one shared playhead for the browsers of an auto-confrontation.

The state (playing, position at a moment of the server's clock, rate) changes only through
`control()`, which writes the new state and appends it as an event, in one transaction;
every browser follows the events (`events_after`), whichever app process it is connected
to. A late joiner starts from `state()`: where the playhead is *now*.
"""

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select, update

from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.models import LiveEvent, LiveSession, Recording, utcnow

Control = Literal["play", "pause", "seek", "rate"]
CONTROLS: tuple[Control, ...] = ("play", "pause", "seek", "rate")
RATES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
# No 0/O, 1/I/L: the counsellor reads the code aloud or types it.
_CODE_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class LiveState:
    session_id: int
    recording_id: int
    seq: int
    playing: bool
    position_ms: int  # where the playhead is at `at`
    rate: float
    at: datetime  # the server's clock
    ended: bool

    def now_ms(self, now: datetime | None = None) -> int:
        """Where the playhead is at `now` (it moves on while playing)."""
        if not self.playing:
            return self.position_ms
        elapsed = ((now or utcnow()) - self.at).total_seconds() * 1000
        return self.position_ms + max(0, round(elapsed * self.rate))

    def public(self) -> dict[str, Any]:
        """As the browsers get it (JSON)."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _state(live: LiveSession) -> LiveState:
    assert live.id is not None
    return LiveState(
        session_id=live.id,
        recording_id=live.recording_id,
        seq=live.seq,
        playing=live.playing,
        position_ms=live.position_ms,
        rate=live.rate,
        at=live.position_at,
        ended=live.ended_at is not None,
    )


def new_code() -> str:
    return "".join(secrets.choice(_CODE_LETTERS) for _ in range(6))


def start(
    session: Session,
    recording: Recording,
    user_id: int | None,
    interview_id: int | None = None,
) -> LiveSession:
    """A new live session on `recording`, paused at the start, with a fresh join code."""
    assert recording.id is not None
    for _ in range(5):
        code = new_code()
        taken = session.exec(select(LiveSession.id).where(LiveSession.code == code)).first()
        if taken is None:
            break
    else:  # pragma: no cover - 31^6 codes
        raise Conflict("Impossible de tirer un code de session libre ; réessayez.")
    live = LiveSession(
        study_id=recording.study_id,
        interview_id=interview_id,
        recording_id=recording.id,
        code=code,
        created_by=user_id,
    )
    session.add(live)
    session.flush()
    return live


def by_code(session: Session, code: str) -> LiveSession:
    live = session.exec(select(LiveSession).where(LiveSession.code == code.strip().upper())).first()
    if live is None or live.ended_at is not None:
        raise NotFound("Aucune session en cours avec ce code : vérifiez-le auprès du chercheur.")
    return live


def state(session: Session, session_id: int) -> LiveState:
    live = session.get(LiveSession, session_id, populate_existing=True)
    if live is None:
        raise NotFound(f"Aucune session n° {session_id}.")
    return _state(live)


def control(
    session: Session,
    session_id: int,
    author_id: int | None,
    kind: Control,
    position_ms: int | None = None,
    rate: float | None = None,
) -> LiveEvent:
    """Apply a control (play, pause, seek, rate) from the playhead as it is now, store the new
    state and append it as an event. The caller commits."""
    if kind not in CONTROLS:
        raise Invalid(f"Commande inconnue : {kind}.")
    live = session.get(LiveSession, session_id, populate_existing=True)
    if live is None:
        raise NotFound(f"Aucune session n° {session_id}.")
    if live.ended_at is not None:
        raise Conflict("Cette session est terminée.")
    now = utcnow()
    current = _state(live).now_ms(now)
    recording = session.get(Recording, live.recording_id)
    limit = recording.duration_ms if recording and recording.duration_ms else None
    position = current if position_ms is None else position_ms
    if position < 0 or (limit is not None and position > limit):
        raise Invalid("Ce temps est en dehors de l'enregistrement.")
    values: dict[str, Any] = {"position_ms": position, "position_at": now, "seq": live.seq + 1}
    if kind == "play":
        values["playing"] = True
    elif kind == "pause":
        values["playing"] = False
    elif kind == "rate":
        if rate not in RATES:
            raise Invalid(f"Vitesse possible : {', '.join(str(r) for r in RATES)}.")
        values["rate"] = rate
    # Serialises concurrent controls (PostgreSQL: row lock; SQLite: the write lock).
    changed = session.exec(
        update(LiveSession)
        .where(col(LiveSession.id) == session_id, col(LiveSession.seq) == live.seq)
        .values(**values)
    )
    if changed.rowcount != 1:
        raise Conflict("La session a changé au même moment ; la commande est à refaire.")
    session.expire(live)
    new = state(session, session_id)
    event = LiveEvent(
        session_id=session_id,
        seq=new.seq,
        kind=kind,
        payload=new.public(),
        author_id=author_id,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def events_after(
    session: Session, session_ids: list[int], after_id: int, limit: int = 500
) -> list[tuple[int, int, int, str, dict[str, Any]]]:
    """(id, session, seq, kind, payload) of the events after `after_id`, in order."""
    rows = session.execute(
        sa_select(
            col(LiveEvent.id),
            col(LiveEvent.session_id),
            col(LiveEvent.seq),
            col(LiveEvent.kind),
            col(LiveEvent.payload),
        )
        .where(col(LiveEvent.id) > after_id, col(LiveEvent.session_id).in_(session_ids))
        .order_by(col(LiveEvent.id))
        .limit(limit)
    ).all()
    return [(row[0] or 0, row[1], row[2], row[3], row[4]) for row in rows]


def last_event_id(session: Session) -> int:
    found = session.exec(select(LiveEvent.id).order_by(col(LiveEvent.id).desc())).first()
    return found or 0
