"""A recording as an ELAN file: what the writer (`eaf.write_eaf`) is given from the
database: the annotations its reader may see, every codebook of the study as a vocabulary
(French and English), and what was said at the stops of its live sessions."""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from autoconf.interop.eaf import Comment, Entry, Item, write_eaf
from autoconf.live import stops
from autoconf.models import LiveComment, LiveSession, LiveStop, Recording, User
from autoconf.schemes.annotations import AnnotationView
from autoconf.schemes.codebooks import PATH_SEPARATOR, CodeNode, list_codebooks
from autoconf.schemes.defaults import default_codebooks
from autoconf.studies import access


def _english_paths(nodes: Sequence[CodeNode]) -> dict[int, str]:
    """Each code with an English label: its path in English (an ancestor without one keeps
    its French label, so the path still says where the code is)."""
    by_id = {node.id: node for node in nodes}
    paths: dict[int, str] = {}
    for node in nodes:
        if not node.label_en:
            continue
        labels: list[str] = []
        current: CodeNode | None = node
        while current is not None:
            labels.append(current.label_en or current.label)
            current = by_id.get(current.parent_id) if current.parent_id is not None else None
        paths[node.id] = PATH_SEPARATOR.join(reversed(labels))
    return paths


def _entries(session: Session, study_id: int) -> list[Entry]:
    """Every code of the study's codebooks, as vocabulary entries."""
    english_names = {(book.kind, book.name): book.name_en for book in default_codebooks()}
    entries = []
    for book, nodes in list_codebooks(session, study_id):
        english = _english_paths(nodes)
        name_en = english_names.get((book.kind, book.name), "")
        entries += [
            Entry(
                node.id,
                book.name,
                node.path,
                node.description,
                english.get(node.id, ""),
                node.description_en if node.id in english else "",
                name_en,
            )
            for node in nodes
        ]
    return entries


def _stop_comments(
    session: Session, recording: Recording, stop_ids: list[int], reader: User
) -> dict[int, list[Comment]]:
    """What was said at these stops that `reader` may see (`access.sees_comment`, the rule of
    the live page), by stop, in the order it was typed."""
    if not stop_ids:
        return {}
    rows = session.exec(
        select(LiveComment, LiveSession.interview_id)
        .join(LiveStop, col(LiveStop.annotation_id) == LiveComment.stop_id)
        .join(LiveSession, col(LiveSession.id) == LiveStop.session_id)
        .where(col(LiveComment.stop_id).in_(stop_ids))
        .order_by(col(LiveComment.said_at), col(LiveComment.id))
    ).all()
    seen = [
        (comment, interview_id)
        for comment, interview_id in rows
        if access.sees_comment(session, reader, comment, recording.study_id)
    ]
    authors = {c.author_id for c, _ in seen if c.speaker != "counsellor"}
    genders = dict(
        session.exec(select(User.id, User.gender).where(col(User.id).in_(authors))).all()
    )
    counsellors: dict[int | None, str] = {}
    found: dict[int, list[Comment]] = defaultdict(list)
    for comment, interview_id in seen:
        if comment.speaker == "counsellor":
            if interview_id not in counsellors:
                counsellors[interview_id] = stops.counsellor_gender(
                    session, interview_id, recording.id
                )
            gender = counsellors[interview_id]
        else:
            gender = genders.get(comment.author_id, "")
        found[comment.stop_id].append(Comment(comment.speaker, comment.text, gender))
    return found


def recording_eaf(
    session: Session,
    recording: Recording,
    views: Iterable[AnnotationView],
    reader: User | None = None,
) -> bytes:
    """The EAF of a recording's annotations `views` (those its reader may see), with every
    codebook of its study as a vocabulary and, for a `reader`, what was said at the stops
    that they may see (None: no comments)."""
    views = list(views)
    ids = {view.author_id for view in views if view.author_id is not None}
    names = {
        user.id: user.username for user in session.exec(select(User).where(col(User.id).in_(ids)))
    }
    stop_ids = [view.id for view in views if view.layer == "stops"]
    said = _stop_comments(session, recording, stop_ids, reader) if reader is not None else {}
    items = [
        Item(
            start_ms=view.start_ms,
            end_ms=view.end_ms,
            layer=view.layer,
            author=names.get(view.author_id or 0, "?"),
            code_ids=view.code_ids,
            note=view.note,
            speaker=view.speaker,
            fields=dict(view.fields),
            comments=said.get(view.id, []),
        )
        for view in views
    ]
    entries = _entries(session, recording.study_id)
    return write_eaf(items, entries, recording.original_filename or recording.code)
