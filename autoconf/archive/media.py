"""The files of a study's recordings: each recording's folder read into an archive, and copied
back out of one into folders of the importing instance, every sha256 checked on the way.

A recording's folder holds its original and what processing made from it (proxy, poster,
thumbnail sprites and their WebVTT track, waveform). Only complete, plain files are carried:
never a `.part` being written, a processing attempt's `work-*/` folder, or a link. The
folders are those of the media store (`media.store`): a local folder's files are read and
written in place; an object store's are streamed, a file at a time, in constant memory.
"""

import logging
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from autoconf.archive.contents import Contents
from autoconf.archive.manifest import MediaFile
from autoconf.archive.values import FILE_NAME
from autoconf.errors import Invalid, TooLarge
from autoconf.interop.safezip import SafeZip
from autoconf.media.storage import CHUNK, human_size
from autoconf.media.store import LocalStore, Store
from autoconf.studies.disposal import RECORDINGS, folder_name

log = logging.getLogger(__name__)

PARTIAL = ".part"
# Room left on the disk beyond the files an import brings.
DISK_MARGIN = 256 * 1024 * 1024


def folder_files(store: Store, storage_key: str) -> list[str] | None:
    """The keys of the files of the folder of the original `storage_key` worth carrying, by
    name; None when the original is not there (nothing of the recording can be carried then)."""
    name = folder_name(storage_key)
    if name is None:
        return None
    folder = f"{RECORDINGS}/{name}"
    original = PurePosixPath(storage_key).name
    if isinstance(store, LocalStore):
        names = _local_names(store.root / folder, original)
    else:
        names = _stored_names(store, folder, original)
    return None if names is None else [f"{folder}/{found}" for found in names]


def _carried(name: str) -> bool:
    return bool(FILE_NAME.match(name)) and not name.endswith(PARTIAL)


def _local_names(folder: Path, original: str) -> list[str] | None:
    path = folder / original
    if not path.is_file() or path.is_symlink():
        return None
    return [
        path.name
        for path in sorted(folder.iterdir())
        if _carried(path.name) and path.is_file() and not path.is_symlink()
    ]


def _stored_names(store: Store, folder: str, original: str) -> list[str] | None:
    """The files right in the folder (an object store keeps no link, and its writes appear
    whole: no `.part` there, but none is carried should one appear)."""
    names = sorted(
        name
        for key, _size in store.listing(folder)
        if "/" not in (name := key.removeprefix(f"{folder}/"))
    )
    if original not in names:
        return None
    return [name for name in names if _carried(name)]


def chunks_of(reader: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := reader.read(size):
        yield chunk


@dataclass
class Staged:
    """Recording folders made for an import, their files copied and checked, before any row
    names them: kept when the import commits, removed when it fails."""

    store: Store
    folders: dict[int, str] = field(default_factory=dict)  # source recording id → its key

    def key(self, recording_id: int, name: str) -> str:
        return f"{self.folders[recording_id]}/{name}"

    def discard(self) -> None:
        for key in self.folders.values():
            try:
                self.store.remove_prefix(key)
            except Exception as error:  # the store is failing: the orphans' sweep will do it
                log.warning("could not remove the imported files of %s: %s", key, error)
        self.folders.clear()


def stage(archive: SafeZip, contents: Contents, store: Store) -> Staged:
    """Copy each recording's files out of the archive into a new folder of `store`
    (`recordings/<uuid>/`), checking every file's size and sha256 against the manifest;
    Invalid, with everything copied removed, when one differs or the disk (of a local
    store) is too small."""
    files = contents.manifest.files
    media_dir = store.root if isinstance(store, LocalStore) else None
    if files and media_dir is not None:
        needed = sum(f.size for f in files)
        (media_dir / RECORDINGS).mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(media_dir / RECORDINGS).free
        if needed + DISK_MARGIN > free:
            raise Invalid(
                f"Pas assez de place sur le disque du serveur pour les médias de "
                f"« {contents.name} » : il faut {human_size(needed)}, il reste {human_size(free)}."
            )
    staged = Staged(store)
    try:
        for recording_id in sorted({f.recording_id for f in files}):
            key = f"{RECORDINGS}/{uuid.uuid4().hex}"
            staged.folders[recording_id] = key
            for media in contents.files_of(recording_id):
                _send(archive, media, store, f"{key}/{media.name}")
    except BaseException:
        staged.discard()
        raise
    return staged


def _damaged(archive: SafeZip, media: MediaFile) -> Invalid:
    return Invalid(
        f"« {archive.name} » : « {media.entry} » ne correspond pas à son empreinte SHA-256 "
        "(fichier abîmé ou modifié depuis l'export) : import refusé."
    )


def _send(archive: SafeZip, media: MediaFile, store: Store, key: str) -> None:
    """The archive's file into the store (a local folder: written as `.part`, synced,
    renamed; an object store: sent in parts), hashed on the way; removed again when it is
    not the file the manifest announced."""
    try:
        reader = cast(BinaryIO, _Reader(archive.chunks(media.entry)))
        stored = store.save_stream(reader, key, media.size)
    except TooLarge:
        raise _damaged(archive, media) from None
    if stored.size != media.size or stored.sha256 != media.sha256:
        store.remove(key)
        raise _damaged(archive, media)


class _Reader:
    """Chunks read as a file: `read(n)` gives n bytes until the end (an object store's
    multipart upload wants whole parts)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        pieces = [self.buffer]
        have = len(self.buffer)
        while size < 0 or have < size:
            chunk = next(self.chunks, b"")
            if not chunk:
                break
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        if size < 0:
            self.buffer = b""
            return data
        self.buffer = data[size:]
        return data[:size]
