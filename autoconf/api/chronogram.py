"""The chronogram of a study's recordings: its action schemes over time, as SVG or PNG."""

from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import Response

from autoconf.api.deps import AuditedExport, ManagedStudyDep, SessionDep
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import ExportLanguage, parse_ids
from autoconf.i18n import gettext as _
from autoconf.schemes import chronogram

router = IndexedRouter(prefix="/api/v1", tags=["synthesis"])

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
PNG_PIXELS = 40_000_000  # past this the PNG is drawn at 1 pixel per unit, not 2


@router.get(
    "/studies/{study_id}/chronogram",
    response_class=Response,
    responses={200: {"content": {media_type: {} for media_type in MEDIA_TYPES.values()}}},
)
def study_chronogram(
    study: ManagedStudyDep,
    _audit: AuditedExport,
    session: SessionDep,
    _language: ExportLanguage,
    recordings: Annotated[
        str | None, Query(description="Recording ids, top to bottom (default: all, by code).")
    ] = None,
    format: Literal["svg", "png"] = "svg",
    download: Annotated[bool, Query(description="As a file to save, not to show.")] = False,
) -> Response:
    """Per recording (its code), a row of its phases and a row per top-level action scheme
    (children in their parent's row), segments as coloured bands and moments as ticks on
    one time axis shared by all the recordings, with a legend."""
    chart = chronogram.study_chronogram(
        session,
        study.id or 0,
        parse_ids(recordings),
        title=_("Schèmes d'action"),
        phase_label=_("Phases"),
    )
    frame = chronogram.layout(chart)
    if format == "png":
        scale = 2 if frame.width * frame.height * 4 <= PNG_PIXELS else 1
        content = chronogram.to_png(frame, scale)
    else:
        content = chronogram.to_svg(frame).encode()
    disposition = "attachment" if download else "inline"
    name = _("chronogramme-etude-%(study)s") % {"study": study.id}
    name += f".{format}"
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            # An SVG opened on its own is a document of this origin: let it run nothing.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )
