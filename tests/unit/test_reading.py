"""Parts of a media file for sending: mapped from the page cache where possible, read
otherwise, the same bytes either way; a replaced file is mapped anew, a removed one let go."""

import mmap
import os
import time
from pathlib import Path

import pytest

from autoconf.media import reading

SIZE = 3 * mmap.PAGESIZE + 123


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, bytes]:
    content = os.urandom(SIZE)
    path = tmp_path / "proxy.mp4"
    path.write_bytes(content)
    return path, content


@pytest.fixture
def files() -> reading.MappedFiles:
    mapped = reading.MappedFiles()
    # This machine (Linux 5.14 or later) maps; elsewhere parts are read (tested below).
    assert mapped.mapping
    return mapped


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),
        (0, SIZE),
        (1, 2),  # inside the first page
        (mmap.PAGESIZE - 1, mmap.PAGESIZE + 1),  # across pages
        (2 * mmap.PAGESIZE, SIZE),  # from a page's first byte to the end
        (123, 123 + 10_000),
        (SIZE - 10, SIZE + 10),  # past the end: what there is
        (SIZE + 5, SIZE + 10),  # all past the end: nothing
    ],
)
def test_a_part_holds_the_files_bytes_mapped_or_read(
    files: reading.MappedFiles, media: tuple[Path, bytes], start: int, end: int
) -> None:
    path, content = media
    mapped = files.open(path)
    part = mapped.part(start, end)
    assert bytes(part) == content[start:end]
    if content[start:end]:
        assert isinstance(part, memoryview)  # no copy
    files.mapping = False
    read = files.open(path)
    assert read.part(start, end) == content[start:end]
    read.close()
    mapped.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    return now


def test_a_file_is_mapped_once_and_again_when_replaced(
    files: reading.MappedFiles, media: tuple[Path, bytes], tmp_path: Path, clock: list[float]
) -> None:
    """A proxy processed again is renamed over the old one: an answer being sent keeps the
    old bytes (its reader keeps the old mapping); answers opened within STAT_FRESH_S may
    still get the old file (whole: never a mix), later ones get the new file."""
    path, content = media
    first = files.open(path)
    assert files.recent(path) == path.stat()
    assert files.open(path).part(0, 10) == content[:10]
    assert len(files) == 1
    newer = tmp_path / "new.mp4"
    newer.write_bytes(b"new bytes")
    newer.replace(path)
    clock[0] += reading.STAT_FRESH_S / 2
    assert files.open(path).part(0, 10) == content[:10]
    # An answer whose headers were made from the new file gets the new file's bytes.
    assert files.open(path, path.stat()).part(0, 100) == b"new bytes"
    newest = tmp_path / "newest.mp4"
    newest.write_bytes(b"newest bytes")
    newest.replace(path)
    clock[0] += reading.STAT_FRESH_S
    assert files.recent(path) is None  # not checked lately: the event loop does not stat
    assert files.open(path).part(0, 100) == b"newest bytes"
    assert files.recent(path) == path.stat()
    assert bytes(first.part(100, 5_000)) == content[100:5_000]
    assert len(files) == 1


def test_removed_files_are_let_go(
    files: reading.MappedFiles, media: tuple[Path, bytes], clock: list[float]
) -> None:
    path, content = media
    part = files.open(path).part(0, 100)
    path.unlink()
    files.forget_all()  # what erasing a recording does: at once
    with pytest.raises(FileNotFoundError):
        files.open(path)
    assert len(files) == 0
    assert bytes(part) == content[:100]  # an answer being sent keeps its part


def test_idle_files_are_let_go(
    files: reading.MappedFiles, media: tuple[Path, bytes], tmp_path: Path, clock: list[float]
) -> None:
    path, _ = media
    files.open(path)
    other = tmp_path / "other.mp4"
    other.write_bytes(b"x" * 100)
    clock[0] += reading.IDLE_S + 1
    files.open(other)
    assert len(files) == 1  # the first went idle
    assert files.recent(path) is None


def test_an_empty_file_is_read(files: reading.MappedFiles, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    reader = files.open(empty)
    assert reader.part(0, 10) == b""
    reader.close()
