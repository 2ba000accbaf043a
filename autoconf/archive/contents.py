"""A study archive read back and checked whole before anything is written: its manifest, its
entries (nothing unexpected, sizes as announced and within limits), its tables line by line
(columns, types, sizes, values) and what their rows point at (inside the archive only).
A malformed archive is refused with a message naming the entry, and the line in a table.

Archives of older format versions are read through `UPGRADES`, one step per version, then
the columns an older autoconf did not write take their defaults (`TableSpec.optional`).
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zipfile import BadZipFile

from autoconf.archive import tables, values
from autoconf.archive.manifest import (
    AUDIT_ENTRY,
    FORMAT_VERSION,
    MANIFEST,
    MANIFEST_BYTES,
    Manifest,
    MediaFile,
    read_manifest,
)
from autoconf.archive.relations import Relations
from autoconf.archive.tables import TABLES, TableSpec
from autoconf.errors import Invalid
from autoconf.interop import safezip
from autoconf.interop.safezip import SafeZip
from autoconf.media.storage import human_size

MiB = 1024 * 1024
# Read whole into memory (checked before anything is written): 200,000 annotations take
# about 80 MiB of JSON lines.
TABLE_BYTES = 512 * MiB  # one table's file, unpacked
TABLES_BYTES = 1024 * MiB  # the manifest, the tables and the audit log together
LINE_BYTES = 16 * MiB  # one row
# A recording's folder: its original (at most an upload), its proxy (re-encoded, it may be
# larger than the original) and the small derived files.
MEDIA_ENTRY_FACTOR = 2
RECORDING_FACTOR = 3


@dataclass(frozen=True)
class Limits:
    """What one archive may hold, from the instance's largest upload."""

    max_upload_bytes: int
    table_bytes: int = TABLE_BYTES
    tables_bytes: int = TABLES_BYTES

    @property
    def media_entry_bytes(self) -> int:
        return MEDIA_ENTRY_FACTOR * self.max_upload_bytes

    @property
    def recording_bytes(self) -> int:
        return RECORDING_FACTOR * self.max_upload_bytes

    def zip(self) -> safezip.Limits:
        """The zip reader's own limits; the total is checked against the recordings the
        manifest names (`unpacked_budget`), once it is read."""
        entry = max(self.table_bytes, self.media_entry_bytes)
        return safezip.Limits(unpacked_bytes=2**62, entry_bytes=entry)

    def unpacked_budget(self, recordings: int) -> int:
        return self.tables_bytes + recordings * self.recording_bytes


