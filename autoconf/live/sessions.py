"""Live sessions: one shared playhead for the browsers of an auto-confrontation.

The state (playing, position at a moment of the server's clock, rate) changes only through
`control()`, which writes the new state and appends it as an event, in one transaction;
every browser follows the events (`events_after`), whichever app process it is connected
to. A late joiner starts from `state()`: where the playhead is *now*.
"""

import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select, update

from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.models import (
    Counsellor,
    Interview,
    InterviewRecording,
    LiveEvent,
    LiveSession,
    LiveStop,
    Recording,
    Study,
    utcnow,
)
from autoconf.studies import access, service

Control = Literal["play", "pause", "seek", "rate", "switch"]
CONTROLS: tuple[Control, ...] = ("play", "pause", "seek", "rate", "switch")
RATES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
# Set in `Session.info` by `append`: the write that commits it wakes this process's follower.
APPENDED = "live_event_appended"
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
    duration_ms: int | None = None  # the recording's, when known

    def now_ms(self, now: datetime | None = None) -> int:
        """Where the playhead is at `now` (it moves on while playing, up to the end)."""
        if not self.playing:
            return self.position_ms
        elapsed = ((now or utcnow()) - self.at).total_seconds() * 1000
        position = self.position_ms + max(0, round(elapsed * self.rate))
        return min(position, self.duration_ms) if self.duration_ms else position

    def public(self) -> dict[str, Any]:
        """As the browsers get it (JSON)."""
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _state(live: LiveSession, duration_ms: int | None = None) -> LiveState:
    assert live.id is not None
    return LiveState(
        duration_ms=duration_ms,
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


class CannotStart(Invalid):
    """A live session cannot start on this recording yet. `fix` names the part of the
    study's administration that sets what is missing: "conseillers" or "entretiens"."""

    def __init__(self, message: str, study_id: int, fix: str) -> None:
        super().__init__(message)
        self.study_id = study_id
        self.fix = fix


# A new interview is named after its recording, else its counsellor, else numbered.
_MAX_NUMBER = 20


def _interview_code(session: Session, recording: Recording, counsellor: Counsellor) -> str:
    """A code for a new interview of `recording`: free in the study and following its
    pattern; CannotStart when none of the codes tried does."""
    study = session.get(Study, recording.study_id)
    pattern = study.code_pattern if study is not None else ""
    taken = set(
        session.exec(select(Interview.code).where(Interview.study_id == recording.study_id))
    )
    tried = [recording.code, counsellor.code]
    tried += [f"{recording.code} ({n})" for n in range(2, _MAX_NUMBER + 1)]
    for code in tried:
        if code not in taken and (not pattern or re.fullmatch(pattern, code)):
            return code
    example = study.code_example if study is not None else ""
    raise CannotStart(
        "La séance en direct ne peut pas commencer : l'enregistrement "
        f"« {recording.code} » n'est dans aucun entretien, et aucun code tiré de "
        f"« {recording.code} » n'est à la fois libre et conforme au motif des codes de l'étude "
        f"(« {pattern} », exemple : « {example} »). Créez l'entretien dans l'administration "
        "de l'étude, puis recommencez. Aucun code de séance n'a été donné.",
        recording.study_id,
        "entretiens",
    )


def interview_of(session: Session, recording: Recording) -> Interview:
    """The interview (auto-confrontation) that covers `recording`: the newest one, else a new
    one for the recording's counsellor (so that the counsellor may join and every live
    session has its report). CannotStart when the recording has no counsellor."""
    assert recording.id is not None
    found = session.exec(
        select(Interview)
        .join(InterviewRecording, col(InterviewRecording.interview_id) == Interview.id)
        .where(InterviewRecording.recording_id == recording.id)
        .order_by(col(Interview.id).desc())
    ).first()
    if found is not None:
        return found
    counsellor = session.get(Counsellor, recording.counsellor_id or 0)
    if counsellor is None:
        raise CannotStart(
            "La séance en direct ne peut pas commencer : l'enregistrement "
            f"« {recording.code} » n'a pas de conseiller, donc pas d'entretien "
            "d'auto-confrontation. Indiquez d'abord son conseiller sur la page de l'enregistrement "
            "(un conseiller s'ajoute dans l'administration de l'étude) : l'entretien sera créé "
            "au démarrage. Aucun code de séance n'a été donné.",
            recording.study_id,
            "conseillers",
        )
    code = _interview_code(session, recording, counsellor)
    interview, _ = service.create_interview(
        session, recording.study_id, code, counsellor.id, [recording.id]
    )
    return interview


def interview_recordings(session: Session, interview_id: int | None) -> list[Recording]:
    """The interview's recordings of counselling sessions, in the interview's order."""
    if interview_id is None:
        return []
    return list(
        session.exec(
            select(Recording)
            .join(InterviewRecording, col(InterviewRecording.recording_id) == Recording.id)
            .where(InterviewRecording.interview_id == interview_id)
            .order_by(col(InterviewRecording.position), col(Recording.code))
        ).all()
    )


def start(session: Session, recording: Recording, user_id: int | None) -> LiveSession:
    """A new live session on `recording` (within its interview, made for the recording's
    counsellor if there is none: else CannotStart, before any code), paused at the start,
    with a fresh join code."""
    assert recording.id is not None
    if recording.category != "session":
        raise Invalid(
            "Cet enregistrement est celui d'une auto-confrontation : la séance en direct se "
            "fait sur l'enregistrement de la séance de conseil."
        )
    interview_id = interview_of(session, recording).id
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
        raise NotFound(access.UNKNOWN_CODE)
    return live


def recording_gone(session: Session, recording_id: int) -> None:
    """Before a recording is erased: the live sessions showing it move to another recording
    of their interview (their stops elsewhere and their comments stay); a session with no
    other recording goes with it, as its stops do."""
    showing = session.exec(
        select(LiveSession).where(LiveSession.recording_id == recording_id)
    ).all()
    for live in showing:
        assert live.id is not None
        others = [
            r for r in interview_recordings(session, live.interview_id) if r.id != recording_id
        ]
        if not others or others[0].id is None:
            continue
        now = utcnow()
        live.recording_id, live.playing, live.position_ms = others[0].id, False, 0
        live.position_at, live.seq = now, live.seq + 1
        session.add(live)
        session.flush()
        new = _state(live, others[0].duration_ms)
        append(session, live.id, new.seq, "switch", new.public(), None, now)


def ongoing(session: Session, recording_id: int) -> list[LiveSession]:
    """The live sessions still going on on this recording, the newest first."""
    return list(
        session.exec(
            select(LiveSession)
            .where(LiveSession.recording_id == recording_id, col(LiveSession.ended_at).is_(None))
            .order_by(col(LiveSession.created_at).desc())
        ).all()
    )


def _resume_stops(session: Session, session_id: int, now: datetime) -> list[int]:
    """End the pause of the session's open stops at `now`: their ids."""
    rows = session.exec(
        update(LiveStop)
        .where(col(LiveStop.session_id) == session_id, col(LiveStop.resumed_at).is_(None))
        .values(resumed_at=now)
        .returning(col(LiveStop.annotation_id))
    ).all()
    return [row[0] for row in rows]


def end(session: Session, session_id: int, author_id: int | None) -> LiveEvent:
    """End the session: paused where it is, its code no longer opens it; the stops stay."""
    live = open_session(session, session_id)
    now = utcnow()
    position = _current(session, live).now_ms(now)
    resumed = _resume_stops(session, session_id, now)
    live.playing, live.position_ms, live.position_at = False, position, now
    live.seq, live.ended_at = live.seq + 1, now
    session.add(live)
    session.flush()
    new = _state(live)
    payload = {**new.public(), "resumed": resumed}
    return append(session, session_id, new.seq, "end", payload, author_id, now)


def state(session: Session, session_id: int) -> LiveState:
    live = session.get(LiveSession, session_id, populate_existing=True)
    if live is None:
        raise NotFound(f"Aucune session n° {session_id}.")
    return _current(session, live)


def _current(session: Session, live: LiveSession) -> LiveState:
    """The state of `live` as read, with its recording's duration (the playhead's end)."""
    recording = session.get(Recording, live.recording_id)
    return _state(live, recording.duration_ms if recording else None)


def open_session(session: Session, session_id: int) -> LiveSession:
    """The session, read again (not from the identity map), if it is still going on."""
    live = session.get(LiveSession, session_id, populate_existing=True)
    if live is None:
        raise NotFound(f"Aucune session n° {session_id}.")
    if live.ended_at is not None:
        raise Conflict("Cette session est terminée.")
    return live


def control(
    session: Session,
    session_id: int,
    author_id: int | None,
    kind: Control | Literal["stop"],
    position_ms: int | None = None,
    rate: float | None = None,
    recording_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> LiveEvent:
    """Apply a control (play, pause, seek, rate, switch to another recording of the interview;
    "stop" is a pause that `stops.stop_here` records) from the playhead as it is now, store
    the new state and append it as an event with `extra`. The caller commits."""
    if kind not in (*CONTROLS, "stop"):
        raise Invalid(f"Commande inconnue : {kind}.")
    live = open_session(session, session_id)
    now = utcnow()
    current = _current(session, live).now_ms(now)
    values: dict[str, Any] = {"position_at": now, "seq": live.seq + 1}
    target = live.recording_id
    if kind == "switch":
        allowed = {r.id for r in interview_recordings(session, live.interview_id)}
        if recording_id not in allowed | {live.recording_id}:
            raise Invalid("Cet enregistrement n'appartient pas à cet entretien.")
        assert recording_id is not None
        target = recording_id
        values.update(recording_id=target, playing=False)
        current = 0
    recording = session.get(Recording, target)
    limit = recording.duration_ms if recording and recording.duration_ms else None
    position = current if position_ms is None else position_ms
    # A player's end may read a few ms past the probed duration: that is the end.
    if limit is not None and limit < position <= limit + 1000:
        position = limit
    if position < 0 or (limit is not None and position > limit):
        raise Invalid("Ce temps est en dehors de l'enregistrement.")
    values["position_ms"] = position
    extra = dict(extra or {})
    if kind == "play":
        values["playing"] = True
        # Playing again ends the pause of the stops still open: their length is known.
        resumed = _resume_stops(session, session_id, now)
        if resumed:
            extra["resumed"] = resumed
    elif kind in ("pause", "stop"):
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
    return append(session, session_id, new.seq, kind, {**new.public(), **extra}, author_id, now)


def append(
    session: Session,
    session_id: int,
    seq: int,
    kind: str,
    payload: dict[str, Any],
    author_id: int | None,
    at: datetime | None = None,
) -> LiveEvent:
    """Append an event to the session's stream (the caller commits)."""
    event = LiveEvent(
        session_id=session_id,
        seq=seq,
        kind=kind,
        payload=payload,
        author_id=author_id,
        created_at=at or utcnow(),
    )
    session.add(event)
    session.flush()
    session.info[APPENDED] = True
    return event


def events_after(
    session: Session, session_ids: list[int] | None, after_id: int, limit: int = 500
) -> list[tuple[int, int, int, str, dict[str, Any]]]:
    """(id, session, seq, kind, payload) of the events after `after_id`, in order: of these
    sessions, or of all (None)."""
    query = (
        sa_select(
            col(LiveEvent.id),
            col(LiveEvent.session_id),
            col(LiveEvent.seq),
            col(LiveEvent.kind),
            col(LiveEvent.payload),
        )
        .where(col(LiveEvent.id) > after_id)
        .order_by(col(LiveEvent.id))
        .limit(limit)
    )
    if session_ids is not None:
        query = query.where(col(LiveEvent.session_id).in_(session_ids))
    rows = session.execute(query).all()
    return [(row[0] or 0, row[1], row[2], row[3], row[4]) for row in rows]


def has_played(session: Session, session_id: int) -> bool:
    """Whether the session's playhead ever played (the player then offers to play *on*)."""
    found = session.exec(
        select(LiveEvent.id).where(LiveEvent.session_id == session_id, LiveEvent.kind == "play")
    ).first()
    return found is not None


def last_event_id(session: Session) -> int:
    found = session.exec(select(LiveEvent.id).order_by(col(LiveEvent.id).desc())).first()
    return found or 0
