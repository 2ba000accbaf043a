"""`autoconf backup DEST`: the database and the media (the local folder's, or an object
store's) copied while the server runs, with a manifest of sha256 sums.

The database is copied first (a snapshot), then the media folder. Files only ever appear
complete under their final name and an original is stored before its recording's row
exists, so every file the snapshot names is already there when the copy starts; what is
written after the snapshot (a new upload's folder) is left out. One thing can still take a
named file away during the copy: a recording erased or processed again meanwhile. Then the
database is copied again and the media folder brought in line (unchanged files are not
copied twice), up to MAX_ROUNDS times, so that the backup never holds a database naming a
file it lacks.
"""

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from autoconf import __version__
from autoconf.backup.manifest import MANIFEST, Manifest
from autoconf.backup.media import media_copy
from autoconf.backup.postgres import PgTools, check_tools, postgres_snapshot
from autoconf.backup.snapshot import Snapshot, sqlite_snapshot
from autoconf.errors import Conflict, Invalid
from autoconf.media.storage import sync_folder
from autoconf.media.store import LocalStore, store_for
from autoconf.settings import Settings

MAX_ROUNDS = 3


@dataclass(frozen=True)
class Made:
    manifest: Manifest
    media_bytes: int
    rounds: int
    seconds: float


def database_kind(url: str) -> str:
    """ "sqlite" or "postgresql"; Invalid for any other database."""
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise Invalid(f"Sauvegarde impossible : base « {backend} » non prise en charge.")
    return backend


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise Invalid("Une base SQLite en mémoire ne se sauvegarde pas.")
    return Path(database)


def _prepare(dest: Path) -> bool:
    """Make `dest` ready to receive a backup; True when this call created it."""
    if dest.exists():
        if not dest.is_dir() or any(dest.iterdir()):
            raise Conflict(
                f"« {dest} » existe déjà et n'est pas un dossier vide : une sauvegarde "
                "s'écrit dans un dossier neuf (ou vide)."
            )
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.mkdir(mode=0o700)  # recordings and accounts: personal data
    return True


def _clear(dest: Path, created: bool) -> None:
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for entry in dest.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _write_manifest(dest: Path, manifest: Manifest) -> None:
    """Written last, under its final name only once complete: a backup without its
    manifest is an interrupted one, and restore refuses it."""
    partial = dest / f"{MANIFEST}.partial"
    with partial.open("w", encoding="utf-8") as out:
        out.write(manifest.to_json())
        out.flush()
        os.fsync(out.fileno())
    partial.replace(dest / MANIFEST)
    sync_folder(dest)


def make_backup(
    settings: Settings,
    dest: Path,
    tools: PgTools = PgTools(),
    after_snapshot: Callable[[Snapshot], None] | None = None,
) -> Made:
    """Copy the database and the media of `settings` into the new folder `dest` (see the
    module's docstring); `after_snapshot` is called after each database copy."""
    started = time.monotonic()
    url = settings.effective_database_url
    kind = database_kind(url)
    dest = dest.expanduser().resolve()
    store = store_for(settings)
    if isinstance(store, LocalStore) and dest.is_relative_to(store.root.resolve()):
        raise Invalid(
            f"« {dest} » est dans le dossier des médias : la sauvegarde s'y copierait "
            "elle-même. Choisissez un dossier hors de AUTOCONF_DATA_DIR/media."
        )
    if kind == "postgresql":
        check_tools(tools, restore=False)
    created = _prepare(dest)
    try:
        media = media_copy(store, dest)
        rounds = 0
        while True:
            rounds += 1
            if kind == "sqlite":
                snapshot = sqlite_snapshot(sqlite_path(url), dest)
            else:
                snapshot = postgres_snapshot(url, dest, tools)
            if after_snapshot is not None:
                after_snapshot(snapshot)
            media.sync(snapshot.folders)
            missing = media.missing(snapshot.named)
            if not missing:
                break
            if rounds == MAX_ROUNDS:
                shown = ", ".join(f"« {key} »" for key in missing[:3])
                raise Conflict(
                    f"Des fichiers que la base nomme ont disparu pendant la copie, "
                    f"{MAX_ROUNDS} fois de suite ({shown}) : des effacements ou des "
                    "traitements sont en cours. Relancez la sauvegarde dans un moment."
                )
        manifest = Manifest(
            created_at=snapshot.taken_at,
            autoconf_version=__version__,
            alembic_revision=snapshot.revision,
            database_kind=kind,
            files=(snapshot.file, *media.entries()),
        )
        _write_manifest(dest, manifest)
    except BaseException:
        _clear(dest, created)
        raise
    return Made(manifest, media.total_bytes, rounds, time.monotonic() - started)
