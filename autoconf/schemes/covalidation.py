"""Counsellor co-validation (issue 18): what the counsellor says of a coding segment a
researcher shows them, agreed, contested, or said otherwise ("reformulated") in their own
words; kept with who said it, who typed it (the counsellor on their page, or a researcher
during the live session), and the segment's times and codes as they were at the first
verdict, so that the prior coding stays readable once the researchers change the segment.

The verdicts make a coding of their own, compared with the prior one like any two coders
(`comparison`, pseudo-coders `prior` and `covalidated`): agreed keeps the codes; contested
takes the codes the researchers read into the counsellor's words, else none; reformulated
takes those codes if any, else keeps the segment's.

Who may do what is `studies.access`'s (`require_covalidation_segment`,
`covalidation_role`): this module takes the segment and the part they settled.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from autoconf.errors import Invalid, NotFound
from autoconf.i18n import gettext as _
from autoconf.models import (
    CODING_LAYERS,
    COVALIDATION_STATES,
    Annotation,
    Code,
    Codebook,
    Counsellor,
    CoValidation,
    Recording,
    User,
    utcnow,
)
from autoconf.schemes import annotations
from autoconf.schemes.agreement import Coded
from autoconf.schemes.annotation_table import CODE_SEPARATOR, author_codes
from autoconf.schemes.codebooks import code_paths
from autoconf.schemes.tables import Cell, Table
from autoconf.schemes.timecode import format_ms

STATES = COVALIDATION_STATES
AGREED, CONTESTED, REFORMULATED = STATES
# The two codings co-validation makes, named like coders in `comparison`.
PRIOR = "prior"
COVALIDATED = "covalidated"
PSEUDO_CODERS = (PRIOR, COVALIDATED)
MAX_WORDS = 10_000  # as a note
# The codebooks whose codes the researchers may read into the counsellor's words.
PROPOSED_KINDS = ("schemes", "phases", "categories")


@dataclass(frozen=True)
class VerdictView:
    id: int
    annotation_id: int
    state: str
    words: str
    start_ms: int  # the segment as it was at the first verdict
    end_ms: int
    codes: list[str]
    proposed_code_ids: list[int]
    proposed_codes: list[str]
    said_by_id: int | None
    said_by_name: str
    recorded_by_id: int | None
    recorded_by_name: str
    by_counsellor: bool  # typed by the counsellor themselves
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ShownSegment:
    """A coding segment shown to the counsellor (or, for the researchers, one that has a
    verdict though no longer shown), as it is now, with its verdict."""

    annotation_id: int
    recording_id: int
    layer: str
    start_ms: int
    end_ms: int
    code_ids: list[int]
    codes: list[str]
    note: str
    shown: bool
    changed: bool  # its times or codes are no longer those the verdict was given on
    verdict: VerdictView | None


def covalidated_codes(state: str, codes: Sequence[str], proposed: Sequence[str]) -> list[str]:
    """The codes a segment has once co-validated (see the module's docstring)."""
    if state == AGREED:
        return list(codes)
    if state == CONTESTED:
        return list(proposed)
    return list(proposed) if proposed else list(codes)


def _ordered_paths(ids: Collection[int], paths: dict[int, str]) -> list[str]:
    """The paths of `ids`, in codebook order (as `code_paths` lists them)."""
    return [path for code_id, path in paths.items() if code_id in ids]


def _check_proposed(session: Session, study_id: int, code_ids: Sequence[int]) -> list[int]:
    """The proposed codes to store (each once, in order): codes of the study's coding
    codebooks, not archived; Invalid, in French, for any other."""
    wanted = list(dict.fromkeys(code_ids))
    if not wanted:
        return []
    found = {
        code_id: (archived, study, kind)
        for code_id, archived, study, kind in session.exec(
            select(Code.id, Code.archived, Codebook.study_id, Codebook.kind)
            .join(Codebook, col(Codebook.id) == Code.codebook_id)
            .where(col(Code.id).in_(wanted))
        ).all()
    }
    for code_id in wanted:
        if code_id not in found or found[code_id][1] != study_id:
            raise Invalid(f"Le code n° {code_id} n'est pas un code de cette étude.")
        archived, _study, kind = found[code_id]
        if kind not in PROPOSED_KINDS:
            raise Invalid(
                f"Le code n° {code_id} n'est pas un code de l'analyse (schèmes, phases ou "
                "catégories)."
            )
        if archived:
            raise Invalid(f"Le code n° {code_id} est archivé ; on ne peut plus l'appliquer.")
    return wanted


def record(
    session: Session,
    recording: Recording,
    segment: Annotation,
    user: User,
    *,
    researcher: bool,
    said_by: int | None,
    state: str,
    words: str = "",
    proposed_code_ids: Sequence[int] | None = None,
) -> VerdictView:
    """Record what the counsellor (`said_by`) says of `segment`, typed by `user`, or change
    it (its first date kept). Proposed codes: None leaves them as they are, unless the
    counsellor changes what they said (the researchers' reading was of other words).
    Invalid, in French, for an unknown state, missing words, an unknown code."""
    if state not in STATES:
        raise Invalid(f"Avis inconnu : « {state[:20]} » ({', '.join(STATES)}).")
    words = words.strip()
    if state != AGREED and not words:
        raise Invalid(
            "« Pas d'accord » et « Le dirait autrement » demandent les mots du conseiller : "
            "écrivez ce qu'il en dit."
            if researcher
            else "« Pas d'accord » et « Je le dirais autrement » demandent vos mots : écrivez "
            "ce que vous en dites."
        )
    if "\x00" in words:
        raise Invalid("Vos mots contiennent un caractère nul (\\u0000) : retirez-le.")
    if len(words) > MAX_WORDS:
        raise Invalid(f"Vos mots dépassent {MAX_WORDS} caractères.")
    proposed = (
        None
        if proposed_code_ids is None
        else _check_proposed(session, recording.study_id, proposed_code_ids)
    )
    verdict = session.exec(
        select(CoValidation).where(CoValidation.annotation_id == segment.id)
    ).first()
    paths = code_paths(session, recording.study_id)
    now = utcnow()
    if verdict is None:
        codes = annotations.codes_by_annotation(session, [segment.id or 0]).get(segment.id or 0, [])
        verdict = CoValidation(
            annotation_id=segment.id or 0,
            state=state,
            words=words,
            start_ms=segment.start_ms,
            end_ms=segment.end_ms if segment.end_ms is not None else segment.start_ms,
            codes=_ordered_paths(set(codes), paths),
            proposed_code_ids=proposed or [],
            said_by_id=said_by,
            recorded_by_id=user.id,
            created_at=now,
            updated_at=now,
        )
    else:
        said_otherwise = (verdict.state, verdict.words) != (state, words)
        if proposed is not None:
            verdict.proposed_code_ids = proposed
        elif said_otherwise and not researcher:
            verdict.proposed_code_ids = []
        verdict.state, verdict.words = state, words
        verdict.said_by_id = said_by if said_by is not None else verdict.said_by_id
        verdict.recorded_by_id = user.id
        verdict.updated_at = now
    session.add(verdict)
    session.flush()
    names = annotations.user_names(session, [verdict.said_by_id, verdict.recorded_by_id])
    return _view(verdict, paths, names, researcher)


def remove(session: Session, segment: Annotation) -> None:
    """Take back what was said of `segment`; NotFound when nothing was."""
    verdict = session.exec(
        select(CoValidation).where(CoValidation.annotation_id == segment.id)
    ).first()
    if verdict is None:
        raise NotFound(f"Aucun avis du conseiller sur le segment n° {segment.id}.")
    session.delete(verdict)
    session.flush()


def _view(
    verdict: CoValidation, paths: dict[int, str], names: dict[int, str], researcher: bool
) -> VerdictView:
    """The verdict as `researcher` (or the counsellor) reads it: a counsellor never gets the
    codes the researchers read into their words."""
    proposed = verdict.proposed_code_ids if researcher else []
    return VerdictView(
        id=verdict.id or 0,
        annotation_id=verdict.annotation_id,
        state=verdict.state,
        words=verdict.words,
        start_ms=verdict.start_ms,
        end_ms=verdict.end_ms,
        codes=list(verdict.codes),
        proposed_code_ids=[c for c in proposed if c in paths],
        proposed_codes=_ordered_paths(set(proposed), paths),
        said_by_id=verdict.said_by_id,
        said_by_name=names.get(verdict.said_by_id or 0, ""),
        recorded_by_id=verdict.recorded_by_id,
        recorded_by_name=names.get(verdict.recorded_by_id or 0, ""),
        by_counsellor=verdict.recorded_by_id is not None
        and verdict.recorded_by_id == verdict.said_by_id,
        created_at=verdict.created_at,
        updated_at=verdict.updated_at,
    )


def list_segments(
    session: Session,
    recording: Recording,
    visible: ColumnElement[bool],
    *,
    researcher: bool,
    reads: Callable[[int | None], bool],
) -> list[ShownSegment]:
    """The coding segments of `recording` shown to its counsellor that the reader sees
    (`visible`: `studies.access.AnnotationScope.clause`), in time order, with their
    verdicts; for the researchers, also those with a verdict no longer shown. A segment
    whose answer the reader may not read (`reads`, given who said it: another counsellor's)
    is left out."""
    given = select(CoValidation.annotation_id)
    shown = and_(col(Annotation.shown_to_counsellor).is_(True), col(Annotation.shared).is_(True))
    clause = and_(
        visible,
        col(Annotation.layer).in_(CODING_LAYERS),
        col(Annotation.end_ms).is_not(None),
        or_(shown, col(Annotation.id).in_(given)) if researcher else shown,
    )
    views = annotations.list_annotations(session, recording.id or 0, clause)
    verdicts = {
        v.annotation_id: v
        for v in session.exec(
            select(CoValidation).where(
                col(CoValidation.annotation_id).in_([view.id for view in views])
            )
        ).all()
    }
    paths = code_paths(session, recording.study_id)
    names = annotations.user_names(
        session, [i for v in verdicts.values() for i in (v.said_by_id, v.recorded_by_id)]
    )
    found = []
    for view in views:
        codes = _ordered_paths(set(view.code_ids), paths)
        verdict = verdicts.get(view.id)
        if verdict is not None and not reads(verdict.said_by_id):
            continue
        end = view.end_ms if view.end_ms is not None else view.start_ms
        was = (verdict.codes, verdict.start_ms, verdict.end_ms) if verdict else None
        found.append(
            ShownSegment(
                annotation_id=view.id,
                recording_id=view.recording_id,
                layer=view.layer,
                start_ms=view.start_ms,
                end_ms=end,
                code_ids=view.code_ids,
                codes=codes,
                note=view.note,
                shown=view.shown_to_counsellor and view.shared,
                changed=was is not None and was != (codes, view.start_ms, end),
                verdict=_view(verdict, paths, names, researcher) if verdict else None,
            )
        )
    return found


def codings(
    session: Session, recording: Recording, coder: str, layer: str, paths: dict[int, str]
) -> list[Coded]:
    """The prior coding (`PRIOR`: each segment with a verdict, as it was at the first one)
    or the co-validated one (`COVALIDATED`) of the segments of `layer` on `recording`, one
    `Coded` per code. An answer given after the segment last changed is about the segment
    as it is now (the researchers recoded it, the counsellor then agreed): its co-validated
    coding takes the segment's current times and codes; otherwise those of the snapshot.
    Segments a blind round holds are left out (shared ones only, as everywhere)."""
    rows = session.execute(
        sa_select(
            col(CoValidation.annotation_id),
            col(CoValidation.start_ms),
            col(CoValidation.end_ms),
            col(CoValidation.state),
            col(CoValidation.codes),
            col(CoValidation.proposed_code_ids),
            col(CoValidation.updated_at),
            col(Annotation.start_ms),
            col(Annotation.end_ms),
            col(Annotation.updated_at),
        )
        .join(Annotation, col(Annotation.id) == CoValidation.annotation_id)
        .where(
            col(Annotation.recording_id) == recording.id,
            col(Annotation.layer) == layer,
            col(Annotation.shared).is_(True),
        )
        .order_by(col(CoValidation.start_ms), col(CoValidation.annotation_id))
    ).all()
    current = annotations.codes_by_annotation(session, [row[0] for row in rows])
    coded: list[Coded] = []
    for row in rows:
        annotation_id, start_ms, end_ms, state, codes, proposed, answered = row[:7]
        now_start, now_end, changed = row[7:]
        if coder == COVALIDATED:
            if answered >= changed:  # the answer is about the segment as it is now
                start_ms, end_ms = now_start, now_end if now_end is not None else now_start
                codes = _ordered_paths(set(current.get(annotation_id, [])), paths)
            codes = covalidated_codes(state, codes, _ordered_paths(set(proposed), paths))
        coded.extend(Coded(start_ms, end_ms, code, annotation_id) for code in codes)
    return coded


def state_labels() -> dict[str, str]:
    """How the export names each state, in the reader's language."""
    return {AGREED: _("d'accord"), CONTESTED: _("contesté"), REFORMULATED: _("reformulé")}


def study_table(
    session: Session, study_id: int, title: str, researcher: str, withheld: Collection[int]
) -> Table:
    """Every verdict of the study, a row each, by recording code then time: the segment as
    it was (times, codes), the verdict, the counsellor's words (left out for the recordings
    in `withheld`, whose content may not be exported), the codes read into them, who said it
    and who typed it (pseudonymised: a counsellor's code, `researcher` and a letter), when.
    Dates are UTC."""
    rows = session.execute(
        sa_select(
            CoValidation,
            col(Recording.id),
            col(Recording.code),
            col(Counsellor.code),
            col(Annotation.layer),
        )
        .join(Annotation, col(Annotation.id) == CoValidation.annotation_id)
        .join(Recording, col(Recording.id) == Annotation.recording_id)
        .outerjoin(Counsellor, col(Counsellor.id) == Recording.counsellor_id)
        # a segment a blind coding round holds is its coder's alone until the reveal
        .where(col(Recording.study_id) == study_id, col(Annotation.shared).is_(True))
        .order_by(col(Recording.code), col(CoValidation.start_ms), col(CoValidation.id))
    ).all()
    people = {i for v, *_ in rows for i in (v.said_by_id, v.recorded_by_id) if i is not None}
    who = author_codes(session, study_id, people, researcher)
    paths = code_paths(session, study_id)
    states = state_labels()
    layers = {
        "schemes": _("Schèmes"),
        "consensus": _("Consensus"),
        "phases": _("Phases"),
        "categories": _("Catégories"),
    }
    lines: list[list[Cell]] = []
    for verdict, recording_id, recording_code, counsellor_code, layer in rows:
        said_by = who.get(verdict.said_by_id, "") if verdict.said_by_id else counsellor_code
        lines.append(
            [
                recording_code,
                layers.get(layer, layer),
                format_ms(verdict.start_ms),
                format_ms(verdict.end_ms),
                CODE_SEPARATOR.join(verdict.codes),
                states.get(verdict.state, verdict.state),
                "" if recording_id in withheld else verdict.words,
                CODE_SEPARATOR.join(_ordered_paths(set(verdict.proposed_code_ids), paths)),
                said_by or "",
                who.get(verdict.recorded_by_id, "") if verdict.recorded_by_id else "",
                _utc(verdict.created_at),
                _utc(verdict.updated_at),
            ]
        )
    header = [
        _("Enregistrement"),
        _("Couche"),
        _("Début"),
        _("Fin"),
        _("Codes lors de l'avis"),
        _("Avis"),
        _("En ses mots"),
        _("Codes proposés"),
        _("Dit par"),
        _("Saisi par"),
        _("Donné le (UTC)"),
        _("Modifié le (UTC)"),
    ]
    return Table(title=title, header=header, rows=lines)


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
