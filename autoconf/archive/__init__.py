"""Study archives: one whole study in a zip, to import into another instance of autoconf.

    archive.json                   format "autoconf-study-archive", format_version, autoconf
                                   version, exported_at, the study's id and name, rows per
                                   table, every media file with its size and sha256, the
                                   media left out and why, what the exporter could not see
    tables/<table>.jsonl           one per table (`tables.TABLES`): a first line naming the
                                   columns, then one JSON array per row, ids as they were
    audit.jsonl                    the study's audit entries (a document: not imported)
    media/<recording id>/<name>    the recording's folder: original, proxy, poster,
                                   thumbnails, waveform (absent "sans les médias")

`export.export_study` writes one; `importing.prepare` then `importing.import_study` read one
back as a new study, with new ids, every reference remapped, people matched by username.
"""

from autoconf.archive.contents import Limits
from autoconf.archive.export import Exported, begin_snapshot, export_study, snapshot
from autoconf.archive.importing import Imported, Prepared, import_study, prepare
from autoconf.archive.manifest import FORMAT, FORMAT_VERSION

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Exported",
    "Imported",
    "Limits",
    "Prepared",
    "begin_snapshot",
    "export_study",
    "import_study",
    "prepare",
    "snapshot",
]
