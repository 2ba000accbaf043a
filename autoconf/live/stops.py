"""The stops of a live session as data, and the researcher's agenda of prepared moments.

A stop is an annotation on the stops layer (by who stopped, at the time in the recording),
with a `live_stop` row for what only a live session knows: the wall-clock time, how long the
pause lasted, the prepared moment it answers. What is said there is typed as comments, each
with its author (who typed) and speaker (who said it). Every change is also an event of the
session's stream, so every screen shows it.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, delete, func, select, update

from autoconf.errors import Conflict, Forbidden, Invalid, NotFound
from autoconf.live import sessions
from autoconf.models import (
    Annotation,
    AnnotationCode,
    Code,
    Counsellor,
    Interview,
    LiveAgendaItem,
    LiveComment,
    LiveEvent,
    LiveSession,
    LiveStop,
    Recording,
    User,
    utcnow,
)
from autoconf.payloads import MAX_COMMENT
from autoconf.schemes import annotations
from autoconf.studies import access

Speaker = Literal["researcher", "counsellor"]
SPEAKERS: tuple[Speaker, ...] = ("researcher", "counsellor")
Status = Literal["planned", "brought_up", "discussed", "skipped"]
STATUSES: tuple[Status, ...] = ("planned", "brought_up", "discussed", "skipped")
# "Go to a prepared moment" starts this long before it: the counsellor sees it coming.
LEAD_MS = 5000
# A stop answers the moment brought up last if it falls this close after (or a little before)
# it, else a planned moment this close to it.
AFTER_BROUGHT_UP_MS = 90_000
NEAR_MS = 10_000


@dataclass
class CommentView:
    id: int
    stop_id: int
    author_id: int | None
    author: str
    speaker: str
    text: str
    said_at: datetime
    version: int
    author_gender: str = ""  # how labels name the author (wording.label)

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "said_at": self.said_at.isoformat()}


@dataclass
class StopView:
    id: int  # the annotation's
    session_id: int
    recording_id: int
    position_ms: int
    role: str
    author_id: int | None
    author: str
    stopped_at: datetime
    resumed_at: datetime | None
    prepared_id: int | None
    comments: list[CommentView] = field(default_factory=list)
    author_gender: str = ""  # how labels name who stopped (wording.label)

    @property
    def pause_ms(self) -> int | None:
        if self.resumed_at is None:
            return None
        return round((self.resumed_at - self.stopped_at).total_seconds() * 1000)

    def public(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "stopped_at": self.stopped_at.isoformat(),
            "resumed_at": self.resumed_at.isoformat() if self.resumed_at else None,
            "pause_ms": self.pause_ms,
            "comments": [c.public() for c in self.comments],
        }


@dataclass
class AgendaItem:
    prepared_id: int
    recording_id: int
    position_ms: int
    note: str
    author_id: int | None
    author: str
    labels: list[str]
    status: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


def comment_for_counsellor(comment: dict[str, Any], user_id: int | None) -> bool:
    """Whether a counsellor's screen gets this comment (as `access.sees_comment`): their own
    words and what they typed, never the researchers' notes."""
    return comment.get("speaker") == "counsellor" or comment.get("author_id") == user_id


def for_counsellor(
    stop: dict[str, Any], own_prepared: set[int], user_id: int | None
) -> dict[str, Any]:
    """A stop as a counsellor's screen gets it: the comments they may see, and the prepared
    moment it answers only when it is one of theirs: a researcher's private mark must not
    show even its id."""
    answered = stop.get("prepared_id")
    return {
        **stop,
        "comments": [c for c in stop.get("comments", []) if comment_for_counsellor(c, user_id)],
        "prepared_id": answered if answered in own_prepared else None,
    }


def own_prepared(session: Session, live: LiveSession, user: User) -> set[int]:
    """The ids of the user's own prepared moments in the session's agenda."""
    return {i.prepared_id for i in agenda(session, live, user.id) if i.author_id == user.id}


