"""The codebook editor page ("Livres de codes"): the study's four codebooks as trees.

The page only renders; every change goes through the JSON API (`api/codebooks.py`), which
applies the rules (unique sibling labels and hotkeys) and refuses counsellors.
"""

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from autoconf.api.deps import CurrentUser, SessionDep, StudyDep
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.schemes import codebooks
from autoconf.schemes.codebooks import CodeNode
from autoconf.studies import access

router = IndexedRouter(include_in_schema=False)


def children_of(nodes: list[CodeNode]) -> dict[int | None, list[CodeNode]]:
    """The codes under each parent (None: the root), in their order."""
    children: dict[int | None, list[CodeNode]] = {}
    for node in nodes:  # depth-first in order, so each list comes out in order
        children.setdefault(node.parent_id, []).append(node)
    return children


@router.get("/studies/{study_id}/codebooks", response_class=HTMLResponse)
def codebooks_page(
    request: Request, study: StudyDep, user: CurrentUser, session: SessionDep
) -> Response:
    study_id = study.id or 0
    books = codebooks.list_codebooks(session, study_id)
    return render(
        request,
        "codebooks.html",
        study=study,
        books=[(book, nodes, children_of(nodes)) for book, nodes in books],
        can_edit=access.sees_everything(session, user, study_id),
    )
