"""Recordings: the original file kept byte for byte, its code, counsellor and status."""

import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from sqlmodel import Session, col, select

from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.live import sessions
from autoconf.media import jobs
from autoconf.media.storage import StoredFile, media_extension
from autoconf.media.store import Store
from autoconf.models import Interview, Recording, User
from autoconf.studies import codes, service
from autoconf.studies.access import visible_recording_filter


def folder_of(key: str) -> str:
    """The folder of a stored original (`recordings/<uuid>`), which its derived files share."""
    return str(PurePosixPath(key).parent)


@dataclass(frozen=True)
class NewRecording:
    """What an upload says about the recording it brings."""

    study_id: int
    code: str
    counsellor_id: int | None
    filename: str
    media_type: str = ""
    # The auto-confrontation interview it is for: an existing one, or a new one with this
    # code (for its counsellor), so that it is ready for preparation and a live session.
    interview_id: int | None = None
    interview_code: str = ""


def check_new(session: Session, new: NewRecording) -> str:
    """Refuse what cannot become a recording before any byte is stored; the extension."""
    extension = media_extension(new.filename)
    service.check_counsellor(session, new.study_id, new.counsellor_id)
    _check_code_free(session, new.study_id, new.code)
    _check_interview(session, new)
    return extension


def _check_interview(session: Session, new: NewRecording) -> Interview | None:
    """The interview an upload joins, if any (checked before any byte is stored)."""
    if new.interview_id is not None and new.interview_code:
        raise Invalid("Choisissez un entretien existant ou un nouveau, pas les deux.")
    if new.interview_code:
        if new.counsellor_id is None:
            raise Invalid("Un entretien se crée pour un conseiller : choisissez-le d'abord.")
        service.check_interview_code(session, new.study_id, new.interview_code)
        return None
    if new.interview_id is None:
        return None
    interview = session.get(Interview, new.interview_id)
    if interview is None or interview.study_id != new.study_id:
        raise Invalid(f"L'entretien n° {new.interview_id} n'appartient pas à cette étude.")
    if interview.counsellor_id is not None and interview.counsellor_id != new.counsellor_id:
        raise Invalid(
            f"L'entretien {interview.code} est celui d'un autre conseiller : choisissez le "
            "conseiller de l'entretien, ou un autre entretien."
        )
    return interview


def _join_interview(session: Session, new: NewRecording, recording: Recording) -> None:
    interview = _check_interview(session, new)  # again, under the write lock
    if interview is not None:
        service.attach_recording(session, interview, recording.id or 0)
    elif new.interview_code:
        service.create_interview(
            session, new.study_id, new.interview_code, new.counsellor_id, [recording.id or 0]
        )


def new_key(extension: str) -> str:
    return f"recordings/{uuid.uuid4().hex}/original{extension}"


def receive_original(
    session: Session, store: Store, max_bytes: int, new: NewRecording, source: BinaryIO
) -> StoredFile:
    """Check the request, then copy the bytes to their final place, a fresh folder (no
    database write: a long copy must not hold the write lock). Until the row exists the
    file belongs to nobody; `discard` removes it when registering fails."""
    key = new_key(check_new(session, new))
    return store.save_stream(source, key, max_bytes)


def receive_upload(
    session: Session, store: Store, new: NewRecording, upload: Path, sha256: str | None
) -> StoredFile:
    """Adopt a finished resumable upload as an original (moved, not copied, to a local
    folder; sent in parts to an object store), checking the sha256 the client announced,
    if any."""
    key = new_key(check_new(session, new))
    try:
        return store.save_upload(upload, key, sha256)
    except BaseException:
        store.remove_prefix(folder_of(key))
        raise


def discard(store: Store, stored: StoredFile) -> None:
    store.remove_prefix(folder_of(stored.key))


def register_recording(
    session: Session, stored: StoredFile, new: NewRecording, creator: User | None
) -> Recording:
    """The recording row of a received original."""
    _check_code_free(session, new.study_id, new.code)  # again: another upload may have taken it
    service.check_counsellor(session, new.study_id, new.counsellor_id)
    recording = Recording(
        study_id=new.study_id,
        code=new.code,
        counsellor_id=new.counsellor_id,
        # As typed (a name is text, never a path: the stored file's key is made here), less
        # what cannot be shown (NUL and other control characters).
        original_filename="".join(c for c in new.filename if c.isprintable())[:255],
        original_size=stored.size,
        original_sha256=stored.sha256,
        media_type=new.media_type[:100],
        storage_key=stored.key,
        created_by=creator.id if creator else None,
    )
    session.add(recording)
    session.flush()
    _join_interview(session, new, recording)
    jobs.enqueue(session, recording)
    return recording


def delete_recording(session: Session, recording: Recording) -> str:
    """Delete the row (its job, annotations and links go with it); the folder to remove
    once committed. A worker processing it notices within a second and stops."""
    folder = folder_of(recording.storage_key)
    sessions.recording_gone(session, recording.id or 0)
    session.delete(recording)
    session.flush()
    return folder


def create_recording(
    session: Session,
    store: Store,
    max_bytes: int,
    new: NewRecording,
    source: BinaryIO,
    creator: User | None,
) -> Recording:
    """Receive and register in one go (command line, demo); the caller commits."""
    stored = receive_original(session, store, max_bytes, new, source)
    try:
        return register_recording(session, stored, new, creator)
    except BaseException:
        discard(store, stored)
        raise


def _check_code_free(
    session: Session, study_id: int, code: str, recording_id: int | None = None
) -> None:
    """The code follows the study's pattern and no other recording of the study has it."""
    codes.check_code(session, study_id, code)
    taken = session.exec(
        select(Recording.id).where(
            Recording.study_id == study_id,
            Recording.code == code,
            col(Recording.id) != recording_id,
        )
    ).first()
    if taken is not None:
        raise Conflict(f"Le code « {code} » est déjà pris par un enregistrement de cette étude.")


def list_recordings(session: Session, user: User, study_id: int) -> list[Recording]:
    query = select(Recording).where(Recording.study_id == study_id)
    allowed = visible_recording_filter(session, user, study_id)
    if allowed is not None:
        query = query.where(col(Recording.counsellor_id).in_(allowed))
    return list(session.exec(query.order_by(col(Recording.code))).all())


def update_recording(session: Session, recording_id: int, changes: dict[str, Any]) -> Recording:
    """Change what `changes` holds of code and counsellor_id (re-read here, under the write
    lock); the caller commits."""
    recording = session.get(Recording, recording_id, populate_existing=True)
    if recording is None:
        raise NotFound(f"Aucun enregistrement n° {recording_id}.")
    if "counsellor_id" in changes and changes["counsellor_id"] != recording.counsellor_id:
        service.check_counsellor(session, recording.study_id, changes["counsellor_id"])
        # Access to an interview (and its live sessions) follows its counsellor: a recording
        # of an interview changes counsellor with its interview, not alone.
        linked = service.interview_holding(session, recording_id)
        if linked is not None:
            raise Conflict(
                f"« {recording.code} » fait partie de l'entretien {linked} : son conseiller est "
                "celui de l'entretien. Retirez-le d'abord de l'entretien."
            )
        recording.counsellor_id = changes["counsellor_id"]
    if changes.get("code") is not None:
        _check_code_free(session, recording.study_id, changes["code"], recording.id)
        recording.code = changes["code"]
    session.add(recording)
    session.flush()
    return recording