def role_of(session: Session, user: User, study_id: int) -> Speaker:
    """Who the user is in a live session: the counsellor, or a researcher (admins too)."""
    return "researcher" if access.sees_everything(session, user, study_id) else "counsellor"


def require_researcher(session: Session, user: User, live: LiveSession) -> None:
    if role_of(session, user, live.study_id) != "researcher":
        raise Forbidden("Seuls les chercheurs de l'étude peuvent faire cela.")


def _names(session: Session, ids: set[int | None]) -> dict[int, tuple[str, str]]:
    """The name shown and the grammatical gender of these users."""
    known = [i for i in ids if i is not None]
    if not known:
        return {}
    rows = session.exec(
        select(User.id, User.display_name, User.username, User.gender).where(
            col(User.id).in_(known)
        )
    ).all()
    return {row[0] or 0: (row[1] or row[2], row[3]) for row in rows}


def _name(names: dict[int, tuple[str, str]], user_id: int | None) -> str:
    return names.get(user_id or 0, ("—", ""))[0]


def _gender(names: dict[int, tuple[str, str]], user_id: int | None) -> str:
    return names.get(user_id or 0, ("—", ""))[1]


def counsellor_gender(
    session: Session, interview_id: int | None, recording_id: int | None = None
) -> str:
    """The grammatical gender of the counsellor of the interview (else of the recording), as
    their account says: "" (neutral) when there is none."""
    counsellor_id = None
    if interview_id is not None:
        interview = session.get(Interview, interview_id)
        counsellor_id = interview.counsellor_id if interview else None
    if counsellor_id is None and recording_id is not None:
        recording = session.get(Recording, recording_id)
        counsellor_id = recording.counsellor_id if recording else None
    if counsellor_id is None:
        return ""
    found = session.exec(
        select(User.gender)
        .join(Counsellor, col(Counsellor.user_id) == User.id)
        .where(Counsellor.id == counsellor_id)
    ).first()
    return found or ""


def list_stops(
    session: Session, session_ids: list[int], stop_ids: list[int] | None = None
) -> list[StopView]:
    """The stops of these sessions (or only `stop_ids`), in the order they were made, with
    their comments in the order they were typed."""
    query = (
        select(LiveStop, Annotation.recording_id, Annotation.start_ms, Annotation.author_id)
        .join(Annotation, col(Annotation.id) == LiveStop.annotation_id)
        .where(col(LiveStop.session_id).in_(session_ids))
        .order_by(col(LiveStop.stopped_at), col(LiveStop.annotation_id))
    )
    if stop_ids is not None:
        query = query.where(col(LiveStop.annotation_id).in_(stop_ids))
    rows = session.exec(query).all()
    ids = [stop.annotation_id for stop, *_ in rows]
    comments = (
        session.exec(
            select(LiveComment)
            .where(col(LiveComment.stop_id).in_(ids))
            .order_by(col(LiveComment.said_at), col(LiveComment.id))
        ).all()
        if ids
        else []
    )
    names = _names(session, {r[3] for r in rows} | {c.author_id for c in comments})
    views = {
        stop.annotation_id: StopView(
            id=stop.annotation_id,
            session_id=stop.session_id,
            recording_id=recording_id,
            position_ms=start_ms,
            role=stop.role,
            author_id=author_id,
            author=_name(names, author_id),
            author_gender=_gender(names, author_id),
            stopped_at=stop.stopped_at,
            resumed_at=stop.resumed_at,
            prepared_id=stop.prepared_id,
        )
        for stop, recording_id, start_ms, author_id in rows
    }
    for comment in comments:
        views[comment.stop_id].comments.append(_comment_view(comment, names))
    return list(views.values())


