"""Originals are kept byte for byte under DATA_DIR/media, written in constant memory."""

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from autoconf.errors import Invalid, TooLarge, UnsupportedMedia

CHUNK = 1024 * 1024
UPLOADS = "uploads"  # resumable uploads in progress, one folder per user
UPLOAD_KEEP_DAYS = 3  # an interrupted upload can be resumed this long after its last byte

# What recorders, phones and editors produce; anything else is refused before it is stored.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mts", ".m2ts", ".ts", ".3gp", ".mpg"}
    | {".mpeg", ".wmv", ".flv", ".ogv"}
)
AUDIO_EXTENSIONS = frozenset(
    {".mp3", ".wav", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".amr", ".wma", ".aif"}
    | {".aiff"}
)
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


@dataclass(frozen=True)
class StoredFile:
    key: str  # path relative to the media folder
    size: int
    sha256: str


def human_size(size: int) -> str:
    """Byte sizes the French way: `1,5 Mo`."""
    value = float(size)
    for unit in ("o", "Ko", "Mo", "Go"):
        if value < 1024 or unit == "Go":
            text = f"{value:.0f}" if unit == "o" else f"{value:.1f}"
            return f"{text.replace('.', ',')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def media_extension(filename: str) -> str:
    """The lower-case extension of an accepted media file name, or UnsupportedMedia."""
    extension = PurePath(filename).suffix.lower()
    if extension not in MEDIA_EXTENSIONS:
        shown = extension or "sans extension"
        raise UnsupportedMedia(
            f"Le fichier « {filename} » ({shown}) n'est pas un format audio ou vidéo pris en "
            "charge. Formats acceptés : " + ", ".join(sorted(MEDIA_EXTENSIONS)) + "."
        )
    return extension


def store_original(source: BinaryIO, media_dir: Path, key: str, max_bytes: int) -> StoredFile:
    """Copy `source` to media_dir/key in chunks, hashing as it goes; nothing is left on error."""
    target = media_dir / key
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"Le fichier dépasse la taille maximale acceptée ({human_size(max_bytes)})."
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
        sync_folder(target.parent)  # the name too: the recording is committed next
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return StoredFile(key=key, size=size, sha256=digest.hexdigest())


def hash_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of `path`, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def checked_upload(upload: Path, expected_sha256: str | None) -> tuple[int, str]:
    """Size and sha256 of a finished upload; Invalid when it does not match the checksum
    the client announced (the upload is then removed)."""
    size, sha256 = hash_file(upload)
    if expected_sha256 and expected_sha256.lower() != sha256:
        upload.unlink(missing_ok=True)
        raise Invalid(
            "Le fichier reçu ne correspond pas à l'original (empreinte SHA-256 différente) : "
            "il a été abîmé pendant le transfert. Déposez-le de nouveau."
        )
    return size, sha256


def adopt_file(
    source: Path, media_dir: Path, key: str, expected_sha256: str | None = None
) -> StoredFile:
    """Move a finished upload (same file system) to media_dir/key, hashing it on the way;
    Invalid when it does not match the checksum the client announced (it is then removed)."""
    size, sha256 = checked_upload(source, expected_sha256)
    with source.open("rb") as file:
        os.fsync(file.fileno())  # the upload's bytes on disk before the recording is committed
    target = media_dir / key
    target.parent.mkdir(parents=True, exist_ok=True)
    source.replace(target)
    sync_folder(target.parent)
    return StoredFile(key=key, size=size, sha256=sha256)


def sync_folder(folder: Path) -> None:
    """Write the folder's entries (names created, renamed, removed) to disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(folder: Path) -> None:
    """Write the files of `folder` (not its subfolders) to disk, then the folder itself:
    what a committed transaction points to must outlive a power cut."""
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as file:
                os.fsync(file.fileno())
    sync_folder(folder)


def remove_tree(media_dir: Path, prefix: str) -> None:
    shutil.rmtree(media_dir / prefix, ignore_errors=True)


def remove_stale_uploads(media_dir: Path, keep_s: float = UPLOAD_KEEP_DAYS * 86400) -> int:
    """Delete the resumable uploads nobody touched for `keep_s` seconds; how many."""
    cutoff = time.time() - keep_s
    removed = 0
    for path in (media_dir / UPLOADS).glob("*/*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += not path.name.endswith((".info", ".receiving"))
        except OSError:  # taken by a finishing upload meanwhile
            continue
    return removed
