"""Codebooks: hierarchical, ordered vocabularies whose codes are identified by their path."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, true
from sqlmodel import Session, col, delete, select

from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.models import AnnotationCode, Code, Codebook
from autoconf.schemes.defaults import DefaultCode, default_codebooks

PATH_SEPARATOR = "/"


@dataclass(frozen=True)
class CodeNode:
    """A code with its path, as listed in a codebook (depth-first, in order)."""

    id: int
    codebook_id: int
    path: str
    label: str
    parent_id: int | None
    position: int
    description: str
    color: str
    hotkey: str | None
    archived: bool
    depth: int
    label_en: str = ""  # English, optional: the interface in English, the ELAN vocabularies
    description_en: str = ""


def seed_default_codebooks(session: Session, study_id: int) -> None:
    for position, book in enumerate(default_codebooks()):
        codebook = Codebook(study_id=study_id, kind=book.kind, name=book.name, position=position)
        session.add(codebook)
        session.flush()
        assert codebook.id is not None
        _add_codes(session, codebook.id, None, book.codes)


def _add_codes(
    session: Session, codebook_id: int, parent_id: int | None, codes: Iterable[DefaultCode]
) -> None:
    for position, default in enumerate(codes):
        code = Code(
            codebook_id=codebook_id,
            parent_id=parent_id,
            position=position,
            label=default.label,
            description=default.description,
            label_en=default.label_en,
            description_en=default.description_en,
            color=default.color,
            hotkey=default.hotkey,
        )
        session.add(code)
        session.flush()
        _add_codes(session, codebook_id, code.id, default.children)


def _tree(codes: Iterable[Code]) -> list[CodeNode]:
    children: dict[int | None, list[Code]] = {}
    for code in codes:
        children.setdefault(code.parent_id, []).append(code)
    for siblings in children.values():
        siblings.sort(key=lambda c: (c.position, c.id or 0))
    nodes: list[CodeNode] = []

    def walk(parent_id: int | None, prefix: str, depth: int) -> None:
        for code in children.get(parent_id, []):
            assert code.id is not None
            path = prefix + code.label
            nodes.append(
                CodeNode(
                    id=code.id,
                    codebook_id=code.codebook_id,
                    path=path,
                    label=code.label,
                    parent_id=code.parent_id,
                    position=code.position,
                    description=code.description,
                    color=code.color,
                    hotkey=code.hotkey,
                    archived=code.archived,
                    depth=depth,
                    label_en=code.label_en,
                    description_en=code.description_en,
                )
            )
            walk(code.id, path + PATH_SEPARATOR, depth + 1)

    walk(None, "", 0)
    return nodes


def codebook_tree(session: Session, codebook_id: int) -> list[CodeNode]:
    """The codes of a codebook, depth-first in their order, each with its path."""
    return _tree(session.exec(select(Code).where(Code.codebook_id == codebook_id)).all())


def list_codebooks(session: Session, study_id: int) -> list[tuple[Codebook, list[CodeNode]]]:
    books = session.exec(
        select(Codebook).where(Codebook.study_id == study_id).order_by(col(Codebook.position))
    ).all()
    codes = session.exec(select(Code).where(col(Code.codebook_id).in_([b.id for b in books]))).all()
    by_book: dict[int, list[Code]] = {}
    for code in codes:
        by_book.setdefault(code.codebook_id, []).append(code)
    return [(book, _tree(by_book.get(book.id or 0, []))) for book in books]


def _study_of(session: Session, codebook_id: int) -> int:
    codebook = session.get(Codebook, codebook_id)
    assert codebook is not None
    return codebook.study_id


def _siblings(session: Session, code: Code) -> list[Code]:
    """The other codes under the same parent, in their order."""
    same_parent = (
        Code.parent_id == code.parent_id
        if code.parent_id is not None
        else col(Code.parent_id).is_(None)
    )
    found = session.exec(
        select(Code).where(Code.codebook_id == code.codebook_id, same_parent)
    ).all()
    return sorted((c for c in found if c.id != code.id), key=lambda c: (c.position, c.id or 0))


def _lock_codebook(session: Session, codebook_id: int) -> None:
    """Serialise edits of one codebook's tree (PostgreSQL; SQLite has its write lock)."""
    session.exec(select(Codebook.id).where(Codebook.id == codebook_id).with_for_update()).one()


