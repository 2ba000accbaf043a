"""Backups of an instance (the database and the media folder) made while the server runs,
and their restoration into an empty instance.

A backup is a folder:

    manifest.json               format version, date, autoconf version, Alembic revision,
                                database kind, every file's path, size and sha256
    database/autoconf.sqlite3   SQLite's online backup of the database, or
    database/autoconf.pgdump    pg_dump's custom format, for PostgreSQL
    media/recordings/<uuid>/…   the media files, under their keys

`archive.make_backup` writes one, `restoration.restore_backup` reads one back.
"""

from autoconf.backup.archive import Made, make_backup
from autoconf.backup.manifest import Manifest, read_manifest
from autoconf.backup.postgres import PgTools
from autoconf.backup.restoration import Restored, restore_backup

__all__ = [
    "Made",
    "Manifest",
    "PgTools",
    "Restored",
    "make_backup",
    "read_manifest",
    "restore_backup",
]
