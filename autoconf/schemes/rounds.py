"""Coding rounds: named coders code the same recordings on one coding layer.

In a *blind* round a coder's segments of the round are *held*: stored with `shared` false,
so that every rule that shows annotations (the annotation list, the pages, the exports, the
synthesis, the live report) shows them to their author only, with no second rule to keep in
step. The round starts by holding what its coders had already put there; a segment a coder
writes on the round's layer of its recordings is held as it is made. When the last coder marks
their coding done, the round is *revealed*: its held segments are shared, each keeping the
round's id as its provenance. Its creator may end it early (that reveals it too, audited).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select, update

from autoconf.errors import Conflict, Forbidden, Invalid, NotFound
from autoconf.models import (
    Annotation,
    CodingRound,
    CodingRoundCoder,
    CodingRoundRecording,
    Membership,
    Recording,
    User,
    utcnow,
)

# The layers a round codes on: the coding, not the consensus (it is what rounds lead to).
ROUND_LAYERS = ("schemes", "phases", "categories")
MAX_ROUND_RECORDINGS = 500


@dataclass(frozen=True)
class RoundCoder:
    user_id: int
    name: str
    done_at: datetime | None


@dataclass(frozen=True)
class RoundView:
    id: int
    study_id: int
    name: str
    layer: str
    blind: bool
    created_by: int | None
    created_at: datetime
    revealed_at: datetime | None
    coders: list[RoundCoder]
    recording_ids: list[int]

    @property
    def open(self) -> bool:
        return self.revealed_at is None

    def coder(self, user_id: int | None) -> RoundCoder | None:
        return next((c for c in self.coders if c.user_id == user_id), None)


def coders_among(session: Session, study_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of `user_ids` who may code in the study: its researchers (a counsellor does not
    code; an administrator who is not a member is no coder either)."""
    return set(
        session.exec(
            select(Membership.user_id).where(
                Membership.study_id == study_id,
                Membership.role == "researcher",
                col(Membership.user_id).in_(list(user_ids)),
            )
        ).all()
    )


def start_round(
    session: Session,
    study_id: int,
    creator_id: int,
    *,
    name: str,
    recording_ids: Sequence[int],
    coder_ids: Sequence[int],
    blind: bool = True,
    layer: str = "schemes",
) -> RoundView:
    """Start a round (Invalid for what the form got wrong, Conflict when one of its
    recordings is already in an open round on that layer); a blind one holds at once the
    segments its coders had already written there."""
    name = name.strip()
    if not name:
        raise Invalid("Donnez un nom au tour de codage (par exemple « Double codage A2–A4 »).")
    if layer not in ROUND_LAYERS:
        raise Invalid("Un tour de codage porte sur les schèmes, les phases ou les catégories.")
    coders = list(dict.fromkeys(coder_ids))
    recordings = list(dict.fromkeys(recording_ids))
    if len(coders) < 2:
        raise Invalid("Un tour de codage réunit au moins deux codeurs.")
    if not recordings:
        raise Invalid("Choisissez au moins un enregistrement à coder.")
    if len(recordings) > MAX_ROUND_RECORDINGS:
        raise Invalid(f"Un tour porte sur {MAX_ROUND_RECORDINGS} enregistrements au plus.")
    researchers = coders_among(session, study_id, coders)
    if missing := [c for c in coders if c not in researchers]:
        raise Invalid(
            f"Les codeurs sont des chercheurs de l'étude : n° {missing[0]} n'en est pas un."
        )
    found = set(
        session.exec(
            select(Recording.id).where(
                Recording.study_id == study_id, col(Recording.id).in_(recordings)
            )
        ).all()
    )
    if missing := [r for r in recordings if r not in found]:
        raise Invalid(f"L'enregistrement n° {missing[0]} n'est pas dans cette étude.")
    busy = session.exec(
        select(CodingRound.name, Recording.code)
        .join(CodingRoundRecording, col(CodingRoundRecording.round_id) == CodingRound.id)
        .join(Recording, col(Recording.id) == CodingRoundRecording.recording_id)
        .where(
            col(CodingRound.revealed_at).is_(None),
            CodingRound.layer == layer,
            col(CodingRoundRecording.recording_id).in_(recordings),
        )
    ).first()
    if busy:
        raise Conflict(
            f"L'enregistrement {busy[1]} est déjà dans le tour « {busy[0]} », en cours : "
            "terminez-le avant d'en commencer un autre sur la même couche."
        )
    coding_round = CodingRound(
        study_id=study_id, name=name[:200], layer=layer, blind=blind, created_by=creator_id
    )
    session.add(coding_round)
    session.flush()
    round_id = coding_round.id or 0
    session.add_all(CodingRoundCoder(round_id=round_id, user_id=c) for c in coders)
    session.add_all(CodingRoundRecording(round_id=round_id, recording_id=r) for r in recordings)
    if blind:
        session.exec(
            update(Annotation)
            .where(
                col(Annotation.recording_id).in_(recordings),
                col(Annotation.layer) == layer,
                col(Annotation.author_id).in_(coders),
                col(Annotation.shared).is_(True),
            )
            .values(shared=False, coding_round_id=round_id)
        )
    session.flush()
    return get_round(session, round_id)


