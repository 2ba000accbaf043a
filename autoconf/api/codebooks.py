"""Codebooks and their codes (schemes, categories, phases, principles)."""

from fastapi import Request, status

from autoconf.api.deps import ManagedCodebookDep, ManagedCodeDep, SessionDep, StudyDep, write
from autoconf.api.routing import IndexedRouter
from autoconf.payloads import CodebookPublic, CodeCreate, CodePublic, CodeUpdate
from autoconf.schemes import codebooks

router = IndexedRouter(prefix="/api/v1", tags=["codebooks"])


@router.get("/studies/{study_id}/codebooks")
def list_codebooks(study: StudyDep, session: SessionDep) -> list[CodebookPublic]:
    """Each codebook of the study with its codes, depth-first in codebook order."""
    return [
        CodebookPublic.model_validate(
            {
                **book.model_dump(),
                "codes": [CodePublic.model_validate(node) for node in nodes],
            }
        )
        for book, nodes in codebooks.list_codebooks(session, study.id or 0)
    ]


@router.post("/codebooks/{codebook_id}/codes", status_code=status.HTTP_201_CREATED)
async def create_code(
    request: Request, body: CodeCreate, codebook: ManagedCodebookDep, session: SessionDep
) -> CodePublic:
    """A new code, under `parent_id` (or at the root), at `position` among its siblings."""
    create = codebooks.create_code
    node = await write(request, session, create, session, codebook, **body.model_dump())
    return CodePublic.model_validate(node)


@router.patch("/codes/{code_id}")
async def update_code(
    request: Request, body: CodeUpdate, code: ManagedCodeDep, session: SessionDep
) -> CodePublic:
    """Rename, move (parent_id), reorder (position), recolour, set the hotkey, archive."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    node = await write(request, session, codebooks.update_code, session, code, changes)
    return CodePublic.model_validate(node)


@router.delete("/codes/{code_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_code(
    request: Request, code: ManagedCodeDep, session: SessionDep, force: bool = False
) -> None:
    """Delete a code and its children; 409 while segments use them, unless force=true."""
    await write(request, session, codebooks.delete_code, session, code, force=force)
