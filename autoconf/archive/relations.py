"""What the rows of a study archive point at, and what must be unique among them, checked
inside the archive before anything is written: every foreign key names a row of the
archive, codes form trees, each media file is a recording's, an original is its recording's.
"""

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from autoconf.archive import tables
from autoconf.archive.manifest import MANIFEST
from autoconf.archive.tables import TABLES, TableSpec
from autoconf.errors import Invalid

if TYPE_CHECKING:  # contents reads the archive, then calls this
    from autoconf.archive.contents import Contents


class Relations:
    """What the rows point at, and what must be unique, checked inside the archive."""

    def __init__(self, contents: "Contents", lines: dict[str, list[int]]) -> None:
        self.contents = contents
        self.lines = lines  # by table, the line of each row (for messages)
        self.ids: dict[str, set[int]] = {}

    def fail(self, spec: TableSpec, index: int, what: str) -> Invalid:
        line = self.lines[spec.name][index]
        return Invalid(f"« {self.contents.name} » : « {spec.entry} », ligne {line} : {what}.")

    def check(self) -> None:
        rows = self.contents.rows
        if len(rows[tables.STUDY.name]) != 1:
            raise Invalid(
                f"« {self.contents.name} » : « {tables.STUDY.entry} » doit avoir une ligne, "
                "l'étude."
            )
        for spec in TABLES:
            self._keys(spec)
        for spec in TABLES:
            self._references(spec)
        unique = (
            (tables.USER, ("username",)),
            (tables.MEMBERSHIP, ("user_id",)),
            (tables.STRUCTURE, ("code",)),
            (tables.COUNSELLOR, ("code",)),
            (tables.RECORDING, ("code",)),
            (tables.INTERVIEW, ("code",)),
            (tables.INTERVIEW_RECORDING, ("interview_id", "recording_id")),
            (tables.ANNOTATION_CODE, ("annotation_id", "code_id")),
            (tables.LIVE_SESSION, ("code",)),
            (tables.LIVE_STOP, ("annotation_id",)),
            (tables.LIVE_AGENDA_ITEM, ("session_id", "prepared_id")),
            (tables.CODING_ROUND_RECORDING, ("round_id", "recording_id")),
            (tables.CODING_ROUND_CODER, ("round_id", "user_id")),
            (tables.CONSENSUS_SOURCE, ("decision_id", "annotation_id")),
            (tables.CO_VALIDATION, ("annotation_id",)),
        )
        for spec, columns in unique:
            self._unique(spec, columns)
        self._codes()
        self._annotations()
        self._media()

    def _keys(self, spec: TableSpec) -> None:
        column = spec.key or ("annotation_id" if spec is tables.LIVE_STOP else None)
        if column is None:
            return
        seen: set[int] = set()
        for index, row in enumerate(self.contents.rows[spec.name]):
            if row[column] in seen:
                raise self.fail(spec, index, f"{column} {row[column]} figure deux fois")
            seen.add(row[column])
        self.ids[spec.name] = seen

    def _references(self, spec: TableSpec) -> None:
        for column in spec.columns:
            target = tables.reference(spec, column)
            if target is None:
                continue
            known = self.ids[target]
            for index, row in enumerate(self.contents.rows[spec.name]):
                value = row[column]
                if value is not None and value not in known:
                    raise self.fail(
                        spec,
                        index,
                        f"{column} {value} ne désigne aucune ligne de « {target} » de l'archive",
                    )

    def _unique(self, spec: TableSpec, columns: tuple[str, ...]) -> None:
        seen: set[tuple[Any, ...]] = set()
        for index, row in enumerate(self.contents.rows[spec.name]):
            value = tuple(row[c] for c in columns)
            if value in seen:
                shown = ", ".join(f"{c} « {row[c]} »" for c in columns)
                raise self.fail(spec, index, f"{shown} figure deux fois")
            seen.add(value)

    def _codes(self) -> None:
        """A code's parent is in its codebook, no code is its own ancestor, and no two
        siblings share a label (a code is known by its path)."""
        spec = tables.CODE
        codes = self.contents.rows[spec.name]
        by_id = {row["id"]: row for row in codes}
        siblings: set[tuple[int, int | None, str]] = set()
        for index, row in enumerate(codes):
            parent = by_id.get(row["parent_id"])
            if parent is not None and parent["codebook_id"] != row["codebook_id"]:
                raise self.fail(spec, index, "parent_id désigne un code d'un autre livre de codes")
            seen, current = {row["id"]}, parent
            while current is not None:
                if current["id"] in seen:
                    raise self.fail(spec, index, "le code est son propre ancêtre")
                seen.add(current["id"])
                current = by_id.get(current["parent_id"])
            label = (row["codebook_id"], row["parent_id"], row["label"].casefold())
            if label in siblings:
                raise self.fail(spec, index, f"deux codes frères s'appellent « {row['label']} »")
            siblings.add(label)

    def _annotations(self) -> None:
        spec = tables.ANNOTATION
        for index, row in enumerate(self.contents.rows[spec.name]):
            if row["start_ms"] < 0 or (row["end_ms"] is not None and row["end_ms"] < 0):
                raise self.fail(spec, index, "un temps est négatif")
            if row["end_ms"] is not None and row["end_ms"] < row["start_ms"]:
                raise self.fail(spec, index, "end_ms précède start_ms")
            if row["end_ms"] == row["start_ms"]:
                row["end_ms"] = None  # a moment: one representation

    def _media(self) -> None:
        """Every file and every withheld medium is a recording's; a recording that brings
        files brings its original, whose sha256 is the one the recording recorded."""
        name, manifest = self.contents.name, self.contents.manifest
        recordings = {row["id"]: row for row in self.contents.rows[tables.RECORDING.name]}
        if manifest.study_id != self.contents.study["id"]:
            raise Invalid(f"« {name} » : « {MANIFEST} » ne nomme pas l'étude de l'archive.")
        for media in manifest.files:
            if media.recording_id not in recordings:
                raise Invalid(
                    f"« {name} » : « {media.entry} » est le fichier d'un enregistrement "
                    f"(n° {media.recording_id}) qui n'est pas dans l'archive."
                )
        for recording_id in manifest.withheld:
            if recording_id not in recordings:
                raise Invalid(
                    f"« {name} » : « {MANIFEST} » nomme un enregistrement (n° {recording_id}) "
                    "qui n'est pas dans l'archive."
                )
        for recording_id, recording in recordings.items():
            files = {f.name: f for f in self.contents.files_of(recording_id)}
            if not files:
                continue
            original = files.get(PurePosixPath(recording["storage_key"]).name)
            if original is None:
                raise Invalid(
                    f"« {name} » : les fichiers de « {recording['code']} » (media/"
                    f"{recording_id}/) n'ont pas son original."
                )
            expected = recording["original_sha256"]
            if expected and expected != original.sha256:
                raise Invalid(
                    f"« {name} » : « {original.entry} » n'a pas l'empreinte SHA-256 de "
                    f"l'original de « {recording['code']} » : refusé."
                )
