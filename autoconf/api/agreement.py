"""Agreement between two coders (or a coder and the consensus), on a recording or over a
study's recordings: every figure, its method and parameters, and the disagreements."""

from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Query
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, ManagedRecordingDep, ManagedStudyDep, SessionDep
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.errors import Invalid
from autoconf.models import CODING_LAYERS, Recording, User
from autoconf.payloads import AgreementPublic
from autoconf.schemes import comparison, covalidation, rounds
from autoconf.studies.recordings import list_recordings

router = IndexedRouter(prefix="/api/v1", tags=["agreement"])


# Codings that are not a member's: the consensus layer, and co-validation's two.
NAMED_CODERS = (comparison.CONSENSUS, *covalidation.PSEUDO_CODERS)


def parse_coders(session: Session, study_id: int, text: str) -> tuple[int | str, int | str]:
    """Two coders: members' user ids, `consensus`, or co-validation's `prior` and
    `covalidated`; Invalid (French) otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise Invalid(
            "« coders » nomme deux codeurs différents, séparés par une virgule : deux numéros "
            "d'utilisateurs, un numéro et « consensus », ou « prior » et « covalidated » "
            "(le codage avant et après la co-validation du conseiller)."
        )
    coders: list[int | str] = []
    for part in parts:
        if part in NAMED_CODERS:
            coders.append(part)
            continue
        if not part.isdigit() or len(part) > 9:
            raise Invalid(
                f"« {part[:40]} » n'est ni un numéro d'utilisateur ni « consensus » (ni "
                "« prior » ou « covalidated », le codage d'avant et d'après la co-validation)."
            )
        if not rounds.coders_among(session, study_id, [int(part)]):
            raise Invalid(f"L'utilisateur n° {part} n'est pas chercheur de cette étude.")
        coders.append(int(part))
    return coders[0], coders[1]


def public(result: comparison.Comparison) -> AgreementPublic:
    return AgreementPublic.model_validate(
        {
            "coders": [str(c) for c in result.coders],
            "layer": result.layer,
            "recording_ids": result.recording_ids,
            "duration_ms": result.duration_ms,
            "slice_ms": result.sliced.slice_ms,
            "slices": result.sliced.slices,
            "percent": result.sliced.percent,
            "kappa": result.sliced.kappa,
            "alpha": result.sliced.alpha,
            "confusion": result.sliced.confusion,
            "segments": result.segments,
            "u_alpha": result.u_alpha,
            "binary_u_alpha": result.binary_u_alpha,
            "cu_alpha": result.cu_alpha,
            "per_code": result.per_code,
            "disagreements": result.disagreements,
        },
        from_attributes=True,
    )


def check_layer(layer: str) -> None:
    if layer not in CODING_LAYERS:
        raise Invalid(
            f"« {layer[:40]} » n'est pas une couche de codage : {', '.join(CODING_LAYERS)}."
        )


@dataclass(frozen=True)
class Options:
    """What the two agreement routes are asked, besides the recordings."""

    coders: str
    layer: str
    slice_ms: int
    threshold: float


def _compared(
    session: Session, study_id: int, recordings: list[Recording], options: Options
) -> AgreementPublic:
    pair = parse_coders(session, study_id, options.coders)
    result = comparison.compare(
        session, recordings, pair, options.layer, options.slice_ms, options.threshold
    )
    return public(result)


def _study(
    session: Session, user: User, study_id: int, recording_ids: str, options: Options
) -> AgreementPublic:
    return _compared(
        session, study_id, study_recordings(session, user, study_id, recording_ids), options
    )


def study_recordings(session: Session, user: User, study_id: int, text: str) -> list[Recording]:
    """The study's recordings named in `text` (ids separated by commas), or all of them
    that are processed (empty `text`: in the order of their codes)."""
    listed = list_recordings(session, user, study_id)
    if not text.strip():
        return sorted((r for r in listed if r.duration_ms is not None), key=lambda r: r.code)
    wanted: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or len(part) > 9:
            raise Invalid(f"« {part[:40]} » n'est pas un numéro d'enregistrement.")
        wanted.append(int(part))
    known = {r.id: r for r in listed}
    if missing := [i for i in wanted if i not in known]:
        raise Invalid(f"L'enregistrement n° {missing[0]} n'est pas dans cette étude.")
    return [known[i] for i in dict.fromkeys(wanted)]


CodersQuery = Annotated[
    str,
    Query(
        description="Two coders: user ids, or one and `consensus` (e.g. `3,consensus`); "
        "`prior,covalidated`: the segments the counsellor gave a verdict on, coded before "
        "and after co-validation."
    ),
]
LayerQuery = Annotated[
    str, Query(description="The layer of the coders' segments (`schemes` by default).")
]
SliceQuery = Annotated[int, Query(ge=100, le=60_000, description="Length of a slice (ms).")]
ThresholdQuery = Annotated[
    float,
    Query(
        gt=0,
        le=1,
        description="Segment matching: the least overlap / total extent of two segments.",
    ),
]
FIGURES = """Time-sliced: each slice takes the code covering most of it ("no code" a category):
percent agreement, Cohen's kappa, Krippendorff's alpha (nominal), the confusion matrix.
Segment-based: ELAN-style matching (overlap ratio `threshold`), matched and left-over counts,
a kappa on them; Krippendorff's unitizing alphas (u, binary, cu; and per code). A figure the
data cannot define is `null` with its `reason` (`single_category`, `empty`). The stretches
where the codings differ are listed."""


def options(
    coders: CodersQuery,
    layer: LayerQuery = "schemes",
    slice_ms: SliceQuery = 1_000,
    threshold: ThresholdQuery = 0.6,
) -> Options:
    check_layer(layer)
    return Options(coders, layer, slice_ms, threshold)


OptionsDep = Annotated[Options, Depends(options)]


@router.get(
    "/recordings/{recording_id}/agreement",
    responses=documented(401, 403, 404, 409, 422),
    summary="How far two coders agree on a recording (researchers)",
    description=FIGURES,
)
async def recording_agreement(
    recording: ManagedRecordingDep, session: SessionDep, asked: OptionsDep
) -> AgreementPublic:
    return await anyio.to_thread.run_sync(
        _compared, session, recording.study_id, [recording], asked
    )


@router.get(
    "/studies/{study_id}/agreement",
    responses=documented(401, 403, 404, 409, 422),
    summary="How far two coders agree over a study's recordings, laid end to end",
    description=FIGURES,
)
async def study_agreement(
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    asked: OptionsDep,
    recordings: Annotated[
        str,
        Query(description="Recording ids separated by commas (default: all processed ones)."),
    ] = "",
) -> AgreementPublic:
    return await anyio.to_thread.run_sync(_study, session, user, study.id or 0, recordings, asked)
