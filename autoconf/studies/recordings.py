"""Recordings: the original file kept byte for byte, its code, counsellor and status."""

from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, select

from autoconf.errors import Conflict
from autoconf.media.storage import media_extension, remove_tree, store_original
from autoconf.models import Recording, User
from autoconf.studies.access import visible_recording_filter
from autoconf.studies.service import check_counsellor


def recording_folder(recording_id: int) -> str:
    return f"recordings/{recording_id}"


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
    """Store the upload as the recording's original; a failure leaves no row and no file."""
    extension = media_extension(filename)
    check_counsellor(session, study_id, counsellor_id)
    taken = session.exec(
        select(Recording.id).where(Recording.study_id == study_id, Recording.code == code)
    ).first()
    if taken is not None:
        raise Conflict(f"Le code « {code} » est déjà pris par un enregistrement de cette étude.")
    recording = Recording(
        study_id=study_id,
        code=code,
        counsellor_id=counsellor_id,
        original_filename=Path(filename).name[:255],
        media_type=media_type[:100],
        created_by=creator.id if creator else None,
    )
    session.add(recording)
    session.flush()
    assert recording.id is not None
    folder = recording_folder(recording.id)
    try:
        stored = store_original(source, media_dir, f"{folder}/original{extension}", max_bytes)
    except BaseException:
        remove_tree(media_dir, folder)
        raise
    recording.storage_key = stored.key
    recording.original_size = stored.size
    recording.original_sha256 = stored.sha256
    session.add(recording)
    session.flush()
    return recording


def list_recordings(session: Session, user: User, study_id: int) -> list[Recording]:
    query = select(Recording).where(Recording.study_id == study_id)
    allowed = visible_recording_filter(session, user, study_id)
    if allowed is not None:
        query = query.where(col(Recording.counsellor_id).in_(allowed))
    return list(session.exec(query.order_by(col(Recording.code))).all())
