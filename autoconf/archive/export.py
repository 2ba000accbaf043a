"""A whole study written as an archive (a zip): its tables as JSON lines, its recordings'
files, and `archive.json` last, which lists them with their sha256.

What the exporter may not see stays out: a user's archive leaves out the private marks of
others (private to their author, the study's researchers and administrators included) and
carries the audit log only for an administrator (it is theirs to read); the command line,
run by whoever holds the database, carries everything. The media of a recording that may not
be exported (the consents its study requires are missing) stay out too, said in the manifest.
"""

import hashlib
import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Engine, Select, false
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from autoconf import __version__
from autoconf.archive import tables, values
from autoconf.archive.manifest import (
    AUDIT_ENTRY,
    INCLUDED,
    MANIFEST,
    NONE,
    WITHHELD_CONSENT,
    WITHHELD_MISSING,
    Manifest,
    MediaFile,
)
from autoconf.archive.media import chunks_of, folder_files
from autoconf.archive.tables import TABLES, TableSpec
from autoconf.consent import records as consent
from autoconf.db import is_sqlite
from autoconf.errors import Conflict, NotFound
from autoconf.media.store import MissingObject, Store
from autoconf.models import (
    Annotation,
    Codebook,
    CodingRound,
    ConsensusDecision,
    Interview,
    LiveSession,
    LiveStop,
    Recording,
    Study,
    User,
)

ADMIN = "admin"
PRIVATE_MARKS = "private_marks"
# A zip entry written before its size is known may pass 4 GiB: always in the zip64 format.
_ZIP64 = True


@dataclass(frozen=True)
class Exported:
    manifest: Manifest
    media_bytes: int
    withheld: dict[str, str]  # recording code → why its media stayed out


def begin_snapshot(session: Session) -> None:
    """Make `session` see the database at one moment until it ends (SQLite: one read
    transaction, begun explicitly since the driver begins none for reads; PostgreSQL:
    REPEATABLE READ, read only), so that an archive never names a row it lacks. What the
    session had begun is rolled back first: its objects are to be read again."""
    session.rollback()
    if is_sqlite(session.get_bind().engine):
        session.connection().exec_driver_sql("BEGIN")
    else:
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A new session that sees the database at one moment (`begin_snapshot`)."""
    with Session(engine) as session:
        begin_snapshot(session)
        yield session


class _Writer:
    """The rows of one export, table after table, with what later tables need to know."""

    def __init__(self, session: Session, archive: zipfile.ZipFile, study_id: int) -> None:
        self.session = session
        self.archive = archive
        self.study_id = study_id
        self.users: set[int] = set()
        self.counts: dict[str, int] = {}
        self.hidden: set[int] = set()  # annotations left out (others' private marks)
        self.recordings: list[dict[str, Any]] = []

    def entry(self, name: str, compress: int) -> Any:
        info = zipfile.ZipInfo(name, time.localtime()[:6])
        info.compress_type = compress
        info.external_attr = 0o600 << 16
        return self.archive.open(info, "w", force_zip64=_ZIP64)

    def table(self, spec: TableSpec, query: Select[Any]) -> None:
        users = [c for c in spec.columns if tables.reference(spec, c) == tables.USER.name]
        count = 0
        with self.entry(spec.entry, zipfile.ZIP_DEFLATED) as out:
            header = {"table": spec.name, "columns": list(spec.columns)}
            out.write(_line(header))
            for found in self.session.connection().execute(query):
                row = self.adjusted(spec, dict(found._mapping))
                if row is None:
                    continue
                self.users.update(row[c] for c in users if row[c] is not None)
                out.write(_line([values.exported(row[c]) for c in spec.columns]))
                count += 1
        self.counts[spec.name] = count

    def adjusted(self, spec: TableSpec, row: dict[str, Any]) -> dict[str, Any] | None:
        """The row as the archive carries it; None to leave it out."""
        if spec is tables.RECORDING:
            self.recordings.append(row)
        elif spec is tables.ANNOTATION or spec is tables.ANNOTATION_CODE:
            key = row["id"] if spec is tables.ANNOTATION else row["annotation_id"]
            return None if key in self.hidden else row
        elif spec is tables.LIVE_STOP and row["prepared_id"] in self.hidden:
            return {**row, "prepared_id": None}  # the stop stays; what it answered is private
        elif spec in (tables.LIVE_AGENDA_ITEM, tables.CONSENSUS_SOURCE, tables.CO_VALIDATION):
            key = row["prepared_id" if spec is tables.LIVE_AGENDA_ITEM else "annotation_id"]
            return None if key in self.hidden else row
        return row

    def query(self, spec: TableSpec) -> Select[Any]:
        """The study's rows of `spec`, in the order of their primary key."""
        columns = [spec.column(c) for c in spec.columns]
        keys = list(spec.table.primary_key.columns)
        return sa_select(*columns).where(self.where(spec)).order_by(*keys)

    def where(self, spec: TableSpec) -> ColumnElement[bool]:
        sid = self.study_id
        table = spec.table
        recordings = select(Recording.id).where(Recording.study_id == sid)
        sessions = select(LiveSession.id).where(LiveSession.study_id == sid)
        if spec is tables.USER:
            return col(User.id).in_(sorted(self.users)) if self.users else false()
        if spec is tables.STUDY:
            return col(Study.id) == sid
        if tables.STUDY_COLUMN in table.c:
            return table.c[tables.STUDY_COLUMN] == sid
        if spec is tables.INTERVIEW_RECORDING:
            return table.c.interview_id.in_(select(Interview.id).where(Interview.study_id == sid))
        if spec is tables.CODE:
            return table.c.codebook_id.in_(select(Codebook.id).where(Codebook.study_id == sid))
        if spec in (tables.ANNOTATION, tables.CONSENT):
            return table.c.recording_id.in_(recordings)
        if spec in (tables.ANNOTATION_CODE, tables.CO_VALIDATION):
            annotations = select(Annotation.id).where(col(Annotation.recording_id).in_(recordings))
            return table.c.annotation_id.in_(annotations)
        if spec in (tables.LIVE_STOP, tables.LIVE_AGENDA_ITEM):
            return table.c.session_id.in_(sessions)
        if spec in (tables.CODING_ROUND_RECORDING, tables.CODING_ROUND_CODER):
            rounds = select(CodingRound.id).where(CodingRound.study_id == sid)
            return table.c.round_id.in_(rounds)
        if spec is tables.CONSENSUS_DECISION:
            return table.c.recording_id.in_(recordings)
        if spec is tables.CONSENSUS_SOURCE:
            decisions = select(ConsensusDecision.id).where(
                col(ConsensusDecision.recording_id).in_(recordings)
            )
            return table.c.decision_id.in_(decisions)
        if spec is tables.LIVE_COMMENT:
            stops = select(LiveStop.annotation_id).where(col(LiveStop.session_id).in_(sessions))
            return table.c.stop_id.in_(stops)
        raise AssertionError(spec.name)  # pragma: no cover - a table without its rule


