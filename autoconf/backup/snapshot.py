"""A consistent copy of the database, and what it names in the media folder.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies every page in one step,
inside one read transaction: writers go on (WAL), the copy is the database as of one
commit. PostgreSQL: see `autoconf.backup.postgres` (pg_dump on an exported snapshot).
Either way, the recordings' files are read from that same state, so the media copy that
follows knows which files it must hold.
"""

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from autoconf.backup.manifest import SQLITE_FILE, Entry
from autoconf.backup.transfer import PARTIAL
from autoconf.errors import Invalid
from autoconf.media.storage import hash_file
from autoconf.studies.disposal import folder_name

# What the recordings name, in every revision of the schema (a backup before an upgrade
# must work on the old schema too).
RECORDINGS_QUERY = "SELECT storage_key, proxy_key, status, media_info FROM recording"
REVISION_QUERY = "SELECT version_num FROM alembic_version"


@dataclass(frozen=True)
class Snapshot:
    kind: str  # "sqlite" or "postgresql"
    taken_at: datetime
    revision: str
    file: Entry  # the database file in the backup
    named: frozenset[str]  # media keys the database names: the backup must hold them
    folders: frozenset[str]  # the recording folders (`<uuid>`) the database names


def named_media(rows: Iterable[Any]) -> tuple[frozenset[str], frozenset[str]]:
    """(files, folders) named by recording rows (storage_key, proxy_key, status, media_info):
    the original always; the proxy and derived files only of a ready recording, the others
    being replaced or removed by their job (`autoconf.media.jobs`)."""
    files: set[str] = set()
    folders: set[str] = set()
    for storage_key, proxy_key, status, media_info in rows:
        for key in (storage_key, proxy_key):
            name = folder_name(key) if key else None
            if name is not None:
                folders.add(name)
        if storage_key:
            files.add(storage_key)
        if status != "ready" or not proxy_key:
            continue
        files.add(proxy_key)
        info = json.loads(media_info) if isinstance(media_info, str) else media_info or {}
        folder = PurePosixPath(proxy_key).parent
        files.update(str(folder / name) for name in (info.get("files") or {}).values() if name)
    return frozenset(files), frozenset(folders)


def revision_of(rows: Iterable[Any]) -> str:
    """The Alembic revision from `alembic_version` rows; Invalid without one (not migrated)."""
    versions = sorted(str(row[0]) for row in rows)
    if not versions:
        raise Invalid(
            "La base n'a pas de schéma autoconf (aucune révision Alembic) : rien à sauvegarder."
        )
    return ",".join(versions)


def sqlite_snapshot(database: Path, backup: Path) -> Snapshot:
    """Copy the live SQLite database at `database` into the backup folder `backup` by the
    online backup API, as one self-contained file (rollback journal, not WAL), checked by
    integrity_check."""
    target = backup / SQLITE_FILE
    if not database.is_file():
        raise Invalid(f"Aucune base SQLite à sauvegarder : « {database} » n'existe pas.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL)
    partial.unlink(missing_ok=True)
    # mode=rw: never creates a database; it may still replay a WAL left by a crash.
    source = sqlite3.connect(f"{database.as_uri()}?mode=rw", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            taken_at = datetime.now(UTC)
            source.backup(copy)  # pages=-1: every page in one step, one read transaction
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise Invalid(
                    "La copie de la base SQLite est incohérente (integrity_check : "
                    f"{'; '.join(problems[:3])}) : la base d'origine est peut-être abîmée."
                )
            revision = revision_of(copy.execute(REVISION_QUERY))
            named, folders = named_media(copy.execute(RECORDINGS_QUERY))
        finally:
            copy.close()
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    size, sha256 = hash_file(target)
    entry = Entry(SQLITE_FILE, size, sha256)
    return Snapshot("sqlite", taken_at, revision, entry, named, folders)