def _comment_view(comment: LiveComment, names: dict[int, tuple[str, str]]) -> CommentView:
    assert comment.id is not None
    return CommentView(
        id=comment.id,
        stop_id=comment.stop_id,
        author_id=comment.author_id,
        author=_name(names, comment.author_id),
        author_gender=_gender(names, comment.author_id),
        speaker=comment.speaker,
        text=comment.text,
        said_at=comment.said_at,
        version=comment.version,
    )


def stop_view(session: Session, stop_id: int) -> StopView:
    found = session.get(LiveStop, stop_id, populate_existing=True)
    if found is None:
        raise NotFound(f"Aucun arrêt n° {stop_id}.")
    return list_stops(session, [found.session_id], [stop_id])[0]


def agenda(session: Session, live: LiveSession, viewer_id: int | None) -> list[AgendaItem]:
    """The prepared moments of the interview's recordings the viewer may see (theirs, and
    those shared: the counsellor's included), in time order, with their status."""
    recordings = sessions.interview_recordings(session, live.interview_id)
    order = {r.id: i for i, r in enumerate(recordings)} or {live.recording_id: 0}
    marks = session.exec(
        select(Annotation).where(
            col(Annotation.recording_id).in_(list(order)),
            Annotation.layer == "prepared",
            col(Annotation.shared) | (col(Annotation.author_id) == viewer_id),
        )
    ).all()
    ids = [m.id for m in marks]
    statuses = dict(
        session.exec(
            select(LiveAgendaItem.prepared_id, LiveAgendaItem.status).where(
                LiveAgendaItem.session_id == live.id
            )
        ).all()
    )
    labels: dict[int, list[str]] = {}
    for annotation_id, label in session.exec(
        select(AnnotationCode.annotation_id, Code.label)
        .join(Code, col(Code.id) == AnnotationCode.code_id)
        .where(col(AnnotationCode.annotation_id).in_(ids))
        .order_by(col(Code.position))
    ).all():
        labels.setdefault(annotation_id, []).append(label)
    names = _names(session, {m.author_id for m in marks})
    items = [
        AgendaItem(
            prepared_id=m.id or 0,
            recording_id=m.recording_id,
            position_ms=m.start_ms,
            note=m.note,
            author_id=m.author_id,
            author=_name(names, m.author_id),
            labels=labels.get(m.id or 0, []),
            status=statuses.get(m.id or 0, "planned"),
        )
        for m in marks
    ]
    return sorted(items, key=lambda i: (order.get(i.recording_id, 0), i.position_ms))


def _set_status(session: Session, session_id: int, prepared_id: int, status: str) -> None:
    now = utcnow()
    changed = session.exec(
        update(LiveAgendaItem)
        .where(
            col(LiveAgendaItem.session_id) == session_id,
            col(LiveAgendaItem.prepared_id) == prepared_id,
        )
        .values(status=status, updated_at=now)
    )
    if changed.rowcount == 0:
        session.add(
            LiveAgendaItem(
                session_id=session_id, prepared_id=prepared_id, status=status, updated_at=now
            )
        )
    session.flush()


def _agenda_item(
    session: Session, live: LiveSession, prepared_id: int, viewer_id: int | None = None
) -> AgendaItem:
    """A prepared moment of this session's agenda, as `viewer_id` (by default its creator)
    sees it."""
    for item in agenda(session, live, viewer_id or live.created_by):
        if item.prepared_id == prepared_id:
            return item
    raise NotFound(f"Le moment préparé n° {prepared_id} n'est pas dans cette séance.")


