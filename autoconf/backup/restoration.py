"""`autoconf restore SRC`: a backup put back into an empty data folder (and, on PostgreSQL,
an empty database; with an object store, an empty one).

Nothing is written before the backup is known whole: its files are exactly those of its
manifest, each of the announced size; then each is copied while it is hashed into a
staging folder beside its destination (the same file system) and only when every sha256
matches is anything renamed into place or given to pg_restore, which restores in one
transaction. An object store (`AUTOCONF_STORAGE_URL`) has no rename: the media files are
sent to it while hashed, before the database is restored, and removed again if anything
fails. A refused restore leaves the target as it found it. A backup restores onto either
kind of store, whichever it was taken from (the same keys).
"""

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from autoconf.backup.archive import database_kind, sqlite_path
from autoconf.backup.manifest import KIND_NAMES, MANIFEST, MEDIA, Entry, Manifest, read_manifest
from autoconf.backup.postgres import PgTools, check_tools, pg_restore, require_empty
from autoconf.backup.transfer import PARTIAL, copy_file
from autoconf.errors import Conflict, Invalid, TooLarge
from autoconf.media.storage import hash_file
from autoconf.media.store import RECORDINGS, LocalStore, Store, store_for
from autoconf.migrate import alembic_config
from autoconf.settings import Settings

log = logging.getLogger(__name__)

STAGING = ".autoconf-restoring-"


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    files: int
    bytes: int


def tampered(path: str, reason: str) -> Invalid:
    return Invalid(
        f"La sauvegarde est altérée : le fichier « {path} » ne correspond pas au manifeste "
        f"({reason}). Rien n'a été restauré."
    )


def check_contents(source: Path, manifest: Manifest) -> None:
    """Invalid, naming the file, when the backup's files are not exactly the manifest's
    (one missing, one added, one of another size); the sums are checked while copying."""
    listed = {entry.path: entry for entry in manifest.files}
    found: set[str] = set()
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source).as_posix()
        if name == MANIFEST or path.is_dir():
            continue
        if name not in listed or path.is_symlink():
            raise tampered(name, "fichier en trop, absent du manifeste")
        found.add(name)
        size = path.stat().st_size
        if size != listed[name].size:
            raise tampered(name, f"{size} octets au lieu de {listed[name].size}")
    missing = sorted(set(listed) - found)
    if missing:
        raise tampered(missing[0], "il manque")


def check_revision(manifest: Manifest, url: str) -> None:
    """Invalid when the backup's schema is unknown to this version (a newer autoconf)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    for revision in manifest.alembic_revision.split(","):
        try:
            known = script.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            raise Invalid(
                f"Cette sauvegarde vient d'autoconf {manifest.autoconf_version}, dont le "
                f"schéma (révision « {revision} ») est inconnu de cette version : installez "
                "au moins la même version d'autoconf pour la restaurer."
            )


def _require_empty_folder(folder: Path, what: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise Conflict(
            f"{what} « {folder} » n'est pas vide : une restauration se fait dans un dossier "
            "vide (ou qui n'existe pas encore). Rien n'a été restauré."
        )


def _copy_checked(source: Path, entry: Entry, target: Path) -> None:
    copied = copy_file(source / entry.path, target)
    if copied.sha256 != entry.sha256 or copied.size != entry.size:
        raise tampered(entry.path, "empreinte SHA-256 différente")


def _stage_media(source: Path, manifest: Manifest, staging: Path) -> None:
    for entry in manifest.media_files:
        _copy_checked(source, entry, staging / entry.path)


def _require_empty_store(store: Store) -> None:
    if store.listing(RECORDINGS):
        raise Conflict(
            "Le stockage des médias (AUTOCONF_STORAGE_URL) contient déjà des "
            "enregistrements : une restauration se fait dans un stockage vide. Rien n'a été "
            "restauré."
        )


def _send_media(source: Path, manifest: Manifest, store: Store, sent: list[str]) -> None:
    """Each media file of the backup into the object store, hashed on the way; `sent`
    receives the keys written (to be removed if the restore fails)."""
    for entry in manifest.media_files:
        key = entry.path.removeprefix(f"{MEDIA}/")
        sent.append(key)
        try:
            with (source / entry.path).open("rb") as reader:
                stored = store.save_stream(reader, key, entry.size)
        except TooLarge:
            raise tampered(entry.path, "plus grand qu'annoncé") from None
        if stored.sha256 != entry.sha256 or stored.size != entry.size:
            raise tampered(entry.path, "empreinte SHA-256 différente")


def _remove_sent(store: Store, sent: list[str]) -> None:
    for key in sent:
        try:
            store.remove(key)
        except Exception as error:  # the store is failing: say what stays there
            log.warning("restore: could not remove %s from the media store: %s", key, error)


def _restored_revision(url: str) -> str:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return ",".join(sorted(str(row[0]) for row in rows))
    finally:
        engine.dispose()


def restore_backup(settings: Settings, source: Path, tools: PgTools = PgTools()) -> Restored:
    """Restore the backup in `source` into the data folder (and database) of `settings`,
    which must be empty (see the module's docstring)."""
    source = source.expanduser().resolve()
    manifest = read_manifest(source)
    url = settings.effective_database_url
    kind = database_kind(url)
    if kind != manifest.database_kind:
        raise Invalid(
            f"Cette sauvegarde est celle d'une base {KIND_NAMES[manifest.database_kind]} ; "
            f"la base configurée (AUTOCONF_DATABASE_URL) est {KIND_NAMES[kind]}. Restaurez-la "
            "dans le même type de base."
        )
    check_contents(source, manifest)
    check_revision(manifest, url)
    data_dir = settings.data_dir
    _require_empty_folder(data_dir, "Le dossier de données")
    database = sqlite_path(url) if kind == "sqlite" else None
    if database is not None and any(
        database.with_name(database.name + suffix).exists() for suffix in ("", "-wal")
    ):
        raise Conflict(f"La base « {database} » existe déjà. Rien n'a été restauré.")
    if kind == "postgresql":
        check_tools(tools, restore=True)
        require_empty(url)
    store = store_for(settings)
    local = isinstance(store, LocalStore)
    if not local:
        _require_empty_store(store)

    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f"{STAGING}{uuid.uuid4().hex[:8]}"
    staged_db = database.with_name(database.name + PARTIAL) if database else None
    sent: list[str] = []
    try:
        if local:
            _stage_media(source, manifest, staging)
        else:
            _send_media(source, manifest, store, sent)
        entry = manifest.database_file
        if database is not None and staged_db is not None:
            _copy_checked(source, entry, staged_db)
            staged_db.replace(database)
        else:
            if hash_file(source / entry.path) != (entry.size, entry.sha256):
                raise tampered(entry.path, "empreinte SHA-256 différente")
            pg_restore(url, source / entry.path, tools)
        if local and (staging / MEDIA).is_dir():
            (staging / MEDIA).rename(settings.media_dir)
    except BaseException:
        if created:
            shutil.rmtree(data_dir, ignore_errors=True)
        _remove_sent(store, sent)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if staged_db is not None:
            staged_db.unlink(missing_ok=True)
    revision = _restored_revision(url)
    if revision != manifest.alembic_revision:
        raise Invalid(
            f"La base restaurée est à la révision « {revision} » au lieu de "
            f"« {manifest.alembic_revision} » : la restauration n'est pas fiable."
        )
    media = manifest.media_files
    return Restored(manifest, len(media), sum(entry.size for entry in media))
