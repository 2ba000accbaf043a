"""Recordings: the original file kept byte for byte, its code, counsellor and status."""

import uuid
from pathlib import Path, PurePath
from typing import BinaryIO

from sqlmodel import Session, col, select

from autoconf.errors import Conflict
from autoconf.media.storage import (
    StoredFile,
    media_extension,
    move_file,
    remove_tree,
    store_original,
)
from autoconf.models import Recording, User
from autoconf.studies.access import visible_recording_filter
from autoconf.studies.service import check_counsellor


def recording_folder(recording_id: int) -> str:
    return f"recordings/{recording_id}"


def receive_original(
    session: Session,
    media_dir: Path,
    max_bytes: int,
    *,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    filename: str,
    source: BinaryIO,
) -> StoredFile:
    """Check the request, then copy the bytes aside (no database write: a long copy must
    not hold the write transaction; SQLite has one writer at a time)."""
    extension = media_extension(filename)
    check_counsellor(session, study_id, counsellor_id)
    _check_code_free(session, study_id, code)
    return store_original(source, media_dir, f"incoming/{uuid.uuid4().hex}{extension}", max_bytes)


def register_recording(
    session: Session,
    media_dir: Path,
    stored: StoredFile,
    *,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    filename: str,
    media_type: str,
    creator: User | None,
) -> Recording:
    """The recording row for a received original, which moves to the recording's folder.
    On failure the received file is removed."""
    recording = Recording(
        study_id=study_id,
        code=code,
        counsellor_id=counsellor_id,
        original_filename=Path(filename).name[:255],
        original_size=stored.size,
        original_sha256=stored.sha256,
        media_type=media_type[:100],
        created_by=creator.id if creator else None,
    )
    try:
        _check_code_free(session, study_id, code)  # again: another upload may have taken it
        session.add(recording)
        session.flush()
        assert recording.id is not None
        extension = PurePath(stored.key).suffix
        recording.storage_key = move_file(
            media_dir, stored.key, f"{recording_folder(recording.id)}/original{extension}"
        )
        session.add(recording)
        session.flush()
    except BaseException:
        (media_dir / stored.key).unlink(missing_ok=True)
        if recording.id is not None:
            remove_tree(media_dir, recording_folder(recording.id))
        raise
    return recording


def create_recording(
    session: Session,
    media_dir: Path,
    max_bytes: int,
    *,
    study_id: int,
    code: str,
    counsellor_id: int | None,
    filename: str,
    media_type: str,
    source: BinaryIO,
    creator: User | None,
) -> Recording:
    """Receive and register in one go (command line, demo)."""
    stored = receive_original(
        session,
        media_dir,
        max_bytes,
        study_id=study_id,
        code=code,
        counsellor_id=counsellor_id,
        filename=filename,
        source=source,
    )
    return register_recording(
        session,
        media_dir,
        stored,
        study_id=study_id,
        code=code,
        counsellor_id=counsellor_id,
        filename=filename,
        media_type=media_type,
        creator=creator,
    )


def _check_code_free(session: Session, study_id: int, code: str) -> None:
    taken = session.exec(
        select(Recording.id).where(Recording.study_id == study_id, Recording.code == code)
    ).first()
    if taken is not None:
        raise Conflict(f"Le code « {code} » est déjà pris par un enregistrement de cette étude.")


def list_recordings(session: Session, user: User, study_id: int) -> list[Recording]:
    query = select(Recording).where(Recording.study_id == study_id)
    allowed = visible_recording_filter(session, user, study_id)
    if allowed is not None:
        query = query.where(col(Recording.counsellor_id).in_(allowed))
    return list(session.exec(query.order_by(col(Recording.code))).all())
