"""The media folder copied into a backup while the server runs.

Every file the application writes there appears complete under its final name: originals
are written as `….part` then renamed (`media.storage`), finished uploads are moved in,
and each processing attempt writes into `work-<random>/` before renaming its files into
place (`media.jobs`). So a file is copied when its name is final, and what is being
written is left out: `*.part`, `work-*/` folders, resumable uploads in progress
(`uploads/`) and folders being erased (`erasing/`). Recording folders the database
snapshot does not name (uploaded after it) are left out too: restored, they would be
files without a recording.
"""

import os
from contextlib import suppress
from pathlib import Path

from autoconf.backup.manifest import MEDIA, Entry
from autoconf.backup.transfer import Copied, copy_file, identity
from autoconf.media.jobs import WORK_PREFIX
from autoconf.media.storage import UPLOADS
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


class MediaCopy:
    """The media files of a backup, copied round after round: a file already copied and
    unchanged since is kept, one no longer wanted is removed."""

    def __init__(self, media_dir: Path, backup: Path) -> None:
        self.media_dir = media_dir
        self.target = backup / MEDIA
        self.copied: dict[str, Copied] = {}

    def sync(self, folders: frozenset[str]) -> None:
        """Bring the copy in line with the media folder now, keeping the recording folders
        in `folders` (those the database snapshot names)."""
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