def get_round(session: Session, round_id: int) -> RoundView:
    coding_round = session.get(CodingRound, round_id)
    if coding_round is None:
        raise NotFound(f"Aucun tour de codage n° {round_id}.")
    return _views(session, [coding_round])[0]


def list_rounds(session: Session, study_id: int) -> list[RoundView]:
    """The study's rounds, the open ones first, then the newest."""
    rounds = session.exec(
        select(CodingRound)
        .where(CodingRound.study_id == study_id)
        .order_by(col(CodingRound.revealed_at).is_not(None), col(CodingRound.id).desc())
    ).all()
    return _views(session, list(rounds))


def _views(session: Session, rounds: list[CodingRound]) -> list[RoundView]:
    ids = [r.id for r in rounds]
    coders: dict[int, list[RoundCoder]] = {i or 0: [] for i in ids}
    for round_id, user_id, done_at, username, display in session.execute(
        sa_select(
            col(CodingRoundCoder.round_id),
            col(CodingRoundCoder.user_id),
            col(CodingRoundCoder.done_at),
            col(User.username),
            col(User.display_name),
        )
        .join(User, col(User.id) == CodingRoundCoder.user_id)
        .where(col(CodingRoundCoder.round_id).in_(ids))
        .order_by(col(User.username))
    ):
        coders[round_id].append(RoundCoder(user_id, display or username, done_at))
    recordings: dict[int, list[int]] = {i or 0: [] for i in ids}
    for round_id, recording_id in session.exec(
        select(CodingRoundRecording.round_id, CodingRoundRecording.recording_id)
        .where(col(CodingRoundRecording.round_id).in_(ids))
        .order_by(col(CodingRoundRecording.recording_id))
    ):
        recordings[round_id].append(recording_id)
    return [
        RoundView(
            id=r.id or 0,
            study_id=r.study_id,
            name=r.name,
            layer=r.layer,
            blind=r.blind,
            created_by=r.created_by,
            created_at=r.created_at,
            revealed_at=r.revealed_at,
            coders=coders[r.id or 0],
            recording_ids=recordings[r.id or 0],
        )
        for r in rounds
    ]


# Built once: asked at every segment written (building a statement costs more than running it).
_ROUND_OF = (
    select(CodingRound.id, CodingRound.blind)
    .join(CodingRoundRecording, col(CodingRoundRecording.round_id) == CodingRound.id)
    .join(CodingRoundCoder, col(CodingRoundCoder.round_id) == CodingRound.id)
    .where(
        CodingRoundRecording.recording_id == bindparam("recording"),
        CodingRoundCoder.user_id == bindparam("author"),
        CodingRound.layer == bindparam("layer"),
        col(CodingRound.revealed_at).is_(None),
    )
)


