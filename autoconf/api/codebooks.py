"""Codebooks and their codes (schemes, categories, phases, principles)."""

from dataclasses import asdict

from fastapi import APIRouter, status

from autoconf.api.deps import ManagedCodebookDep, ManagedCodeDep, SessionDep, StudyDep
from autoconf.payloads import CodebookPublic, CodeCreate, CodePublic, CodeUpdate
from autoconf.schemes import codebooks

router = APIRouter(prefix="/api/v1", tags=["codebooks"])


@router.get("/studies/{study_id}/codebooks", response_model=list[CodebookPublic])
def list_codebooks(study: StudyDep, session: SessionDep):
    """Each codebook of the study with its codes, depth-first in codebook order."""
    return [
        CodebookPublic(
            id=book.id or 0,
            study_id=book.study_id,
            kind=book.kind,  # type: ignore[arg-type]
            name=book.name,
            codes=[CodePublic(**asdict(node)) for node in nodes],
        )
        for book, nodes in codebooks.list_codebooks(session, study.id or 0)
    ]


@router.post(
    "/codebooks/{codebook_id}/codes", response_model=CodePublic, status_code=status.HTTP_201_CREATED
)
def create_code(body: CodeCreate, codebook: ManagedCodebookDep, session: SessionDep):
    code = codebooks.create_code(session, codebook, **body.model_dump())
    return CodePublic(**asdict(codebooks.node(session, code)))


@router.patch("/codes/{code_id}", response_model=CodePublic)
def update_code(body: CodeUpdate, code: ManagedCodeDep, session: SessionDep):
    """Rename, move (parent_id), reorder (position), recolour, set the hotkey, archive."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    code = codebooks.update_code(session, code, changes)
    return CodePublic(**asdict(codebooks.node(session, code)))


@router.delete("/codes/{code_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_code(code: ManagedCodeDep, session: SessionDep, force: bool = False) -> None:
    """Delete a code and its children; 409 while segments use them, unless force=true."""
    codebooks.delete_code(session, code, force=force)
