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

Clips (`DATA_DIR/clips/`) are temporary files, removed once sent; one still there belongs
to a download in progress or to a crash, and its name carries the recording's folder, so it
goes too. Exports (tables, reports, chronograms) are computed per request, never stored.
"""

import logging
import shutil
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlmodel import Session, col, or_, select

from autoconf.models import Recording

log = logging.getLogger(__name__)

RECORDINGS = "recordings"
ERASING = "erasing"
BATCH = 500


@dataclass
class Disposal:
    """The files of an erasure, kept out of its transaction (see the module's docstring):
    the folders set aside, by name, and the recordings erased (whose media grants go)."""

    media_dir: Path
    clips_dir: Path
    folders: list[str] = field(default_factory=list)
    recording_ids: list[int] = field(default_factory=list)

    def set_aside(self, name: str) -> None:
        aside = self.media_dir / ERASING / name
        aside.parent.mkdir(parents=True, exist_ok=True)
        # Missing: never stored, or set aside by an erasure a crash interrupted.
        with suppress(FileNotFoundError):
            (self.media_dir / RECORDINGS / name).rename(aside)
        self.folders.append(name)

    def settle(self, session: Session) -> None:
        """After a failure: put back each folder a recording still names, delete the others
        (their recording is gone: the transaction failed after the commit, or a concurrent
        erasure won)."""
        kept = _named_folders(session, self.folders)
        for name in self.folders:
            if name in kept:
                with suppress(OSError):  # nothing set aside, or already back
                    (self.media_dir / ERASING / name).rename(self.media_dir / RECORDINGS / name)
            else:
                self._remove(name)
        self.folders.clear()

    def remove(self) -> None:
        """After the commit: the folders and the recordings' clips, wherever they are (a
        `sweep` may have put one back meanwhile)."""
        for name in self.folders:
            self._remove(name)
        self.folders.clear()

    def _remove(self, name: str) -> None:
        for place in (ERASING, RECORDINGS):
            shutil.rmtree(self.media_dir / place / name, ignore_errors=True)
            if (self.media_dir / place / name).exists():
                log.warning("erased folder %s/%s could not be removed", place, name)
        for clip in self.clips_dir.glob(f"clip-{name}-*"):
            clip.unlink(missing_ok=True)


def sweep(session: Session, media_dir: Path, clips_dir: Path) -> None:
    """Finish the erasures a crash interrupted: folders set aside that a recording still
    names go back, the others are deleted."""
    aside = media_dir / ERASING
    if aside.is_dir():
        names = [entry.name for entry in aside.iterdir()]
        if names:
            Disposal(media_dir, clips_dir, names).settle(session)


def folder_name(key: str) -> str | None:
    """The `<uuid>` of `recordings/<uuid>/…`, the folder a recording's files share; None for
    anything else (never a path that could reach out of the recordings folder)."""
    parts = PurePosixPath(key).parts
    if len(parts) != 3 or parts[0] != RECORDINGS or parts[1] in ("", ".", ".."):
        return None
    return parts[1]


def folders(recordings: Iterable[Recording]) -> list[str]:
    """The folders of these recordings' files, each once."""
    names: list[str] = []
    for recording in recordings:
        for key in (recording.storage_key, recording.proxy_key):
            name = folder_name(key) if key else None
            if name is not None and name not in names:
                names.append(name)
    return names


def _named_folders(session: Session, names: list[str]) -> set[str]:
    """Those of `names` that a recording still names as its folder."""
    kept: set[str] = set()
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        prefixes = [
            col(Recording.storage_key).startswith(f"{RECORDINGS}/{name}/", autoescape=True)
            for name in batch
        ]
        for key in session.exec(select(Recording.storage_key).where(or_(*prefixes))).all():
            name = folder_name(key)
            if name is not None:
                kept.add(name)
    return kept


def file_stats(media_dir: Path, names: list[str]) -> tuple[int, int]:
    """How many files the folders hold, and their total size."""
    count = size = 0
    for name in names:
        for place in (RECORDINGS, ERASING):
            for path in (media_dir / place / name).rglob("*"):
                try:
                    if path.is_file():
                        count, size = count + 1, size + path.stat().st_size
                except OSError:  # removed meanwhile (a job's work folder)
                    continue
    return count, size