def _checked_node(session: Session, code: Code) -> CodeNode:
    """`code` as listed in its codebook, after checking that paths still identify codes: a
    change must not make two of them equal (labels may hold '/', so "A/B" at the root and "B"
    under "A" would)."""
    session.flush()
    seen: set[str] = set()
    found = None
    for node in codebook_tree(session, code.codebook_id):
        key = node.path.casefold()
        if key in seen:
            raise Conflict(f"Deux codes auraient le même chemin « {node.path} ».")
        seen.add(key)
        if node.id == code.id:
            found = node
    assert found is not None
    return found


def _check_label(session: Session, code: Code, label: str) -> None:
    if any(s.label.casefold() == label.casefold() for s in _siblings(session, code)):
        raise Conflict(f"Un code « {label} » existe déjà à cet endroit du livre de codes.")


# Keys the player and the annotator already use (web/static/js/shortcuts.js, annotator/main.js).
RESERVED_KEYS = {
    " ": "lecture / pause",
    "k": "lecture / pause",
    "j": "reculer de 10 s",
    "l": "avancer de 10 s",
    "m": "marquer un moment",
    "i": "début d'un segment",
    "o": "fin d'un segment",
    "n": "annotation suivante",
    "p": "annotation précédente",
    "z": "zoom de la frise",
    "<": "ralentir",
    ">": "accélérer",
    "?": "aide des raccourcis",
}


def _check_hotkey(session: Session, code: Code, hotkey: str | None) -> None:
    if hotkey is None:
        return
    if hotkey.lower() in RESERVED_KEYS:
        raise Invalid(
            f"La touche « {hotkey} » sert déjà à l'annotateur ({RESERVED_KEYS[hotkey.lower()]}) ; "
            "choisissez-en une autre (un chiffre, par exemple)."
        )
    study_id = _study_of(session, code.codebook_id)
    clash = session.exec(
        select(Code.label)
        .join(Codebook, col(Codebook.id) == Code.codebook_id)
        .where(
            Codebook.study_id == study_id,
            func.lower(Code.hotkey) == hotkey.lower(),
            col(Code.archived).is_(False),
            Code.id != code.id if code.id is not None else true(),
        )
    ).first()
    if clash is not None:
        raise Conflict(f"La touche « {hotkey} » est déjà le raccourci du code « {clash} ».")


def _check_parent(session: Session, code: Code, parent_id: int | None) -> None:
    if parent_id is None:
        return
    parent = session.get(Code, parent_id)
    if parent is None or parent.codebook_id != code.codebook_id:
        raise Invalid(f"Le code parent n° {parent_id} n'est pas dans ce livre de codes.")
    if code.id is not None:
        ancestor: Code | None = parent
        while ancestor is not None:
            if ancestor.id == code.id:
                raise Invalid("Un code ne peut pas être rangé sous lui-même ou sous ses enfants.")
            ancestor = session.get(Code, ancestor.parent_id) if ancestor.parent_id else None


def _place(session: Session, code: Code, position: int | None) -> None:
    """Put `code` at `position` among its siblings (end when None) and renumber them 0..n."""
    siblings = _siblings(session, code)
    index = len(siblings) if position is None else min(position, len(siblings))
    siblings.insert(index, code)
    for number, sibling in enumerate(siblings):
        sibling.position = number
        session.add(sibling)


