"""The local folder behind the same operations as an object store (media.store): what the
media code asks of either, on keys that never leave the folder."""

import io
from pathlib import Path

import pytest

from autoconf.errors import Invalid, TooLarge
from autoconf.media.store import LocalStore, MissingObject


def test_files_in_out_listed_and_removed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    stored = store.save_stream(io.BytesIO(b"original"), "recordings/a/original.mp4", 100)
    assert (stored.size, stored.key) == (8, "recordings/a/original.mp4")
    work = tmp_path / "proxy.mp4"
    work.write_bytes(b"proxy!")
    store.put_file(work, "recordings/a/proxy.mp4")
    assert work.read_bytes() == b"proxy!"  # a copy: the work file stays for its attempt
    assert store.listing("recordings/a") == [
        ("recordings/a/original.mp4", 8),
        ("recordings/a/proxy.mp4", 6),
    ]
    assert store.size("recordings/a/proxy.mp4") == 6 and store.size("recordings/a") is None
    with store.open("recordings/a/original.mp4") as file:
        assert file.read() == b"original"
    copy = tmp_path / "copy.mp4"
    store.fetch("recordings/a/original.mp4", copy)
    assert copy.read_bytes() == b"original"
    assert store.source("recordings/a/original.mp4") == str(
        tmp_path / "media" / "recordings" / "a" / "original.mp4"
    )
    store.remove("recordings/a/proxy.mp4")
    store.remove("recordings/a/proxy.mp4")  # gone already: nothing to do
    assert [key for key, _ in store.listing("recordings/a")] == ["recordings/a/original.mp4"]
    store.remove_prefix("recordings/a")
    assert store.listing("recordings") == [] and store.size("recordings/a/original.mp4") is None
    with pytest.raises(MissingObject):
        store.fetch("recordings/a/original.mp4", copy)
    with pytest.raises(MissingObject), store.open("recordings/a/original.mp4"):
        pass
    assert store.idle_folders("recordings", 0) == []
    store.check()
    assert list((tmp_path / "media").iterdir()) == [tmp_path / "media" / "recordings"]


def test_refusals_leave_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "media")
    with pytest.raises(TooLarge):
        store.save_stream(io.BytesIO(bytes(50)), "recordings/b/original.mp4", 10)
    assert store.listing("recordings") == []
    upload = tmp_path / "upload"
    upload.write_bytes(b"0123456789")
    with pytest.raises(Invalid, match="SHA-256"):
        store.save_upload(upload, "recordings/b/original.mp4", "0" * 64)
    assert not upload.exists() and store.listing("recordings") == []
    for key in ("../outside", "/etc/passwd", "recordings//x", "recordings/./x", ""):
        with pytest.raises(ValueError):
            store.size(key)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OSError):
        LocalStore(tmp_path / "file").check()
