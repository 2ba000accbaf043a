"""`archive.json`, the manifest of a study archive: its format and version, where it comes
from, how many rows each table holds, and every media file with its size and sha256."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from autoconf.archive.tables import TABLES
from autoconf.archive.values import FILE_NAME
from autoconf.errors import Invalid

FORMAT = "autoconf-study-archive"
# Raised when an archive of this version could not be read as one of the previous version
# is (a column renamed, a table split); a column added does not raise it (see
# `tables.TableSpec.optional`). `contents.UPGRADES` reads each older version.
FORMAT_VERSION = 1
MANIFEST = "archive.json"
AUDIT_ENTRY = "audit.jsonl"
MEDIA = "media"
MANIFEST_BYTES = 64 * 1024 * 1024
INCLUDED, NONE = "included", "none"
# Why a recording's files are not in an archive made with its media.
WITHHELD_CONSENT = "consent"  # the consents its study requires were missing
WITHHELD_MISSING = "missing"  # its original was not on the exporting server
WITHHELD_REASONS = (WITHHELD_CONSENT, WITHHELD_MISSING)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class MediaFile:
    """A file of a recording's folder in the archive: `media/<recording id>/<name>`."""

    recording_id: int
    name: str
    size: int
    sha256: str

    @property
    def entry(self) -> str:
        return f"{MEDIA}/{self.recording_id}/{self.name}"


@dataclass(frozen=True)
class Manifest:
    exported_at: datetime
    autoconf_version: str
    study_id: int
    study_name: str
    media: str  # INCLUDED or NONE
    counts: dict[str, int]  # rows per table (a table it does not list has none)
    files: tuple[MediaFile, ...] = ()
    withheld: dict[int, str] = field(default_factory=dict)  # recording id → WITHHELD_*
    # What the exporter could not see and left out (others' private marks), by kind.
    left_out: dict[str, int] = field(default_factory=dict)
    audit: bool = False  # whether `audit.jsonl` is there
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "format_version": self.format_version,
            "autoconf_version": self.autoconf_version,
            "exported_at": self.exported_at.astimezone(UTC).isoformat(),
            "study": {"id": self.study_id, "name": self.study_name},
            "media": self.media,
            "tables": {name: {"rows": count} for name, count in self.counts.items()},
            "files": [
                {"path": f.entry, "size": f.size, "sha256": f.sha256}
                for f in sorted(self.files, key=lambda f: (f.recording_id, f.name))
            ],
            "media_withheld": [
                {"recording_id": rid, "reason": why} for rid, why in sorted(self.withheld.items())
            ],
            "left_out": self.left_out,
            "audit": AUDIT_ENTRY if self.audit else None,
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_manifest(content: bytes, name: str) -> Manifest:
    """The manifest of the archive `name`; Invalid (French) when it is not one autoconf can
    read: another format, a version from the future, a field missing or of the wrong kind."""
    try:
        data = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid(f"« {name} » : « {MANIFEST} » n'est pas en UTF-8.") from None
    except json.JSONDecodeError as error:
        raise Invalid(
            f"« {name} » : « {MANIFEST} » n'est pas du JSON valide (ligne {error.lineno}, "
            f"colonne {error.colno})."
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Invalid(
            f"« {name} » n'est pas une archive d'étude autoconf : son « {MANIFEST} » ne "
            f"déclare pas le format « {FORMAT} »."
        )
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise Invalid(f"« {name} » : « {MANIFEST} » ne donne pas de version de format lisible.")
    if version > FORMAT_VERSION:
        raise Invalid(
            f"« {name} » est une archive au format {version}, plus récent que ce que cette "
            f"version d'autoconf sait lire ({FORMAT_VERSION}) : mettez autoconf à jour, puis "
            "importez-la de nouveau."
        )
    try:
        return _manifest(data, version)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise Invalid(
            f"« {name} » : « {MANIFEST} » est incomplet ou altéré ({error or 'valeur'})."
        ) from None


def _manifest(data: dict[str, Any], version: int) -> Manifest:
    study = data["study"]
    media = data["media"]
    if media not in (INCLUDED, NONE):
        raise ValueError("media")
    # A table the format gained after the archive was made is absent: it holds no row.
    counts = {}
    known = {spec.name for spec in TABLES}
    for table, described in data["tables"].items():
        if table not in known:
            raise ValueError(f"tables: « {str(table)[:40]} » inconnue")
        counts[table] = _natural(described["rows"], f"tables.{table}")
    files = tuple(_media_file(item) for item in data.get("files", []))
    if len({f.entry for f in files}) != len(files):
        raise ValueError("files: un fichier nommé deux fois")
    withheld = {}
    for item in data.get("media_withheld", []):
        if item["reason"] not in WITHHELD_REASONS:
            raise ValueError("media_withheld")
        withheld[_natural(item["recording_id"], "media_withheld")] = item["reason"]
    left_out = data.get("left_out", {})
    if not isinstance(left_out, dict):
        raise ValueError("left_out")
    audit = data.get("audit")
    if audit not in (None, AUDIT_ENTRY):
        raise ValueError("audit")
    exported_at = datetime.fromisoformat(data["exported_at"])
    return Manifest(
        exported_at=exported_at if exported_at.tzinfo else exported_at.replace(tzinfo=UTC),
        autoconf_version=str(data["autoconf_version"])[:40],
        study_id=_natural(study["id"], "study.id"),
        study_name=str(study["name"])[:200],
        media=media,
        counts=counts,
        files=files,
        withheld=withheld,
        left_out={str(k)[:40]: _natural(v, "left_out") for k, v in left_out.items()},
        audit=audit is not None,
        format_version=version,
    )


def _natural(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**63:
        raise ValueError(what)
    return value


def _media_file(item: dict[str, Any]) -> MediaFile:
    path = item["path"]
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) != 3 or parts[0] != MEDIA or not parts[1].isdigit() or not parts[1].isascii():
        raise ValueError(f"files: « {str(path)[:100]} »")
    if not FILE_NAME.match(parts[2]):
        raise ValueError(f"files: « {str(path)[:100]} »")
    sha256 = item["sha256"]
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError(f"files: sha256 de « {path} »")
    return MediaFile(int(parts[1]), parts[2], _natural(item["size"], f"files: {path}"), sha256)
