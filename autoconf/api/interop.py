"""Files of other tools in: ELAN (.eaf). Each import is checked whole before anything is
written, then written in one transaction."""

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import ValidationError
from sqlmodel import Session

from autoconf.api.deps import CurrentUser, ManagedRecordingDep, SessionDep, write
from autoconf.api.refusals import documented
from autoconf.errors import Invalid
from autoconf.interop import eaf_import, eaf_read
from autoconf.models import Recording, User
from autoconf.payloads import EafImported, EafMapping, EafPreview

router = APIRouter(prefix="/api/v1", tags=["interoperability"])


def parse_mapping(text: str) -> eaf_import.Mapping:
    """The import's `mapping` field; Invalid (French) when it is not the expected JSON."""
    try:
        body = EafMapping.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "mapping"
        raise Invalid(
            f"Le champ « mapping » n'est pas un choix de pistes lisible ({where}) : attendu "
            '{"tiers": {"<piste>": "<couche>" ou null}, "vocabularies": {"<vocabulaire>": '
            '<n° de livre de codes> ou null}, "create_codes": true ou false}.'
        ) from None
    return eaf_import.Mapping(body.tiers, body.vocabularies, body.create_codes)


def _import(
    session: Session,
    recording: Recording,
    user: User,
    document: eaf_read.EafDocument,
    mapping: eaf_import.Mapping,
) -> dict[str, object]:
    return eaf_import.import_eaf(session, recording, user, document, mapping)


async def eaf_file(
    request: Request,
    session: Session,
    recording: Recording,
    user: User,
    file: UploadFile,
    mapping: str | None,
) -> EafPreview | EafImported:
    """A preview of the file, or (with a mapping) its import (the API and the page)."""
    content = await file.read()
    name = file.filename or "fichier.eaf"
    chosen = parse_mapping(mapping) if mapping is not None else None
    document = await anyio.to_thread.run_sync(eaf_read.read, content, name)
    if chosen is None:
        shown = await anyio.to_thread.run_sync(eaf_import.preview, session, recording, document)
        return EafPreview.model_validate(shown)
    done = await write(request, session, _import, session, recording, user, document, chosen)
    return EafImported.model_validate(done)


@router.post(
    "/recordings/{recording_id}/import/eaf",
    responses=documented(400, 401, 403, 404, 409, 413, 422),
)
async def import_eaf(
    request: Request,
    recording: ManagedRecordingDep,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="An ELAN file (.eaf, EAF 2.7 to 3.0).")],
    mapping: Annotated[
        str | None,
        Form(
            description="JSON (see EafMapping). Without it, nothing is imported: the answer "
            "is a preview of the file (EafPreview)."
        ),
    ] = None,
) -> EafPreview | EafImported:
    """ELAN file in, in two steps: with the `file` alone, what it holds (tiers with their
    counts, types, parents and first values; vocabularies with their entries) and the mapping
    the page proposes; with a `mapping` too, the import of the chosen tiers in one
    transaction, and what it created, left out or could not match."""
    return await eaf_file(request, session, recording, user, file, mapping)