@dataclass
class TableRows:
    """A table as read, before its values are checked: its columns and rows (with the line
    each came from, for messages)."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


Raw = dict[str, TableRows]
# How an archive of version N becomes one of version N + 1 (none yet: version 1 is current).
UPGRADES: dict[int, Callable[[Raw], Raw]] = {}


@dataclass
class Contents:
    """A checked archive: its manifest and its rows by table, values as the database takes
    them, ids as they were in the exporting instance."""

    name: str
    manifest: Manifest
    rows: dict[str, list[dict[str, Any]]]

    def files_of(self, recording_id: int) -> list[MediaFile]:
        return [f for f in self.manifest.files if f.recording_id == recording_id]

    @property
    def study(self) -> dict[str, Any]:
        return self.rows[tables.STUDY.name][0]


def read_contents(archive: SafeZip, limits: Limits) -> Contents:
    """Read and check the whole archive (see the module's docstring); Invalid in French."""
    name = archive.name
    if not archive.has(MANIFEST):
        raise Invalid(
            f"« {name} » n'est pas une archive d'étude autoconf : il n'y a pas de « {MANIFEST} »."
        )
    manifest = read_manifest(archive.read(MANIFEST, MANIFEST_BYTES), name)
    _check_entries(archive, manifest, limits)
    raw = {spec.name: _read_table(archive, spec, manifest, limits) for spec in TABLES}
    raw = upgrade(manifest.format_version, raw)
    rows = {spec.name: _typed(name, spec, raw[spec.name]) for spec in TABLES}
    contents = Contents(name, manifest, rows)
    for spec in TABLES:
        found, announced = len(rows[spec.name]), manifest.counts.get(spec.name, 0)
        if found != announced:
            raise Invalid(
                f"« {name} » : « {spec.entry} » a {found} ligne(s) quand « {MANIFEST} » en "
                f"annonce {announced} (archive tronquée ou modifiée ?)."
            )
    Relations(contents, {table: found.lines for table, found in raw.items()}).check()
    return contents


def upgrade(version: int, raw: Raw) -> Raw:
    """The tables of an archive of `version`, as the current version writes them."""
    for step in range(version, FORMAT_VERSION):
        raw = UPGRADES[step](raw)
    return raw


def _check_entries(archive: SafeZip, manifest: Manifest, limits: Limits) -> None:
    name = archive.name
    listed = {tables.BY_NAME[table].entry for table in manifest.counts}
    files = {f.entry: f for f in manifest.files}
    expected = {MANIFEST, *listed, *files, *([AUDIT_ENTRY] if manifest.audit else [])}
    for entry in archive.entries:
        if entry not in expected:
            raise Invalid(
                f"« {name} » contient une entrée inattendue, « {entry[:200]} », que "
                f"« {MANIFEST} » ne nomme pas : refusée."
            )
    for entry in sorted(expected):
        if not archive.has(entry):
            raise Invalid(f"« {name} » : l'entrée « {entry} » manque (archive incomplète ?).")
    by_recording: Counter[int] = Counter()
    for entry, described in files.items():
        size = archive.entries[entry].file_size
        if size != described.size:
            raise Invalid(
                f"« {name} » : l'entrée « {entry} » fait {size} octets, « {MANIFEST} » en "
                f"annonce {described.size}."
            )
        if size > limits.media_entry_bytes:
            raise Invalid(
                f"« {name} » : l'entrée « {entry} » dépasse la taille acceptée "
                f"({human_size(limits.media_entry_bytes)})."
            )
        by_recording[described.recording_id] += size
    for recording_id, size in by_recording.items():
        if size > limits.recording_bytes:
            raise Invalid(
                f"« {name} » : les fichiers de « media/{recording_id}/ » dépassent ensemble la "
                f"taille acceptée pour un enregistrement ({human_size(limits.recording_bytes)})."
            )
    documents = [info for entry, info in archive.entries.items() if entry not in files]
    for info in documents:
        if info.file_size > limits.table_bytes:
            raise Invalid(
                f"« {name} » : l'entrée « {info.filename} » dépasse la taille acceptée "
                f"({human_size(limits.table_bytes)})."
            )
    total = sum(info.file_size for info in archive.entries.values())
    budget = limits.unpacked_budget(len(by_recording))
    if sum(info.file_size for info in documents) > limits.tables_bytes or total > budget:
        raise Invalid(
            f"« {name} » dépasse la taille acceptée une fois décompressé ({human_size(total)} "
            f"pour {len(by_recording)} enregistrement(s) avec leurs médias ; au plus "
            f"{human_size(budget)})."
        )


def _lines(archive: SafeZip, entry: str) -> Iterator[tuple[int, bytes]]:
    """The lines of `entry`, numbered from 1, each at most LINE_BYTES."""
    number = 0
    try:
        with archive.open(entry) as stream:
            while line := stream.readline(LINE_BYTES + 1):
                number += 1
                if len(line) > LINE_BYTES and not line.endswith(b"\n"):
                    raise Invalid(
                        f"« {archive.name} » : « {entry} », ligne {number} : ligne trop longue "
                        f"(plus de {human_size(LINE_BYTES)})."
                    )
                yield number, line
    except (BadZipFile, EOFError, OSError, ValueError) as error:
        raise Invalid(
            f"« {archive.name} » : l'entrée « {entry} » est illisible ({error})."
        ) from None


def _json_line(archive: SafeZip, entry: str, number: int, line: bytes) -> Any:
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid(
            f"« {archive.name} » : « {entry} », ligne {number} : le texte n'est pas en UTF-8."
        ) from None
    except json.JSONDecodeError as error:
        raise Invalid(
            f"« {archive.name} » : « {entry} », ligne {number} : JSON invalide (colonne "
            f"{error.colno} : {error.msg})."
        ) from None


def _read_table(archive: SafeZip, spec: TableSpec, manifest: Manifest, limits: Limits) -> TableRows:
    """A table's file: a first line `{"table": …, "columns": […]}`, then one JSON array of
    values per row, in the columns' order."""
    if spec.name not in manifest.counts:
        return TableRows(list(spec.columns))  # the format gained it after the archive was made
    entry, name = spec.entry, archive.name
    found: TableRows | None = None
    for number, line in _lines(archive, entry):
        if not line.strip():
            continue
        value = _json_line(archive, entry, number, line)
        if found is None:
            header = value if isinstance(value, dict) else {}
            columns = header.get("columns")
            if (
                header.get("table") != spec.name
                or not isinstance(columns, list)
                or not all(isinstance(c, str) for c in columns)
                or len(set(columns)) != len(columns)
            ):
                raise Invalid(
                    f"« {name} » : « {entry} », ligne {number} : l'en-tête doit nommer la table "
                    f"« {spec.name} » et ses colonnes, chacune une fois."
                )
            found = TableRows(columns)
            continue
        if not isinstance(value, list) or len(value) != len(found.columns):
            raise Invalid(
                f"« {name} » : « {entry} », ligne {number} : une ligne doit être une liste de "
                f"{len(found.columns)} valeurs, une par colonne."
            )
        found.rows.append(dict(zip(found.columns, value, strict=True)))
        found.lines.append(number)
    if found is None:
        raise Invalid(f"« {name} » : « {entry} » est vide (il lui manque son en-tête).")
    return found


def _typed(name: str, spec: TableSpec, raw: TableRows) -> list[dict[str, Any]]:
    """The rows with every column of the format (defaults for those an older archive lacks),
    each value checked and converted."""
    unknown = [c for c in raw.columns if c not in spec.columns]
    if unknown:
        raise Invalid(
            f"« {name} » : « {spec.entry} » a une colonne inconnue, « {unknown[0][:60]} » "
            "(archive faite par une version plus récente d'autoconf ? mettez-le à jour)."
        )
    missing = [c for c in spec.columns if c not in raw.columns and c not in spec.optional]
    if missing:
        raise Invalid(f"« {name} » : il manque la colonne « {missing[0]} » à « {spec.entry} ».")
    typed = []
    for row, line in zip(raw.rows, raw.lines, strict=True):
        checked = {}
        for column in spec.columns:
            value = row[column] if column in row else spec.optional[column]
            try:
                checked[column] = values.imported(spec, column, value)
            except ValueError as error:
                raise Invalid(f"« {name} » : « {spec.entry} », ligne {line} : {error}.") from None
        typed.append(checked)
    return typed
