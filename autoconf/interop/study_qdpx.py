"""A study read into a REFI-QDA project (`qdpx.QdaProject`): what its reader may see."""

from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePath, PurePosixPath
from typing import BinaryIO

from sqlmodel import Session, col, select

from autoconf.consent import records as consent
from autoconf.interop import qdpx
from autoconf.interop.eaf import LAYER_NAMES
from autoconf.media.store import Store
from autoconf.models import Counsellor, Membership, Recording, Structure, Study, User
from autoconf.schemes import annotations
from autoconf.schemes.codebooks import CodeNode, list_codebooks
from autoconf.schemes.fields import STRUCTURED_FIELDS
from autoconf.studies import visibility

MISSING_CONSENT = "Média non inclus : les consentements que l'étude demande manquent."
MISSING_FILE = "Média non inclus : le fichier n'est pas (encore) disponible."
CATEGORY_NAMES = {"session": "Séance", "autoconfrontation": "Auto-confrontation"}


def _tree(nodes: Sequence[CodeNode], parent_id: int | None = None) -> tuple[qdpx.QdaCode, ...]:
    return tuple(
        qdpx.QdaCode(
            id=node.id,
            label=node.label,
            color=node.color,
            description=node.description,
            children=_tree(nodes, node.id),
        )
        for node in nodes
        if node.parent_id == parent_id
    )


def codebooks(session: Session, study_id: int) -> tuple[qdpx.QdaCodebook, ...]:
    return tuple(
        qdpx.QdaCodebook(book.id or 0, book.name, _tree(nodes))
        for book, nodes in list_codebooks(session, study_id)
    )


def _note(view: annotations.AnnotationView) -> str:
    """A selection's note: the annotation's note, then its structured fields."""
    lines = [view.note] if view.note else []
    lines += [f"{STRUCTURED_FIELDS.get(k, k)} : {v}" for k, v in sorted(view.fields.items())]
    return "\n".join(lines)


def _selection_name(view: annotations.AnnotationView, names: dict[int, str]) -> str:
    """What the layer's tier is called in ELAN: "Schèmes — claire"."""
    return f"{LAYER_NAMES.get(view.layer, view.layer)} — {names.get(view.author_id or 0, '?')}"


def _media_file(store: Store, recording: Recording) -> tuple[str, int] | None:
    """The key and size of the file to put in the zip: the browser-ready copy (MP4, read by
    every tool), else the original."""
    for key in (recording.proxy_key, recording.storage_key):
        if key and (size := store.size(key)) is not None:
            return key, size
    return None


def _kind(recording: Recording) -> str:
    info = recording.media_info or {}
    if info.get("video") or recording.media_type.startswith("video"):
        return "video"
    return "audio"


def _source(
    session: Session,
    user: User,
    recording: Recording,
    names: dict[int, str],
    media: str | None,
    counsellor_code: str | None,
    description: str,
) -> qdpx.QdaSource:
    views = visibility.recording_annotations(session, user, recording)
    selections = tuple(
        qdpx.QdaSelection(
            id=view.id,
            name=_selection_name(view, names),
            begin_ms=view.start_ms,
            end_ms=view.end_ms if view.end_ms is not None else view.start_ms,
            author_id=view.author_id,
            created_at=view.created_at,
            code_ids=tuple(view.code_ids),
            note=_note(view),
        )
        for view in views
        if view.layer != "transcript"
    )
    cues = tuple(  # the transcript is there only when its consents allow
        qdpx.QdaCue(view.start_ms, view.end_ms or view.start_ms, view.speaker, view.note)
        for view in views
        if view.layer == "transcript"
    )
    if media is not None:
        media_name = PurePosixPath(media).name
    else:
        media_name = PurePath(recording.original_filename).name or f"{recording.code}.mp4"
    variables = {"Catégorie": CATEGORY_NAMES.get(recording.category, recording.category)}
    if counsellor_code:
        variables["Conseiller"] = counsellor_code
    return qdpx.QdaSource(
        id=recording.id or 0,
        name=recording.code,
        kind=_kind(recording),
        media_name=media_name,
        included=media is not None,
        created_by=recording.created_by,
        created_at=recording.created_at,
        description=description,
        selections=selections,
        transcript=cues,
        variables=variables,
    )


def study_project(
    session: Session, study: Study, user: User, store: Store, include_media: bool
) -> tuple[qdpx.QdaProject, dict[int, tuple[str, int]], list[str]]:
    """The project of `study` as `user` sees it; the media files to put in the zip (source
    id → key in `store` and size); the codes of the recordings whose media stay out
    (consents missing, or no file yet)."""
    assert study.id is not None
    recordings = session.exec(
        select(Recording).where(Recording.study_id == study.id).order_by(col(Recording.code))
    ).all()
    counsellors = session.exec(select(Counsellor).where(Counsellor.study_id == study.id)).all()
    structures = {
        s.id: s for s in session.exec(select(Structure).where(Structure.study_id == study.id))
    }
    member_ids = set(
        session.exec(select(Membership.user_id).where(Membership.study_id == study.id)).all()
    )
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(member_ids)))}
    names = {uid: u.username for uid, u in users.items() if uid is not None}
    media: dict[int, tuple[str, int]] = {}
    left_out: list[str] = []
    sources = []
    code_of = {c.id: c.code for c in counsellors}
    for recording in recordings:
        file, description = None, ""
        if include_media:
            allowed = consent.content_allowed(session, recording)
            file = _media_file(store, recording) if allowed else None
            if file is None:
                left_out.append(recording.code)
                description = MISSING_CONSENT if not allowed else MISSING_FILE
            else:
                media[recording.id or 0] = file
        source = _source(
            session,
            user,
            recording,
            names,
            file[0] if file else None,
            code_of.get(recording.counsellor_id),
            description,
        )
        sources.append(source)
    authors = {s.author_id for source in sources for s in source.selections} | {
        r.created_by for r in recordings
    }
    missing = {a for a in authors if a is not None and a not in users}
    if missing:
        users |= {u.id: u for u in session.exec(select(User).where(col(User.id).in_(missing)))}
    by_counsellor: dict[int, list[int]] = defaultdict(list)
    for recording in recordings:
        if recording.counsellor_id is not None:
            by_counsellor[recording.counsellor_id].append(recording.id or 0)
    cases = []
    for counsellor in counsellors:
        structure = structures.get(counsellor.structure_id)
        variables = {}
        if structure is not None:
            variables = {
                "Structure": structure.code,
                "Structure — nom": structure.name,
                "Ville": structure.city,
                "Centre": structure.centre,
            }
        cases.append(
            qdpx.QdaCase(
                id=counsellor.id or 0,
                name=counsellor.code,
                variables={k: v for k, v in variables.items() if v},
                source_ids=tuple(by_counsellor.get(counsellor.id or 0, [])),
            )
        )
    project = qdpx.QdaProject(
        name=study.name,
        description=study.description,
        created_at=study.created_at,
        users=tuple(
            qdpx.QdaUser(uid, u.username) for uid, u in sorted(users.items()) if uid is not None
        ),
        codebooks=codebooks(session, study.id),
        sources=tuple(sources),
        cases=tuple(cases),
    )
    return project, media, left_out


def write_study_qdpx(
    session: Session,
    study: Study,
    user: User,
    store: Store,
    include_media: bool,
    target: BinaryIO,
) -> list[str]:
    """Write the study's `.qdpx` into `target`; the recordings whose media stayed out."""
    project, media, left_out = study_project(session, study, user, store, include_media)
    qdpx.write_qdpx(project, media, target, store.open)
    return left_out