def _answered(session: Session, live: LiveSession, position_ms: int) -> int | None:
    """The prepared moment a stop at `position_ms` answers: the one brought up last, if the
    stop comes soon after it; else a planned one close to the stop; else none (added live)."""
    assert live.id is not None
    items = [
        i
        for i in agenda(session, live, live.created_by)
        if i.recording_id == live.recording_id and i.status in ("planned", "brought_up")
    ]
    brought = session.exec(
        select(LiveAgendaItem.prepared_id)
        .where(LiveAgendaItem.session_id == live.id, LiveAgendaItem.status == "brought_up")
        .order_by(col(LiveAgendaItem.updated_at).desc())
    ).all()
    by_id = {i.prepared_id: i for i in items}
    for prepared_id in brought:
        item = by_id.get(prepared_id)
        if item and -NEAR_MS <= position_ms - item.position_ms <= AFTER_BROUGHT_UP_MS:
            return item.prepared_id
    near = [i for i in items if abs(i.position_ms - position_ms) <= NEAR_MS]
    if not near:
        return None
    return min(near, key=lambda i: abs(i.position_ms - position_ms)).prepared_id


def stop_here(
    session: Session,
    session_id: int,
    user: User,
    position_ms: int | None = None,
    client: str | None = None,
) -> LiveEvent:
    """Pause everyone at `position_ms` (where this screen was; else the shared playhead) and
    record the stop; pressed again while still stopped there, nothing new. `client` (the
    screen's id) comes back in the event."""
    live = sessions.open_session(session, session_id)
    position = sessions.state(session, session_id).now_ms() if position_ms is None else position_ms
    open_stop = session.exec(
        select(LiveStop.annotation_id)
        .join(Annotation, col(Annotation.id) == LiveStop.annotation_id)
        .where(
            LiveStop.session_id == session_id,
            col(LiveStop.resumed_at).is_(None),
            Annotation.recording_id == live.recording_id,
        )
    ).first()
    if open_stop is not None and not live.playing:
        view = stop_view(session, open_stop)
        again = {"stop": view.public(), "client": client}
        return sessions.control(session, session_id, user.id, "stop", view.position_ms, extra=again)
    recording = session.get(Recording, live.recording_id)
    assert recording is not None
    position = max(0, position)
    if recording.duration_ms is not None:
        position = min(position, recording.duration_ms)
    prepared_id = _answered(session, live, position)
    annotation = annotations.create_annotation(
        session, recording, user.id, start_ms=position, origin="stop"
    )
    session.add(
        LiveStop(
            annotation_id=annotation.id,
            session_id=session_id,
            role=role_of(session, user, live.study_id),
            stopped_at=utcnow(),
            prepared_id=prepared_id,
        )
    )
    session.flush()
    extra: dict[str, Any] = {"stop": stop_view(session, annotation.id).public(), "client": client}
    if prepared_id is not None:
        _set_status(session, session_id, prepared_id, "discussed")
        extra["agenda"] = {"prepared_id": prepared_id, "status": "discussed"}
    return sessions.control(session, session_id, user.id, "stop", position, extra=extra)


def set_status(
    session: Session, session_id: int, user: User, prepared_id: int, status: str
) -> LiveEvent:
    live = sessions.open_session(session, session_id)
    require_researcher(session, user, live)
    if status not in STATUSES:
        raise Invalid(f"Statut inconnu : {status}.")
    _agenda_item(session, live, prepared_id, user.id)
    _set_status(session, session_id, prepared_id, status)
    payload = {"agenda": {"prepared_id": prepared_id, "status": status}}
    return sessions.append(session, session_id, live.seq, "agenda", payload, user.id)


def go_to(
    session: Session, session_id: int, user: User, prepared_id: int, client: str | None = None
) -> LiveEvent:
    """Bring a prepared moment up: play from a few seconds before it (on its recording). The
    counsellor brings up their own."""
    live = sessions.open_session(session, session_id)
    item = _agenda_item(session, live, prepared_id, user.id)
    if item.author_id != user.id and role_of(session, user, live.study_id) != "researcher":
        # Another's moment is not on a counsellor's agenda: as unknown as a wrong id.
        raise NotFound(f"Le moment préparé n° {prepared_id} n'est pas dans cette séance.")
    if item.recording_id != live.recording_id:
        sessions.control(session, session_id, user.id, "switch", recording_id=item.recording_id)
    extra: dict[str, Any] = {"client": client}
    if item.status == "planned":
        _set_status(session, session_id, prepared_id, "brought_up")
        extra["agenda"] = {"prepared_id": prepared_id, "status": "brought_up"}
    start = max(0, item.position_ms - LEAD_MS)
    return sessions.control(session, session_id, user.id, "play", start, extra=extra)


