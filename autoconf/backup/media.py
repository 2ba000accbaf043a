"""The media files copied into a backup while the server runs.

From a local folder: every file the application writes there appears complete under its
final name: originals are written as `….part` then renamed (`media.storage`), finished
uploads are moved in, and each processing attempt writes into `work-<random>/` before
renaming its files into place (`media.jobs`). So a file is copied when its name is final,
and what is being written is left out: `*.part`, `work-*/` folders, resumable uploads in
progress (`uploads/`) and folders being erased (`erasing/`).

From an object store (`media.store.S3Store`): an object appears whole once written, uploads
in progress and processing attempts stay on local disk (`Settings.work_dir`), so the files
of the recording folders are read from the store as they are, a part at a time, into the
same layout (a backup restores onto either kind of store).

Either way, recording folders the database snapshot does not name (uploaded after it) are
left out: restored, they would be files without a recording.
"""

import os
from abc import ABC, abstractmethod
from contextlib import suppress
from pathlib import Path, PurePosixPath

from autoconf.backup.manifest import MEDIA, Entry
from autoconf.backup.transfer import Copied, copy_file, copy_stream, identity
from autoconf.media.jobs import WORK_PREFIX
from autoconf.media.storage import UPLOADS
from autoconf.media.store import LocalStore, MissingObject, Store
from autoconf.studies.disposal import ERASING, RECORDINGS

SKIPPED_FOLDERS = frozenset({UPLOADS, ERASING})
PARTIAL_SUFFIX = ".part"


def media_sources(media_dir: Path, folders: frozenset[str]) -> dict[str, Path]:
    """The complete files of the media folder worth keeping, by key (path relative to the
    media folder, POSIX); symbolic links are not followed."""
    found: dict[str, Path] = {}
    for root, subfolders, files in os.walk(media_dir):
        here = Path(root)
        parts = here.relative_to(media_dir).parts
        if not parts:
            subfolders[:] = [name for name in subfolders if name not in SKIPPED_FOLDERS]
        elif parts == (RECORDINGS,):
            subfolders[:] = [name for name in subfolders if name in folders]
        elif len(parts) == 2 and parts[0] == RECORDINGS:
            subfolders[:] = [name for name in subfolders if not name.startswith(WORK_PREFIX)]
        subfolders.sort()
        for name in sorted(files):
            path = here / name
            if name.endswith(PARTIAL_SUFFIX) or path.is_symlink():
                continue
            found["/".join((*parts, name))] = path
    return found


def stored_sources(store: Store, folders: frozenset[str]) -> list[str]:
    """The keys of the files of the recording folders `folders` in an object store (as
    `media_sources` would keep them from a folder)."""
    found = []
    for key, _size in store.listing(RECORDINGS):
        parts = PurePosixPath(key).parts
        if len(parts) < 3 or parts[1] not in folders or key.endswith(PARTIAL_SUFFIX):
            continue
        if len(parts) > 3 and parts[2].startswith(WORK_PREFIX):
            continue
        found.append(key)
    return sorted(found)


class MediaCopy(ABC):
    """The media files of a backup, copied round after round: a file already copied and
    unchanged since is kept, one no longer wanted is removed."""

    def __init__(self, backup: Path) -> None:
        self.target = backup / MEDIA
        self.copied: dict[str, Copied] = {}

    @abstractmethod
    def sync(self, folders: frozenset[str]) -> None:
        """Bring the copy in line with the media now, keeping the recording folders in
        `folders` (those the database snapshot names)."""

    def missing(self, named: frozenset[str]) -> list[str]:
        """The keys of `named` that the copy does not hold."""
        return sorted(key for key in named if key not in self.copied)

    def entries(self) -> list[Entry]:
        return [
            Entry(f"{MEDIA}/{key}", copied.size, copied.sha256)
            for key, copied in sorted(self.copied.items())
        ]

    @property
    def total_bytes(self) -> int:
        return sum(copied.size for copied in self.copied.values())

    def _drop(self, key: str) -> None:
        self.copied.pop(key, None)
        path = self.target / key
        path.unlink(missing_ok=True)
        for folder in path.parents:  # the folders it leaves empty
            if folder == self.target or not folder.is_relative_to(self.target):
                break
            with suppress(OSError):
                folder.rmdir()


class FolderCopy(MediaCopy):
    """From the local media folder."""

    def __init__(self, media_dir: Path, backup: Path) -> None:
        super().__init__(backup)
        self.media_dir = media_dir

    def sync(self, folders: frozenset[str]) -> None:
        sources = media_sources(self.media_dir, folders)
        for key, path in sources.items():
            known = self.copied.get(key)
            try:
                if known is not None and known.identity == identity(path.stat()):
                    continue
                self.copied[key] = copy_file(path, self.target / key)
            except FileNotFoundError:  # removed meanwhile (an erasure, a new attempt)
                self._drop(key)
        for key in set(self.copied) - set(sources):
            self._drop(key)


class StoreCopy(MediaCopy):
    """From an object store. It tells no identity that would prove a file unchanged (a new
    processing attempt writes its files under the same keys): each round copies every file
    again; a round after the first happens only when a named file went away meanwhile."""

    def __init__(self, store: Store, backup: Path) -> None:
        super().__init__(backup)
        self.store = store

    def sync(self, folders: frozenset[str]) -> None:
        sources = stored_sources(self.store, folders)
        for key in sources:
            try:
                with self.store.open(key) as reader:
                    size, sha256 = copy_stream(reader, self.target / key)
            except MissingObject:  # removed meanwhile (an erasure, a new attempt)
                self._drop(key)
                continue
            self.copied[key] = Copied(size, sha256, None)
        for key in set(self.copied) - set(sources):
            self._drop(key)


def media_copy(store: Store, backup: Path) -> MediaCopy:
    """The copy of the media of `store` into the backup folder `backup`."""
    if isinstance(store, LocalStore):
        return FolderCopy(store.root, backup)
    return StoreCopy(store, backup)