def _line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def export_study(
    session: Session,
    store: Store,
    study_id: int,
    target: BinaryIO,
    include_media: bool,
    reader: User | None = None,
) -> Exported:
    """Write study `study_id` into `target` as a zip (see the package's docstring), as seen
    by `reader` (None: the command line, everything), its media read from `store`, in a
    session that `begin_snapshot` began (or a `snapshot`), so that the archive holds one
    moment of the study. The media of recordings that may not be exported stay out, and so
    does a recording whose original is missing; Conflict when a file goes away during the
    export (an erasure: start again)."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"Aucune étude n° {study_id}.")
    exported_at = datetime.now(UTC)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        writer = _Writer(session, archive, study_id)
        left_out: dict[str, int] = {}
        if reader is not None:
            writer.hidden = _others_private(session, study_id, reader.id or 0)
            if writer.hidden:
                left_out[PRIVATE_MARKS] = len(writer.hidden)
        for spec in TABLES[1:]:  # the accounts last: those the other tables name
            writer.table(spec, writer.query(spec))
        writer.table(tables.USER, writer.query(tables.USER))
        audit = reader is None or reader.role == ADMIN
        if audit:
            _audit(writer)
        files: list[MediaFile] = []
        withheld: dict[int, str] = {}
        media_bytes = 0
        if include_media:
            refused = consent.withheld(session, study_id)
            files, withheld, media_bytes = _media(writer, store, refused)
        manifest = Manifest(
            exported_at=exported_at,
            autoconf_version=__version__,
            study_id=study_id,
            study_name=study.name,
            media=INCLUDED if include_media else NONE,
            counts={spec.name: writer.counts[spec.name] for spec in TABLES},
            files=tuple(files),
            withheld=withheld,
            left_out=left_out,
            audit=audit,
        )
        archive.writestr(MANIFEST, manifest.to_json())
    codes = {row["id"]: row["code"] for row in writer.recordings}
    return Exported(manifest, media_bytes, {codes[rid]: why for rid, why in withheld.items()})


def _others_private(session: Session, study_id: int, reader_id: int) -> set[int]:
    """The private marks of the study the reader may not see: everyone else's."""
    found = session.exec(
        select(Annotation.id)
        .join(Recording, col(Recording.id) == Annotation.recording_id)
        .where(
            Recording.study_id == study_id,
            col(Annotation.shared).is_(False),
            (col(Annotation.author_id) != reader_id) | col(Annotation.author_id).is_(None),
        )
    ).all()
    return {annotation_id for annotation_id in found if annotation_id is not None}


def _audit(writer: _Writer) -> None:
    spec = tables.AUDIT
    with writer.entry(AUDIT_ENTRY, zipfile.ZIP_DEFLATED) as out:
        out.write(_line({"table": spec.name, "columns": list(spec.columns)}))
        for found in writer.session.connection().execute(writer.query(spec)):
            out.write(_line([values.exported(found._mapping[c]) for c in spec.columns]))


def _media(
    writer: _Writer, store: Store, refused: set[int]
) -> tuple[list[MediaFile], dict[int, str], int]:
    """Each recording's folder into `media/<recording id>/`, stored as is (media do not
    compress), a file at a time from the store; what stayed out and why."""
    files: list[MediaFile] = []
    withheld: dict[int, str] = {}
    total = 0
    for recording in writer.recordings:
        rid = recording["id"]
        if rid in refused:
            withheld[rid] = WITHHELD_CONSENT
            continue
        found = folder_files(store, recording["storage_key"])
        if found is None:
            withheld[rid] = WITHHELD_MISSING
            continue
        for key in found:
            media = MediaFile(rid, PurePosixPath(key).name, 0, "")
            try:
                with store.open(key) as file:
                    size, sha256 = _stored(writer, media.entry, chunks_of(file))
            except (MissingObject, FileNotFoundError):
                raise Conflict(
                    f"Un fichier de « {recording['code']} » a disparu pendant l'export "
                    "(enregistrement effacé ou traité de nouveau) : recommencez l'export."
                ) from None
            files.append(MediaFile(rid, media.name, size, sha256))
            total += size
    return files, withheld, total


def _stored(writer: _Writer, entry: str, chunks: Iterable[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with writer.entry(entry, zipfile.ZIP_STORED) as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
