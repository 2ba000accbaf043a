"""Parts of a media file, for sending: mapped from the page cache instead of copied.

Sending a Range answer by reading it (`pread` into a new `bytes`, then the socket's copy)
copies every byte twice in the server: two thirds of the app's time on 1 MiB ranges
(bench/README.md). Mapped, the socket copies straight from the page cache: once. A file is
mapped whole once and the mapping kept while it is used (and IDLE_S after): mapping and
unmapping for every answer cost a third of what the mapping saved. The pages of a part
are brought in by the caller's worker thread (`MADV_POPULATE_READ`), so that sending them
from the event loop never waits for the disk.

A mapped page of a file shortened in place would kill the process (SIGBUS) when read:
every writer under the media folder writes aside and renames, or removes (ARCHITECTURE.md,
"Media files are never rewritten in place"); a file replaced by a rename is a new file,
mapped anew (an answer is sent from the file its headers were made from), and a part ends
where the file mapped ends. A removed file's space is
given back once its mapping is dropped: when idle for IDLE_S, or at once by `forget_all`
(called when a recording is erased, deleted or its consent withdrawn). Where mapping is not
possible (no `MADV_POPULATE_READ`: Linux before 5.14, or another system) parts are read.
"""

import errno
import mmap
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol

IDLE_S = 10.0
# How long a path is taken to be the file found there: a file renamed over it (a recording
# processed again) is seen at most this late, when no `forget_all` said so at once.
STAT_FRESH_S = 1.0
MOST_FILES = 256
# Linux's MADV_POPULATE_READ (5.14+); Python 3.11's mmap module does not name it.
_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)


class Reader(Protocol):
    """One file, opened for one answer: its parts, then closed."""

    def part(self, start: int, end: int) -> memoryview | bytes:
        """Bytes [start, end), fewer at the file's end."""

    def close(self) -> None: ...


class _Read:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def part(self, start: int, end: int) -> memoryview | bytes:
        return os.pread(self.fd, max(0, end - start), start)

    def close(self) -> None:
        os.close(self.fd)


def _identity(found: os.stat_result) -> tuple[int, int, int, int]:
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


@dataclass
class _Mapping:
    identity: tuple[int, int, int, int]  # device, inode, size, modification time
    found: os.stat_result
    mapped: mmap.mmap
    view: memoryview
    used: float  # when an answer last opened it
    checked: float  # when the path was last found to be this file


class _Mapped:
    def __init__(self, mapped: mmap.mmap, view: memoryview) -> None:
        self.mapped, self.view = mapped, view

    def part(self, start: int, end: int) -> memoryview | bytes:
        end = min(end, len(self.view))
        if end <= start:
            return b""
        first_page = start - start % mmap.PAGESIZE
        self.mapped.madvise(_POPULATE_READ, first_page, end - first_page)
        return self.view[start:end]

    def close(self) -> None:
        """The mapping stays: kept by the cache, or dropped with the last view."""


class MappedFiles:
    """The media files mapped whole by this process, by path; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, _Mapping] = {}
        self.mapping = hasattr(mmap.mmap, "madvise") and os.uname().sysname == "Linux"

    def open(self, path: str | os.PathLike[str], expected: os.stat_result | None = None) -> Reader:
        """The file at `path`, as it is now or was STAT_FRESH_S ago, or as `expected` (the
        `stat` an answer's headers were made from) when it is still there (OSError if it
        cannot be opened)."""
        key = os.fspath(path)
        if not self.mapping:
            return _Read(key)
        now = time.monotonic()
        wanted = None if expected is None else _identity(expected)
        with self._lock:
            kept = self._files.get(key)
            if (
                kept is not None
                and now - kept.checked < STAT_FRESH_S
                and wanted in (None, kept.identity)
            ):
                kept.used = now
                return _Mapped(kept.mapped, kept.view)
        found = os.stat(key)
        identity = _identity(found)
        with self._lock:
            kept = self._files.get(key)
            if kept is not None and kept.identity == identity:
                kept.used = kept.checked = now
                return _Mapped(kept.mapped, kept.view)
        # Mapped outside the lock: bringing in the first page may wait for the disk, and the
        # event loop asks `recent` under the same lock.
        mapped = self._map(key, found.st_size)
        if mapped is None:
            return _Read(key)
        with self._lock:
            kept = _Mapping(identity, found, mapped, memoryview(mapped), now, now)
            self._files[key] = kept
            self._drop_idle(now)
            return _Mapped(kept.mapped, kept.view)

    def recent(self, path: str | os.PathLike[str]) -> os.stat_result | None:
        """What the path was found to be less than STAT_FRESH_S ago, if it is kept mapped:
        no system call (the event loop may ask)."""
        with self._lock:
            kept = self._files.get(os.fspath(path))
            if kept is not None and time.monotonic() - kept.checked < STAT_FRESH_S:
                return kept.found
        return None

    def _map(self, path: str, size: int) -> mmap.mmap | None:
        if size == 0:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            mapped = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)  # the mapping keeps the file
        try:
            mapped.madvise(_POPULATE_READ, 0, min(size, mmap.PAGESIZE))
        except OSError as error:
            mapped.close()
            if error.errno == errno.EINVAL:  # a kernel before 5.14: read from now on
                self.mapping = False
            return None
        return mapped

    def _drop_idle(self, now: float) -> None:
        idle = [k for k, m in self._files.items() if now - m.used > IDLE_S]
        if len(self._files) - len(idle) > MOST_FILES:
            idle += sorted(self._files, key=lambda k: self._files[k].used)[:-MOST_FILES]
        for key in idle:
            self._files.pop(key, None)  # unmapped once no answer holds a part of it

    def forget_all(self) -> None:
        """Drop every kept mapping (answers being sent keep theirs until done)."""
        with self._lock:
            self._files.clear()

    def __len__(self) -> int:
        return len(self._files)


files = MappedFiles()
