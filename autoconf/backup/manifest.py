"""The manifest of a backup (`manifest.json`): what the backup holds, each file's size and
sha256, read back and checked before anything is restored."""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from autoconf.errors import Invalid

FORMAT = "autoconf-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEDIA = "media"  # the media folder's files, under their keys (`media/recordings/<uuid>/…`)
SQLITE_FILE = "database/autoconf.sqlite3"  # SQLite's online backup of the database
POSTGRES_FILE = "database/autoconf.pgdump"  # pg_dump, custom format
KINDS = {"sqlite": SQLITE_FILE, "postgresql": POSTGRES_FILE}
KIND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Entry:
    """One file of the backup: its path inside the backup (POSIX), size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created_at: datetime  # when the database was copied: the backup shows that moment
    autoconf_version: str
    alembic_revision: str
    database_kind: str  # "sqlite" or "postgresql"
    files: tuple[Entry, ...]  # the database file and every media file, by path
    format_version: int = FORMAT_VERSION

    @property
    def database_file(self) -> Entry:
        return next(entry for entry in self.files if entry.path == KINDS[self.database_kind])

    @property
    def media_files(self) -> list[Entry]:
        return [entry for entry in self.files if entry.path.startswith(f"{MEDIA}/")]

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "format_version": self.format_version,
            "created_at": self.created_at.isoformat(),
            "autoconf_version": self.autoconf_version,
            "alembic_revision": self.alembic_revision,
            "database": {"kind": self.database_kind, "file": KINDS[self.database_kind]},
            "files": [
                {"path": e.path, "size": e.size, "sha256": e.sha256}
                for e in sorted(self.files, key=lambda e: e.path)
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def safe_path(text: object) -> str:
    """`text` if it is a plain relative path under `database/` or `media/` (no `..`, not
    absolute, no backslash): a manifest never makes a restore write outside its folder."""
    if not isinstance(text, str) or not text or "\\" in text or "\x00" in text:
        raise ValueError(text)
    path = PurePosixPath(text)
    parts = path.parts
    if path.is_absolute() or any(p in ("", ".", "..") for p in parts) or str(path) != text:
        raise ValueError(text)
    if parts[0] not in ("database", MEDIA) or len(parts) < 2:
        raise ValueError(text)
    return text


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict):
        raise ValueError(item)
    size, sha256 = item.get("size"), item.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(item)
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(item)
    return Entry(safe_path(item.get("path")), size, sha256)


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the backup in `folder`; Invalid, in French, when there is none (an
    interrupted backup) or it cannot be read."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise Invalid(f"« {folder} » n'est pas un dossier de sauvegarde autoconf.")
    if not path.is_file():
        raise Invalid(
            f"« {folder} » n'est pas une sauvegarde autoconf complète : le fichier {MANIFEST} "
            "manque (une sauvegarde interrompue n'en a pas)."
        )
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError("format")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise Invalid(
                f"Cette sauvegarde est au format {version}, plus récent que ce que cette "
                f"version d'autoconf sait lire ({FORMAT_VERSION}) : mettez autoconf à jour."
            )
        kind = data["database"]["kind"]
        files = tuple(_entry(item) for item in data["files"])
        manifest = Manifest(
            created_at=datetime.fromisoformat(data["created_at"]),
            autoconf_version=str(data["autoconf_version"]),
            alembic_revision=str(data["alembic_revision"]),
            database_kind=kind,
            files=files,
            format_version=version,
        )
        paths = {e.path for e in files}
        if kind not in KINDS or KINDS[kind] not in paths or len(paths) != len(files):
            raise ValueError("database kind, database file or a path twice")
    except Invalid:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise Invalid(
            f"Le fichier {MANIFEST} de « {folder} » est illisible ou altéré : ce n'est pas "
            "une sauvegarde autoconf utilisable."
        ) from error
    return manifest
