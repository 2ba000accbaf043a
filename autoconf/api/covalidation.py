"""Counsellor co-validation (issue 18): the coding segments shown to a recording's counsellor
and what they say of each (agreed, contested, said otherwise), for the counsellor and the
study's researchers; the study's verdicts as a table to export (researchers); and the
recording page's form. Who may do what: `studies.access`."""

from dataclasses import dataclass
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import Form, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedStudyDep,
    PathId,
    RecordingDep,
    SessionDep,
    audit_study_export,
    write,
)
from autoconf.api.downloads import attachment
from autoconf.api.refusals import documented
from autoconf.api.routing import IndexedRouter
from autoconf.api.synthesis import ExportReader, parse_id
from autoconf.consent import records as consent
from autoconf.errors import Invalid
from autoconf.i18n import gettext as _
from autoconf.live import stops
from autoconf.models import Recording, Study, User
from autoconf.payloads import CoValidationPublic, CoValidationSegmentPublic
from autoconf.payloads import CoValidationSet as Said
from autoconf.schemes import covalidation, writers
from autoconf.schemes.codebooks import CodeNode, list_codebooks
from autoconf.studies import access

router = IndexedRouter(tags=["co-validation"])


def segments(session: Session, user: User, recording: Recording) -> list[covalidation.ShownSegment]:
    """The recording's segments shown to its counsellor, as `user` may read them."""
    role = access.covalidation_role(session, user, recording)
    scope = access.annotation_scope(session, user, recording.study_id)
    return covalidation.list_segments(
        session, recording, scope.clause(), researcher=role.researcher, reads=role.reads_answer
    )


@dataclass(frozen=True)
class CoValidationPage:
    """What the recording page's co-validation card shows."""

    # The study's researchers' card (who said what, exports), else the counsellor's own.
    researcher: bool
    segments: list[covalidation.ShownSegment]
    study_id: int
    # Researchers: the codes they may read into the counsellor's words, by codebook.
    books: list[tuple[str, list[CodeNode]]]
    # The recording's counsellor's grammatical gender, for the card's wording (`wording`).
    counsellor_gender: str = ""


def page_context(session: Session, user: User, recording: Recording) -> CoValidationPage | None:
    """The co-validation card of a recording page, for its counsellor and the study's
    researchers; None while the study has co-validation off."""
    study = session.get(Study, recording.study_id)
    if study is None or not study.co_validation:
        return None
    role = access.covalidation_role(session, user, recording)
    books = []
    if role.researcher:
        books = [
            (book.name, [node for node in nodes if not node.archived])
            for book, nodes in list_codebooks(session, recording.study_id)
            if book.kind in covalidation.PROPOSED_KINDS
        ]
    return CoValidationPage(
        role.researcher,
        segments(session, user, recording),
        recording.study_id,
        books,
        stops.counsellor_gender(session, None, recording.id),
    )


def _record(
    session: Session,
    recording: Recording,
    user: User,
    annotation_id: int,
    said: Said,
) -> covalidation.VerdictView:
    proposes = said.proposed_code_ids is not None
    segment, role = access.require_covalidation_segment(
        session, user, recording, annotation_id, proposes=proposes
    )
    return covalidation.record(
        session,
        recording,
        segment,
        user,
        researcher=role.researcher,
        said_by=role.said_by,
        state=said.state,
        words=said.words,
        proposed_code_ids=said.proposed_code_ids,
    )


def _remove(session: Session, recording: Recording, user: User, annotation_id: int) -> None:
    segment, _role = access.require_covalidation_segment(
        session, user, recording, annotation_id, removing=True
    )
    covalidation.remove(session, segment)


@router.get("/api/v1/recordings/{recording_id}/covalidation", responses=documented(401, 403, 404))
async def list_covalidation(
    recording: RecordingDep, user: CurrentUser, session: SessionDep
) -> list[CoValidationSegmentPublic]:
    """The coding segments shown to the recording's counsellor, in time order, each with
    what the counsellor said of it (null: nothing yet). For the counsellor: those shown to
    them (none while the study has co-validation off), never the codes the researchers read
    into their words. For the study's researchers: also the segments with a verdict that
    are no longer shown, with who said what."""
    found = await anyio.to_thread.run_sync(segments, session, user, recording)
    return [CoValidationSegmentPublic.model_validate(s) for s in found]


@router.put(
    "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}",
    responses=documented(401, 403, 404, 409, 422),
)
async def say(
    request: Request,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
    annotation_id: PathId,
    body: Said,
) -> CoValidationPublic:
    """Record what the counsellor says of a segment shown to them, or change it (its first
    date and the coding it was given on are kept): the counsellor themselves, or a
    researcher typing it for them during the session. Only researchers set
    `proposed_code_ids`. 409 while the study has co-validation off or the segment is not
    shown to the counsellor."""
    view = await write(request, session, _record, session, recording, user, annotation_id, body)
    return CoValidationPublic.model_validate(view)


