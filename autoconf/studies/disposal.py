"""The files of an erasure, kept out of its transaction.

The rows of an erasure go in one transaction, with its audit entry; files cannot be part of
it, so they are handled around it:

1. just before the commit, each recording folder (original, proxy, poster, thumbnails,
   waveform, work folders of a running job) is *set aside*: renamed, on the same file
   system, from `media/recordings/<uuid>` to `media/erasing/<uuid>`;
2. if the transaction fails, `Disposal.settle` puts back every folder a recording still
   names: nothing is lost;
3. once committed, `Disposal.remove` deletes the folders, and the recordings' clips.

Deleting before the commit would lose the files of a recording whose erasure then fails;
deleting after it, without setting aside, would leave bytes nothing points at when the
process dies between the commit and the deletion. With the rename, a crash at any moment
leaves either a folder in `erasing/` that a recording still names (put back) or one that
no recording names (deleted): `sweep` does both, at the start of every erasure.

In an object store (`media.store.S3Store`) nothing can be renamed in one step: the objects
stay where they are until the commit, then go (`remove`); a failed transaction leaves them
untouched. A crash between the commit and the deletion leaves objects no recording names:
the media workers remove them within the hour after a day (`media.orphans`).

Clips (`DATA_DIR/clips/`) are temporary files, removed once sent; one still there belongs
to a download in progress or to a crash, and its name carries the recording's folder, so it
goes too. Exports (tables, reports, chronograms) are computed per request, never stored.
"""

import logging
import shutil
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from autoconf.media.orphans import folder_name as folder_name  # where they were
from autoconf.media.orphans import named_folders
from autoconf.media.store import RECORDINGS as RECORDINGS
from autoconf.media.store import LocalStore, Store
from autoconf.models import Recording

log = logging.getLogger(__name__)

ERASING = "erasing"


@dataclass
class Disposal:
    """The files of an erasure, kept out of its transaction (see the module's docstring):
    the folders set aside, by name, and the recordings erased (whose media grants go)."""

    store: Store
    clips_dir: Path
    folders: list[str] = field(default_factory=list)
    recording_ids: list[int] = field(default_factory=list)

    @property
    def media_dir(self) -> Path | None:
        """The local media folder; None for an object store."""
        return self.store.root if isinstance(self.store, LocalStore) else None

    def set_aside(self, name: str) -> None:
        if (media := self.media_dir) is not None:  # an object store's: untouched till the commit
            aside = media / ERASING / name
            aside.parent.mkdir(parents=True, exist_ok=True)
            # Missing: never stored, or set aside by an erasure a crash interrupted.
            with suppress(FileNotFoundError):
                (media / RECORDINGS / name).rename(aside)
        self.folders.append(name)

    def settle(self, session: Session) -> None:
        """After a failure: put back each folder a recording still names, delete the others
        (their recording is gone: the transaction failed after the commit, or a concurrent
        erasure won)."""
        kept = named_folders(session, self.folders)
        media = self.media_dir
        for name in self.folders:
            if name not in kept:
                self._remove(name)
            elif media is not None:
                with suppress(OSError):  # nothing set aside, or already back
                    (media / ERASING / name).rename(media / RECORDINGS / name)
        self.folders.clear()

    def remove(self) -> None:
        """After the commit: the folders and the recordings' clips, wherever they are (a
        `sweep` may have put one back meanwhile)."""
        for name in self.folders:
            self._remove(name)
        self.folders.clear()

    def _remove(self, name: str) -> None:
        for clip in self.clips_dir.glob(f"clip-{name}-*"):
            clip.unlink(missing_ok=True)
        if (media := self.media_dir) is None:
            self.store.remove_prefix(f"{RECORDINGS}/{name}")
            return
        for place in (ERASING, RECORDINGS):
            shutil.rmtree(media / place / name, ignore_errors=True)
            if (media / place / name).exists():
                log.warning("erased folder %s/%s could not be removed", place, name)


def sweep(session: Session, store: Store, clips_dir: Path) -> None:
    """Finish the erasures a crash interrupted: folders set aside that a recording still
    names go back, the others are deleted (a local folder; an object store's leftovers are
    `media.orphans.collect_orphans`'s)."""
    if not isinstance(store, LocalStore):
        return
    aside = store.root / ERASING
    if aside.is_dir():
        names = [entry.name for entry in aside.iterdir()]
        if names:
            Disposal(store, clips_dir, names).settle(session)


def folders(recordings: Iterable[Recording]) -> list[str]:
    """The folders of these recordings' files, each once."""
    names: list[str] = []
    for recording in recordings:
        for key in (recording.storage_key, recording.proxy_key):
            name = folder_name(key) if key else None
            if name is not None and name not in names:
                names.append(name)
    return names


def file_stats(store: Store, names: list[str]) -> tuple[int, int]:
    """How many files the folders hold, and their total size."""
    count = size = 0
    places = (RECORDINGS, ERASING) if isinstance(store, LocalStore) else (RECORDINGS,)
    for name in names:
        for place in places:
            for _key, found in store.listing(f"{place}/{name}"):
                count, size = count + 1, size + found
    return count, size
