"""Files copied in constant memory, hashed (sha256) on the way, flushed to disk."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
PARTIAL = ".autoconf-partial"  # a file being written by a backup or a restore


@dataclass(frozen=True)
class Copied:
    size: int
    sha256: str
    # (device, inode, size, mtime) of the source as it was read: the app never rewrites a
    # media file in place (it writes another and renames it), so the same identity means
    # the same bytes, and a later round of the same backup need not copy it again. None for
    # a file read from an object store, which tells no such thing.
    identity: tuple[int, int, int, int] | None


def identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def copy_file(source: Path, target: Path) -> Copied:
    """Copy `source` to `target` (written beside it under a temporary name, then renamed);
    FileNotFoundError when the source is gone. A source renamed over meanwhile is read
    whole as it was opened."""
    with source.open("rb") as reader:
        stat = os.fstat(reader.fileno())
        size, sha256 = copy_stream(reader, target)
    return Copied(size, sha256, identity(stat))


def copy_stream(reader: BinaryIO, target: Path) -> tuple[int, str]:
    """Write what `reader` reads to `target` (beside it under a temporary name, flushed to
    disk, then renamed); its size and sha256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL)
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()
