"""A recording's draft transcript: the cues the model found, which the researcher corrects
(text, times, speaker), splits, merges, and validates; validated, they replace the
recording's transcript (annotations of origin `transcript`, as an import does) and the
draft is gone. Every change checks the version the editor read, as annotations do."""

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, delete, select

from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.i18n import gettext as _
from autoconf.models import DraftCue, Recording, utcnow
from autoconf.schemes.subtitles import Cue
from autoconf.schemes.timecode import format_ms
from autoconf.schemes.transcripts import replace_transcript
from autoconf.transcribe.turns import Turn

MAX_TEXT = 5000
MAX_SPEAKER = 100


def replace_draft(session: Session, recording_id: int | None, found: Sequence[Turn]) -> int:
    """The recording's draft made of `found`, instead of the previous one; how many cues.
    The caller commits."""
    session.exec(delete(DraftCue).where(col(DraftCue.recording_id) == recording_id))
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "recording_id": recording_id,
            "start_ms": turn.start_ms,
            "end_ms": max(turn.end_ms, turn.start_ms),
            "speaker": turn.speaker,
            "text": turn.text,
            "words": [[w.start_ms, w.end_ms, w.text] for w in turn.words],
            "version": 1,
            "updated_at": now,
        }
        for turn in found
    ]
    if rows:
        session.execute(insert(DraftCue), rows)
    return len(rows)


def draft_of(session: Session, recording_id: int | None) -> list[DraftCue]:
    """The draft's cues in time order."""
    return list(
        session.exec(
            select(DraftCue)
            .where(DraftCue.recording_id == recording_id)
            .order_by(col(DraftCue.start_ms), col(DraftCue.id))
        ).all()
    )


def count_of(session: Session, recording_id: int | None) -> int:
    return session.exec(
        select(func.count()).select_from(DraftCue).where(DraftCue.recording_id == recording_id)
    ).one()


def cue_of(session: Session, recording_id: int | None, cue_id: int) -> DraftCue:
    cue = session.get(DraftCue, cue_id)
    if cue is None or cue.recording_id != recording_id:
        raise NotFound(_("Cette réplique du brouillon n'existe plus."))
    return cue


def _current(cue: DraftCue, version: int) -> None:
    if cue.version != version:
        raise Conflict(
            _(
                "Cette réplique a été modifiée entre-temps (dans une autre fenêtre ?) : "
                "rechargez le brouillon."
            ),
            current=as_dict(cue),
        )


def _touched(session: Session, cue: DraftCue) -> None:
    cue.version += 1
    cue.updated_at = utcnow()
    session.add(cue)


