"""The files of a study's recordings: each recording's folder read into an archive, and copied
back out of one into folders of the importing instance, every sha256 checked on the way.

A recording's folder holds its original and what processing made from it (proxy, poster,
thumbnail sprites and their WebVTT track, waveform). Only complete, plain files are carried:
never a `.part` being written, a processing attempt's `work-*/` folder, or a link.
"""

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autoconf.archive.contents import Contents
from autoconf.archive.manifest import MediaFile
from autoconf.archive.values import FILE_NAME
from autoconf.errors import Invalid
from autoconf.interop.safezip import SafeZip
from autoconf.media.storage import human_size, sync_folder
from autoconf.studies.disposal import RECORDINGS, folder_name

PARTIAL = ".part"
# Room left on the disk beyond the files an import brings.
DISK_MARGIN = 256 * 1024 * 1024


def folder_files(media_dir: Path, storage_key: str) -> list[Path] | None:
    """The files of the folder of the original `storage_key` worth carrying, by name; None
    when the original is not there (nothing of the recording can be carried then)."""
    name = folder_name(storage_key)
    if name is None:
        return None
    folder = media_dir / RECORDINGS / name
    original = folder / PurePosixPath(storage_key).name
    if not original.is_file() or original.is_symlink():
        return None
    found = []
    for path in sorted(folder.iterdir()):
        if (
            FILE_NAME.match(path.name)
            and not path.name.endswith(PARTIAL)
            and path.is_file()
            and not path.is_symlink()
        ):
            found.append(path)
    return found


def chunks_of(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with path.open("rb") as reader:
        while chunk := reader.read(size):
            yield chunk


@dataclass
class Staged:
    """Recording folders made for an import, their files copied and checked, before any row
    names them: kept when the import commits, removed when it fails."""

    media_dir: Path
    folders: dict[int, str] = field(default_factory=dict)  # source recording id → its key

    def key(self, recording_id: int, name: str) -> str:
        return f"{self.folders[recording_id]}/{name}"

    def discard(self) -> None:
        for key in self.folders.values():
            shutil.rmtree(self.media_dir / key, ignore_errors=True)
        self.folders.clear()


def stage(archive: SafeZip, contents: Contents, media_dir: Path) -> Staged:
    """Copy each recording's files out of the archive into a new folder of `media_dir`
    (`recordings/<uuid>/`), checking every file's size and sha256 against the manifest;
    Invalid, with everything copied removed, when one differs or the disk is too small."""
    files = contents.manifest.files
    needed = sum(f.size for f in files)
    if files:
        (media_dir / RECORDINGS).mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(media_dir / RECORDINGS).free
        if needed + DISK_MARGIN > free:
            raise Invalid(
                f"Pas assez de place sur le disque du serveur pour les médias de "
                f"« {contents.name} » : il faut {human_size(needed)}, il reste {human_size(free)}."
            )
    staged = Staged(media_dir)
    try:
        for recording_id in sorted({f.recording_id for f in files}):
            key = f"{RECORDINGS}/{uuid.uuid4().hex}"
            staged.folders[recording_id] = key
            folder = media_dir / key
            folder.mkdir()
            for media in contents.files_of(recording_id):
                _copy(archive, media, folder / media.name)
            sync_folder(folder)
    except BaseException:
        staged.discard()
        raise
    return staged


def _copy(archive: SafeZip, media: MediaFile, target: Path) -> None:
    partial = target.with_name(target.name + PARTIAL)
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        for chunk in archive.chunks(media.entry):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if size != media.size or digest.hexdigest() != media.sha256:
        partial.unlink()
        raise Invalid(
            f"« {archive.name} » : « {media.entry} » ne correspond pas à son empreinte SHA-256 "
            "(fichier abîmé ou modifié depuis l'export) : import refusé."
        )
    partial.replace(target)
