"""Agreement between coders on a recording (issue 18, first step): time-sliced figures."""

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query
from sqlmodel import Session, select

from autoconf.api.deps import ManagedRecordingDep, SessionDep
from autoconf.api.refusals import documented
from autoconf.errors import Invalid
from autoconf.models import CODING_LAYERS, Membership, Recording
from autoconf.payloads import SlicedAgreementPublic
from autoconf.schemes import agreement

router = APIRouter(prefix="/api/v1", tags=["agreement"])


def parse_coders(session: Session, study_id: int, text: str) -> tuple[int | str, int | str]:
    """Two coders: members' user ids, or `consensus`; Invalid (French) otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise Invalid(
            "« coders » nomme deux codeurs différents, séparés par une virgule : deux numéros "
            "d'utilisateurs, ou un numéro et « consensus »."
        )
    coders: list[int | str] = []
    for part in parts:
        if part == agreement.CONSENSUS:
            coders.append(part)
            continue
        if not part.isdigit() or len(part) > 9:
            raise Invalid(f"« {part[:40]} » n'est ni un numéro d'utilisateur ni « consensus ».")
        member = session.exec(
            select(Membership.id).where(
                Membership.study_id == study_id, Membership.user_id == int(part)
            )
        ).first()
        if member is None:
            raise Invalid(f"L'utilisateur n° {part} n'est pas membre de cette étude.")
        coders.append(int(part))
    return coders[0], coders[1]


def _agreement(
    session: Session, recording: Recording, coders: str, layer: str, slice_ms: int
) -> SlicedAgreementPublic:
    pair = parse_coders(session, recording.study_id, coders)
    result = agreement.recording_agreement(session, recording, pair, layer, slice_ms)
    return SlicedAgreementPublic.model_validate(
        {"recording_id": recording.id, "coders": [str(c) for c in pair], "layer": layer}
        | {
            "slice_ms": result.slice_ms,
            "slices": result.slices,
            "percent": result.percent,
            "kappa": result.kappa,
            "alpha": result.alpha,
            "confusion": result.confusion,
        },
        from_attributes=True,
    )


@router.get("/recordings/{recording_id}/agreement", responses=documented(401, 403, 404, 409, 422))
async def recording_agreement(
    recording: ManagedRecordingDep,
    session: SessionDep,
    coders: Annotated[
        str, Query(description="Two coders: user ids, or one and `consensus` (e.g. `3,consensus`).")
    ],
    layer: Annotated[
        str, Query(description="The layer of the coders' segments (`schemes` by default).")
    ] = "schemes",
    slice_ms: Annotated[int, Query(ge=100, le=60_000, description="Length of a slice.")] = 1_000,
) -> SlicedAgreementPublic:
    """How far two coders agree on a recording (researchers only): the recording cut into
    slices, each taking the code covering most of it ("no code" a category); percent
    agreement, Cohen's kappa, Krippendorff's alpha (nominal), the confusion matrix. A figure
    the data cannot define is `null` with its `reason` (`single_category`, `empty`)."""
    if layer not in CODING_LAYERS:
        raise Invalid(
            f"« {layer[:40]} » n'est pas une couche de codage : {', '.join(CODING_LAYERS)}."
        )
    return await anyio.to_thread.run_sync(_agreement, session, recording, coders, layer, slice_ms)