@router.delete(
    "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(401, 403, 404, 409, 422),
)
async def take_back(
    request: Request,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
    annotation_id: PathId,
) -> Response:
    """Take back what was said of a segment (the counsellor, or a researcher)."""
    await write(request, session, _remove, session, recording, user, annotation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _table_file(session: Session, study: Study, fmt: str, reader: writers.Reader) -> bytes:
    study_id = study.id or 0
    table = covalidation.study_table(
        session,
        study_id,
        _("Co-validation par les conseillers"),
        _("Chercheur·e"),
        consent.withheld(session, study_id),
    )
    return writers.write(table, fmt, reader)


async def _export(
    request: Request,
    study: Study,
    user: User,
    session: Session,
    reader: writers.Reader,
    fmt: Literal["csv", "xlsx"],
) -> Response:
    content = await anyio.to_thread.run_sync(_table_file, session, study, fmt, reader)
    await audit_study_export(request, session, user, study.id or 0, "covalidation", format=fmt)
    media_type, extension = writers.FORMATS[fmt]
    name = _("co-validation-etude-%(study)s") % {"study": study.id}
    return Response(content, media_type=media_type, headers=attachment(f"{name}.{extension}"))


EXPORT_DESCRIPTION = """Every verdict of the study's counsellors, a row each, by recording
then time: recording code, layer, the segment's start and end when the verdict was given
(`10’02`), its codes then, the verdict, the counsellor's words (left empty for a recording
whose consents are missing), the codes the researchers read into them, who said it and who
typed it (pseudonymised: the counsellor's code, « Chercheur·e A »…), given and changed
(UTC). Headers in the reader's language. Each export is in the audit log."""


@router.get(
    "/api/v1/studies/{study_id}/covalidation.csv",
    response_class=Response,
    responses={
        200: {"content": {writers.FORMATS["csv"][0]: {}}},
        **documented(401, 403, 404, 422),
    },
    summary="The study's co-validation verdicts as CSV (researchers)",
    description=EXPORT_DESCRIPTION,
)
async def export_csv(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    reader: ExportReader,
) -> Response:
    return await _export(request, study, user, session, reader, "csv")


@router.get(
    "/api/v1/studies/{study_id}/covalidation.xlsx",
    response_class=Response,
    responses={
        200: {"content": {writers.FORMATS["xlsx"][0]: {}}},
        **documented(401, 403, 404, 422),
    },
    summary="The study's co-validation verdicts as a spreadsheet (researchers)",
    description=EXPORT_DESCRIPTION,
)
async def export_xlsx(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    reader: ExportReader,
) -> Response:
    return await _export(request, study, user, session, reader, "xlsx")


def _code_ids(values: list[str]) -> list[int]:
    """The codes chosen in the researchers' form ("" is the field's empty marker)."""
    return [
        parse_id(value, _("« {value} » n'est pas un numéro.").format(value=value[:20]))
        for value in values
        if value
    ]


@router.post("/recordings/{recording_id}/covalidation/{annotation_id}", include_in_schema=False)
async def say_form(
    request: Request,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
    annotation_id: PathId,
    state: Annotated[str, Form()] = "",
    words: Annotated[str, Form()] = "",
    proposed_code_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The recording page's co-validation form: what the counsellor says of a segment (a
    researcher's form also sends the codes they read into it, an empty marker when none)."""
    if state not in covalidation.STATES:
        raise Invalid(
            _("Choisissez une réponse : d'accord, pas d'accord, ou vous le diriez autrement.")
        )
    try:
        said = Said(
            state=state,
            words=words,
            proposed_code_ids=None if proposed_code_ids is None else _code_ids(proposed_code_ids),
        )
    except ValidationError:
        raise Invalid(
            _("Vos mots dépassent 10 000 caractères, ou un code choisi n'est pas valable.")
        ) from None
    await write(request, session, _record, session, recording, user, annotation_id, said)
    return RedirectResponse(f"/recordings/{recording.id}#covalidation", status_code=303)


@router.post(
    "/recordings/{recording_id}/covalidation/{annotation_id}/delete", include_in_schema=False
)
async def take_back_form(
    request: Request,
    recording: RecordingDep,
    user: CurrentUser,
    session: SessionDep,
    annotation_id: PathId,
) -> Response:
    """The recording page's « Retirer cette réponse »: the segment waits for an answer again."""
    await write(request, session, _remove, session, recording, user, annotation_id)
    return RedirectResponse(f"/recordings/{recording.id}#covalidation", status_code=303)