def link(
    session: Session, stop_id: int, user: User, prepared_id: int | None
) -> tuple[StopView, LiveEvent]:
    """Say which prepared moment a stop answers (None: added live)."""
    stop = session.get(LiveStop, stop_id)
    if stop is None:
        raise NotFound(f"Aucun arrêt n° {stop_id}.")
    live = session.get(LiveSession, stop.session_id)
    assert live is not None and live.id is not None
    require_researcher(session, user, live)
    if prepared_id is not None:
        _agenda_item(session, live, prepared_id, user.id)
        _set_status(session, live.id, prepared_id, "discussed")
    session.exec(
        update(LiveStop)
        .where(col(LiveStop.annotation_id) == stop_id)
        .values(prepared_id=prepared_id)
    )
    view = stop_view(session, stop_id)
    payload: dict[str, Any] = {"stop": view.public()}
    if prepared_id is not None:
        payload["agenda"] = {"prepared_id": prepared_id, "status": "discussed"}
    return view, sessions.append(session, live.id, live.seq, "stop_edit", payload, user.id)


def check_annotation_change(
    session: Session, annotation: Annotation, user: User, deleting: bool
) -> bool:
    """Whether `annotation` is a live session's stop; if so, only a researcher changes it in
    the annotator, and a stop deleted takes nothing typed with it (its comments go first)."""
    stop = session.get(LiveStop, annotation.id)
    if stop is None:
        return False
    live = session.get(LiveSession, stop.session_id)
    assert live is not None
    if role_of(session, user, live.study_id) != "researcher":
        raise Forbidden("Un arrêt de l'auto-confrontation ne se modifie que par un chercheur.")
    if deleting:
        count = session.exec(
            select(func.count()).where(LiveComment.stop_id == stop.annotation_id)
        ).one()
        if count:
            raise Conflict(
                f"Cet arrêt porte {count} commentaire(s) saisi(s) pendant l'auto-confrontation : "
                "supprimez-les d'abord sur la page de la séance (rien n'est supprimé)."
            )
    return True


def delete_stop(session: Session, annotation: Annotation, user: User, version: int | None) -> None:
    """Delete a stop without comments (`check_annotation_change` first) and tell the screens."""
    stop = session.get(LiveStop, annotation.id)
    assert stop is not None and annotation.id is not None
    live = session.get(LiveSession, stop.session_id, populate_existing=True)
    assert live is not None and live.id is not None
    annotations.delete_annotation(session, annotation, version)
    payload = {"stop_deleted": {"id": annotation.id, "recording_id": annotation.recording_id}}
    sessions.append(session, live.id, live.seq, "stop_deleted", payload, user.id)


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("Le commentaire est vide.")
    if len(text) > MAX_COMMENT:
        raise Invalid(f"Un commentaire tient en {MAX_COMMENT} caractères au plus.")
    return text


def _live_of_stop(
    session: Session, stop_id: int, user: User, comment: LiveComment | None = None
) -> LiveSession:
    """The stop's session, if the user may write there: researchers every comment, the
    counsellor (who sees the session) their own."""
    stop = session.get(LiveStop, stop_id)
    if stop is None:
        raise NotFound(f"Aucun arrêt n° {stop_id}.")
    live = session.get(LiveSession, stop.session_id)
    assert live is not None
    if comment is not None and comment.author_id != user.id:
        require_researcher(session, user, live)
    return live


def _comment_event(
    session: Session, live: LiveSession, kind: str, payload: dict[str, Any], user: User
) -> LiveEvent:
    assert live.id is not None
    current = session.get(LiveSession, live.id, populate_existing=True)
    assert current is not None
    return sessions.append(session, live.id, current.seq, kind, payload, user.id)


