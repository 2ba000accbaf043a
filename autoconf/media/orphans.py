"""Recording folders of an object store that no recording names: left by an erasure a crash
cut short between its commit and the deletion, or by an upload whose registration failed
(`studies.disposal` explains the order). The media workers remove them every hour, once
nothing has been written to them for ORPHAN_AFTER_S (an upload being registered now is
younger)."""

import logging
from pathlib import PurePosixPath

from sqlmodel import Session, col, or_, select

from autoconf.media.store import RECORDINGS, LocalStore, Store
from autoconf.models import Recording

log = logging.getLogger(__name__)

BATCH = 500
ORPHAN_AFTER_S = 24 * 3600


def collect_orphans(session: Session, store: Store, older_than_s: float = ORPHAN_AFTER_S) -> int:
    """Remove from an object store the recording folders no recording names, untouched for
    `older_than_s` (an erasure a crash cut short, an upload whose registration failed); how
    many. Nothing for a local folder (`sweep`, and uploads removed on failure, do it)."""
    if isinstance(store, LocalStore):
        return 0
    names = store.idle_folders(RECORDINGS, older_than_s)
    orphans = sorted(set(names) - named_folders(session, names))
    for name in orphans:
        log.warning("removing %s/%s from the media store: no recording names it", RECORDINGS, name)
        store.remove_prefix(f"{RECORDINGS}/{name}")
    return len(orphans)


def named_folders(session: Session, names: list[str]) -> set[str]:
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


def folder_name(key: str) -> str | None:
    """The `<uuid>` of `recordings/<uuid>/…`, the folder a recording's files share; None for
    anything else (never a path that could reach out of the recordings folder)."""
    parts = PurePosixPath(key).parts
    if len(parts) != 3 or parts[0] != RECORDINGS or parts[1] in ("", ".", ".."):
        return None
    return parts[1]