def round_of(
    session: Session, recording_id: int, author_id: int | None, layer: str
) -> tuple[int, bool] | None:
    """The open round in which `author_id` codes `layer` of this recording, and whether it
    is blind (a segment they write there is then held), or None."""
    if author_id is None or layer not in ROUND_LAYERS:
        return None
    found = session.exec(
        _ROUND_OF, params={"recording": recording_id, "author": author_id, "layer": layer}
    ).first()
    return (found[0] or 0, found[1]) if found else None


def open_rounds_of(session: Session, recording_id: int) -> list[RoundView]:
    """The rounds not yet revealed that code this recording."""
    rounds = session.exec(
        select(CodingRound)
        .join(CodingRoundRecording, col(CodingRoundRecording.round_id) == CodingRound.id)
        .where(
            CodingRoundRecording.recording_id == recording_id,
            col(CodingRound.revealed_at).is_(None),
        )
        .order_by(col(CodingRound.id))
    ).all()
    return _views(session, list(rounds))


def check_revealed(
    session: Session, recording_id: int, coders: Sequence[int | str], layer: str
) -> None:
    """Conflict while a blind round on this recording and layer, with one of these coders,
    is not revealed: figures or a comparison would show one coder what the other did."""
    for view in open_rounds_of(session, recording_id):
        ours = any(view.coder(c) for c in coders if isinstance(c, int))
        if view.blind and view.layer == layer and ours:
            waiting = ", ".join(c.name for c in view.coders if c.done_at is None)
            raise Conflict(
                f"Le tour de codage en aveugle « {view.name} » n'est pas terminé "
                f"(en attente : {waiting}) : on ne compare les codages qu'une fois que "
                "chaque codeur a marqué le sien comme terminé."
            )


def mark_done(session: Session, round_id: int, user_id: int, done: bool = True) -> RoundView:
    """A coder marks their coding done (or takes it back before the round is revealed); the
    last one reveals the round."""
    view = get_round(session, round_id)
    if view.coder(user_id) is None:
        raise Forbidden("Seuls les codeurs du tour marquent leur codage comme terminé.")
    if not view.open:
        raise Conflict("Ce tour est terminé : tous les codages sont déjà visibles.")
    now = utcnow()
    session.exec(
        update(CodingRoundCoder)
        .where(col(CodingRoundCoder.round_id) == round_id, col(CodingRoundCoder.user_id) == user_id)
        .values(done_at=now if done else None)
    )
    waiting = session.exec(
        select(func.count())
        .select_from(CodingRoundCoder)
        .where(CodingRoundCoder.round_id == round_id, col(CodingRoundCoder.done_at).is_(None))
    ).one()
    if waiting == 0:
        _reveal(session, round_id, now)
    session.flush()
    session.expire_all()
    return get_round(session, round_id)


def end_round(session: Session, round_id: int, user: User) -> RoundView:
    """Its creator (or an administrator) ends a round before every coder is done: it is
    revealed as it stands."""
    view = get_round(session, round_id)
    if view.created_by != user.id and user.role != "admin":
        raise Forbidden("Seul le chercheur qui a commencé ce tour peut l'arrêter.")
    if not view.open:
        raise Conflict("Ce tour est déjà terminé.")
    _reveal(session, round_id, utcnow())
    session.flush()
    session.expire_all()
    return get_round(session, round_id)


def _reveal(session: Session, round_id: int, now: datetime) -> None:
    session.exec(update(CodingRound).where(col(CodingRound.id) == round_id).values(revealed_at=now))
    session.exec(
        update(Annotation)
        .where(
            col(Annotation.coding_round_id) == round_id,
            col(Annotation.shared).is_(False),
            col(Annotation.layer) != "prepared",
        )
        .values(shared=True)
    )