def add_comment(session: Session, stop_id: int, user: User, speaker: str, text: str) -> CommentView:
    """Type what was said at a stop (after the session too): researchers, either speaker;
    the counsellor, their own words."""
    live = _live_of_stop(session, stop_id, user)
    if speaker not in SPEAKERS:
        raise Invalid(f"Locuteur inconnu : {speaker}.")
    if speaker != "counsellor" and role_of(session, user, live.study_id) != "researcher":
        raise Forbidden("Un conseiller écrit ses propres propos : « counsellor ».")
    now = utcnow()
    comment = LiveComment(
        stop_id=stop_id,
        author_id=user.id,
        speaker=speaker,
        text=_clean_text(text),
        said_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(comment)
    session.flush()
    view = _comment_view(comment, _names(session, {user.id}))
    _comment_event(session, live, "comment", {"comment": view.public()}, user)
    return view


def _stale(session: Session, comment_id: int) -> Conflict:
    current = session.get(LiveComment, comment_id, populate_existing=True)
    detail = (
        "Ce commentaire a été modifié par quelqu'un d'autre pendant que vous l'écriviez."
        if current is not None
        else "Ce commentaire a été supprimé par quelqu'un d'autre."
    )
    view = (
        _comment_view(current, _names(session, {current.author_id})).public()
        if current is not None
        else None
    )
    return Conflict(detail + " Relisez-le avant de le modifier.", current=view)


def edit_comment(
    session: Session,
    comment_id: int,
    user: User,
    version: int,
    text: str | None = None,
    speaker: str | None = None,
) -> CommentView:
    """Change a comment if `version` is still the stored one (else Conflict, nothing lost:
    the other person's text comes back with it)."""
    comment = session.get(LiveComment, comment_id)
    if comment is None:
        raise NotFound(f"Aucun commentaire n° {comment_id}.")
    live = _live_of_stop(session, comment.stop_id, user, comment)
    if (
        speaker not in (None, "counsellor")
        and role_of(session, user, live.study_id) != "researcher"
    ):
        raise Forbidden("Un conseiller écrit ses propres propos : « counsellor ».")
    # The stored version + 1 (equal to `version` where the update applies; a client's
    # `version` + 1 could pass the largest integer PostgreSQL stores).
    values: dict[str, Any] = {"version": col(LiveComment.version) + 1, "updated_at": utcnow()}
    if text is not None:
        values["text"] = _clean_text(text)
    if speaker is not None:
        if speaker not in SPEAKERS:
            raise Invalid(f"Locuteur inconnu : {speaker}.")
        values["speaker"] = speaker
    changed = session.exec(
        update(LiveComment)
        .where(col(LiveComment.id) == comment_id, col(LiveComment.version) == version)
        .values(**values)
    )
    if changed.rowcount != 1:
        raise _stale(session, comment_id)
    session.expire(comment)
    fresh = session.get(LiveComment, comment_id, populate_existing=True)
    assert fresh is not None
    view = _comment_view(fresh, _names(session, {fresh.author_id}))
    _comment_event(session, live, "comment", {"comment": view.public()}, user)
    return view


def delete_comment(session: Session, comment_id: int, user: User, version: int) -> None:
    comment = session.get(LiveComment, comment_id)
    if comment is None:
        raise NotFound(f"Aucun commentaire n° {comment_id}.")
    live = _live_of_stop(session, comment.stop_id, user, comment)
    stop_id = comment.stop_id
    deleted = session.exec(
        delete(LiveComment).where(
            col(LiveComment.id) == comment_id, col(LiveComment.version) == version
        )
    )
    if deleted.rowcount != 1:
        raise _stale(session, comment_id)
    payload = {"comment_deleted": {"id": comment_id, "stop_id": stop_id}}
    _comment_event(session, live, "comment_deleted", payload, user)