def edit(
    session: Session,
    recording: Recording,
    cue_id: int,
    version: int,
    text: str | None = None,
    speaker: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> DraftCue:
    """Correct one cue (what is given); the caller commits."""
    cue = cue_of(session, recording.id, cue_id)
    _current(cue, version)
    if text is not None:
        cue.text = _text(text)
    if speaker is not None:
        cue.speaker = _speaker(speaker)
    start = cue.start_ms if start_ms is None else start_ms
    end = cue.end_ms if end_ms is None else end_ms
    limit = recording.duration_ms
    if start < 0 or end < start or (limit is not None and end > limit + 1000):
        raise Invalid(
            _(
                "Une réplique va de 0 à la fin de l'enregistrement et finit après son début "
                "(%(start)s – %(end)s)."
            )
            % {"start": format_ms(start), "end": format_ms(end)}
        )
    cue.start_ms, cue.end_ms = start, end
    _touched(session, cue)
    return cue


def split(session: Session, recording: Recording, cue_id: int, version: int, at: int) -> DraftCue:
    """Cut a cue in two at character `at` of its text: the first part keeps the cue, the
    second becomes a new cue from the time of its first word (the model's, or in proportion
    to the characters); the new cue, the caller commits."""
    cue = cue_of(session, recording.id, cue_id)
    _current(cue, version)
    before, after = cue.text[:at].rstrip(), cue.text[at:].lstrip()
    if not 0 < at < len(cue.text) or not before or not after:
        raise Invalid(_("Placez le curseur entre deux mots de la réplique pour la couper."))
    words_before, words_after, cut_ms = _cut_words(cue, len(before))
    second = DraftCue(
        recording_id=cue.recording_id,
        start_ms=cut_ms,
        end_ms=max(cue.end_ms, cut_ms),
        speaker=cue.speaker,
        text=after,
        words=words_after,
    )
    cue.text, cue.words, cue.end_ms = before, words_before, max(cut_ms, cue.start_ms)
    _touched(session, cue)
    session.add(second)
    session.flush()
    return second


def _cut_words(cue: DraftCue, chars: int) -> tuple[list[Any], list[Any], int]:
    """The words on either side of the first `chars` characters of the text, and the time
    of the cut."""
    spoken = 0
    for index, (start, _end, word) in enumerate(cue.words):
        if spoken >= chars and index > 0:
            return cue.words[:index], cue.words[index:], int(start)
        spoken += len(str(word))
    share = chars / max(len(cue.text), 1)
    return [], [], cue.start_ms + round((cue.end_ms - cue.start_ms) * share)


def merge(session: Session, recording: Recording, cue_id: int, version: int) -> DraftCue:
    """Join a cue and the next one (its text after, its end, its words); the joined cue,
    the caller commits."""
    cue = cue_of(session, recording.id, cue_id)
    _current(cue, version)
    cues = draft_of(session, recording.id)
    nxt = next((after for this, after in pairwise(cues) if this.id == cue.id), None)
    if nxt is None:
        raise Invalid(_("C'est la dernière réplique : il n'y a rien à joindre après elle."))
    cue.text = _text(f"{cue.text} {nxt.text}".strip())
    cue.end_ms = max(cue.end_ms, nxt.end_ms)
    cue.words = [*cue.words, *nxt.words]
    _touched(session, cue)
    session.delete(nxt)
    return cue


def rename_speakers(session: Session, recording: Recording, names: dict[str, str]) -> int:
    """Rename the draft's speakers all at once (`{"A": "B", "B": "A"}` swaps two); how many
    cues changed. The caller commits."""
    if not names:
        raise Invalid(_("Indiquez au moins un locuteur à renommer."))
    cleaned = {str(old): _speaker(new) for old, new in names.items()}
    changed = 0
    for cue in draft_of(session, recording.id):
        if cue.speaker in cleaned and cleaned[cue.speaker] != cue.speaker:
            cue.speaker = cleaned[cue.speaker]
            _touched(session, cue)
            changed += 1
    return changed


def speakers(cues: Sequence[DraftCue]) -> list[str]:
    """The draft's speakers, in order of first appearance."""
    return list(dict.fromkeys(cue.speaker for cue in cues if cue.speaker))


def validate(session: Session, recording: Recording, author_id: int | None) -> int:
    """The draft becomes the recording's transcript (replacing the current one), and is
    gone; how many cues. The caller commits."""
    cues = draft_of(session, recording.id)
    kept = [Cue(c.start_ms, c.end_ms, c.speaker or None, c.text) for c in cues if c.text.strip()]
    if not kept:
        raise Invalid(_("Le brouillon ne contient aucune réplique à valider."))
    count = replace_transcript(session, recording, kept, author_id)
    discard(session, recording)
    return count


def discard(session: Session, recording: Recording) -> None:
    session.exec(delete(DraftCue).where(col(DraftCue.recording_id) == recording.id))


def as_dict(cue: DraftCue) -> dict[str, Any]:
    return {
        "id": cue.id,
        "start_ms": cue.start_ms,
        "end_ms": cue.end_ms,
        "speaker": cue.speaker,
        "text": cue.text,
        "version": cue.version,
        "words": cue.words,
    }


def _text(text: str) -> str:
    text = " ".join(text.replace("\x00", "").split())
    if not text:
        raise Invalid(_("Une réplique ne peut pas être vide : joignez-la à une autre."))
    if len(text) > MAX_TEXT:
        raise Invalid(_("Une réplique fait au plus %(count)s caractères.") % {"count": MAX_TEXT})
    return text


def _speaker(name: str) -> str:
    name = " ".join(name.replace("\x00", "").split())
    if not name or len(name) > MAX_SPEAKER:
        raise Invalid(
            _("Un locuteur a un nom de 1 à %(count)s caractères.") % {"count": MAX_SPEAKER}
        )
    return name