def create_code(
    session: Session,
    codebook: Codebook,
    label: str,
    parent_id: int | None = None,
    position: int | None = None,
    description: str = "",
    color: str = "#888888",
    hotkey: str | None = None,
    label_en: str = "",
    description_en: str = "",
) -> CodeNode:
    assert codebook.id is not None
    _lock_codebook(session, codebook.id)
    code = Code(
        codebook_id=codebook.id,
        parent_id=parent_id,
        label=label,
        description=description,
        label_en=label_en,
        description_en=description_en,
        color=color,
        hotkey=hotkey,
    )
    _check_parent(session, code, parent_id)
    _check_label(session, code, label)
    _check_hotkey(session, code, hotkey)
    _place(session, code, position)
    return _checked_node(session, code)


def update_code(session: Session, code: Code, changes: dict[str, object]) -> CodeNode:
    """Apply the fields present in `changes` (label, parent_id, position, description,
    label_en…)."""
    _lock_codebook(session, code.codebook_id)
    if session.get(Code, code.id, populate_existing=True) is None:  # read before the lock
        raise NotFound(f"Aucun code n° {code.id}.")
    if "parent_id" in changes and changes["parent_id"] != code.parent_id:
        parent_id = changes["parent_id"]
        assert parent_id is None or isinstance(parent_id, int)
        _check_parent(session, code, parent_id)
        code.parent_id = parent_id
        _check_label(session, code, str(changes.get("label", code.label)))
        _place(session, code, changes.get("position"))  # type: ignore[arg-type]
    elif changes.get("position") is not None:
        _place(session, code, changes["position"])  # type: ignore[arg-type]
    if changes.get("label") is not None:
        _check_label(session, code, str(changes["label"]))
        code.label = str(changes["label"])
    if "hotkey" in changes:
        hotkey = changes["hotkey"]
        assert hotkey is None or isinstance(hotkey, str)
        _check_hotkey(session, code, hotkey)
        code.hotkey = hotkey
    if changes.get("archived") is not None:
        code.archived = bool(changes["archived"])
        if not code.archived:
            _check_hotkey(session, code, code.hotkey)
    for name in ("description", "label_en", "description_en", "color"):
        if changes.get(name) is not None:
            setattr(code, name, changes[name])
    session.add(code)
    return _checked_node(session, code)


def subtree_ids(session: Session, code: Code) -> list[int]:
    """The code and all its descendants, following parent links."""
    assert code.id is not None
    children: dict[int | None, list[int]] = {}
    for code_id, parent_id in session.exec(
        select(Code.id, Code.parent_id).where(Code.codebook_id == code.codebook_id)
    ).all():
        assert code_id is not None
        children.setdefault(parent_id, []).append(code_id)
    found, pending = [], [code.id]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def delete_code(session: Session, code: Code, *, force: bool = False) -> None:
    """Delete a code and its descendants; refuse while segments use them, unless `force`."""
    _lock_codebook(session, code.codebook_id)
    ids = subtree_ids(session, code)
    used = session.exec(
        select(func.count()).select_from(AnnotationCode).where(col(AnnotationCode.code_id).in_(ids))
    ).one()
    if used and not force:
        raise Conflict(
            f"Ce code (ou l'un de ses enfants) est utilisé par {used} annotation(s). "
            "Archivez-le pour le retirer des listes en gardant le codage, "
            "ou supprimez-le quand même (ces annotations perdront ce code)."
        )
    session.flush()
    # The database cascades to the links with annotations (named foreign keys, ON DELETE CASCADE).
    session.exec(delete(Code).where(col(Code.id).in_(ids)))
    session.expire_all()


def code_paths(session: Session, study_id: int, kind: str | None = None) -> dict[int, str]:
    """The study's codes by id: their paths ("Parent / Enfant"); with `kind`, those of its
    codebooks of that kind only (a scheme segment may carry categories too)."""
    return {
        node.id: node.path
        for book, nodes in list_codebooks(session, study_id)
        if kind is None or book.kind == kind
        for node in nodes
    }
