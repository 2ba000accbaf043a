"""The folder of one processing attempt, beside the original: the proxy and derived files
are written there, then moved in place. Its worker holds a lock on the folder (flock) as
long as the attempt runs; the kernel lets go when the process dies, SIGKILL included. So
another process tells at once an attempt whose worker died (its folder unlocked) from one
under way, without waiting for a heartbeat to go stale.

Where a lock taken here does not keep another open file out (some network file systems),
`running` answers None and the heartbeat alone decides.
"""

import contextlib
import fcntl
import logging
import os
import time
import uuid
from pathlib import Path

from autoconf.media.storage import remove_tree

log = logging.getLogger(__name__)

PREFIX = "work-"
_NEW = ".new-"  # a folder not yet locked: not named PREFIX…, so never taken for abandoned
NEW_KEEP_S = 60.0  # a `.new-` folder older than this was left by a process that died


def _lock(path: Path, wait: bool = True) -> int | None:
    """An open descriptor of the folder `path` holding its lock; None when another holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


class Attempt:
    """A new folder `path` in `folder`, locked from `open()` until `close()` removes it
    (then unlocks it: nobody sees it unlocked while it is in use)."""

    def __init__(self, folder: Path) -> None:
        self.name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
        self.path = folder / self.name
        self._fd: int | None = None

    def open(self) -> None:
        new = self.path.with_name(_NEW + self.name)
        new.mkdir(parents=True)
        try:
            self._fd = _lock(new)
        except OSError as error:  # no locks here: the heartbeat alone tells a dead worker
            log.info("work folder %s not locked: %s", new, error)
        try:
            new.rename(self.path)  # the lock stays: it is the folder's, not its name's
        except BaseException:
            self._release()
            remove_tree(new.parent, new.name)
            raise

    def close(self) -> None:
        remove_tree(self.path.parent, self.name)
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _locks_hold(folder: Path) -> bool:
    """Whether a lock taken in `folder` keeps out another open file of this process (not
    where flock is emulated by per-process POSIX locks, as on NFS, or ignored)."""
    probe = folder / f"{_NEW}probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    try:
        first = _lock(probe)
        try:
            second = _lock(probe, wait=False)
            if second is not None:
                os.close(second)
            return second is None
        finally:
            if first is not None:
                os.close(first)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def running(folder: Path) -> bool | None:
    """Whether an attempt in `folder` is under way (its worker alive, here or on another
    machine sharing the folder); None when locks cannot tell."""
    if not folder.is_dir() or not _locks_hold(folder):
        return None
    for path in folder.glob(f"{PREFIX}*"):
        try:
            fd = _lock(path, wait=False)
        except OSError:  # removed meanwhile: its attempt ended
            continue
        if fd is None:
            return True
        os.close(fd)
    return False


def remove_abandoned(folder: Path, stale_s: float) -> None:
    """Remove the folders of attempts whose worker died (a killed server left them, a
    proxy half written in each); where locks cannot tell, those untouched for `stale_s`."""
    if not folder.is_dir():
        return
    locks = _locks_hold(folder)
    cutoff = time.time() - stale_s
    for path in folder.glob(f"{_NEW}*"):  # the process died between mkdir and rename
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < time.time() - NEW_KEEP_S:
                remove_tree(folder, path.name)
    for path in folder.glob(f"{PREFIX}*"):
        try:
            if locks:
                fd = _lock(path, wait=False)
                if fd is not None:  # held while removing: nobody else takes it meanwhile
                    try:
                        remove_tree(folder, path.name)
                    finally:
                        os.close(fd)
            elif path.stat().st_mtime < cutoff:
                remove_tree(folder, path.name)
        except OSError:
            continue
