"""A study archive imported as a new study of this instance.

Two steps, so that copying media never holds the write lock:

1. `prepare` reads and checks the whole archive (`contents`), checks the accounts it names
   against this instance, and copies the media into new recording folders, every sha256
   checked (`media.stage`); nothing names those folders yet.
2. `import_study` writes every row in one transaction, with the ids this instance gives,
   every foreign key remapped. If it fails, `Prepared.discard` removes the copied folders:
   a failed import leaves nothing behind.

People are matched by username (`accounts`); the importer becomes a researcher of the
study; a study of the same name is imported as "<name> (importée)".
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from sqlalchemy import insert
from sqlmodel import Session, col, select

from autoconf.archive import accounts, tables
from autoconf.archive.contents import Contents, Limits, read_contents
from autoconf.archive.manifest import NONE, WITHHELD_CONSENT, WITHHELD_MISSING
from autoconf.archive.media import Staged, stage
from autoconf.archive.tables import TABLES, TableSpec
from autoconf.archive.values import FILE_NAME
from autoconf.audit import log as audit_log
from autoconf.interop.safezip import SafeZip
from autoconf.live.sessions import new_code
from autoconf.media.store import Store
from autoconf.models import LiveSession, MediaJob, Membership, Study, User, utcnow
from autoconf.studies.access import RESEARCHER
from autoconf.studies.disposal import RECORDINGS

IMPORTED_SUFFIX = " (importée)"
TO_PROCESS = ("uploaded", "queued", "processing")
# How every such error starts (the recording page then offers no retry: there is no file).
MEDIA_MISSING_PREFIX = "Média non inclus dans l'archive"
MEDIA_MISSING = {
    NONE: (
        "Média non inclus dans l'archive : elle a été faite « sans les médias ». Les "
        "annotations, la transcription et les consentements de l'enregistrement sont là, mais "
        "son fichier n'y est pas : il ne peut être ni lu ni traité. Pour le retrouver, importez "
        "l'archive de l'étude faite avec les médias."
    ),
    WITHHELD_CONSENT: (
        "Média non inclus dans l'archive : au moment de l'export, les consentements que "
        "l'étude exige manquaient pour cet enregistrement, et son fichier est resté hors de "
        "l'archive. Ses annotations, sa transcription et ses consentements sont là."
    ),
    WITHHELD_MISSING: (
        "Média non inclus dans l'archive : le fichier original manquait déjà sur le serveur "
        "d'où vient l'archive. Les annotations, la transcription et les consentements de "
        "l'enregistrement sont là."
    ),
}


@dataclass
class Prepared:
    """A checked archive whose media are copied, waiting for `import_study`."""

    contents: Contents
    staged: Staged

    def discard(self) -> None:
        """Remove the copied media (the import failed)."""
        self.staged.discard()


@dataclass(frozen=True)
class Imported:
    """What an import made."""

    study_id: int
    name: str
    format_version: int
    exported_at: datetime
    recordings: int
    annotations: int
    to_process: list[str]  # recordings whose processing runs again (codes)
    without_media: dict[str, str]  # recording code → why its file did not come
    accounts_created: list[str]  # usernames, disabled accounts made for the study
    accounts_matched: list[str]  # usernames found here


def prepare(
    session: Session,
    store: Store,
    source: BinaryIO,
    name: str,
    max_upload_bytes: int,
    importer: User | None = None,
) -> Prepared:
    """Check the archive `source` (named `name` in messages) and copy its media into `store`;
    Invalid, in French and naming the entry and line, when anything is wrong (nothing is left
    then)."""
    limits = Limits(max_upload_bytes)
    with SafeZip(source, name, limits.zip()) as archive:
        contents = read_contents(archive, limits)
        accounts.check(session, contents, importer)
        return Prepared(contents, stage(archive, contents, store))


def _free_name(session: Session, name: str) -> str:
    """The study's name, or "<name> (importée)" (then numbered) when one has it already."""
    taken = set(session.exec(select(Study.name)).all())
    candidate, number = name, 1
    while candidate in taken:
        suffix = IMPORTED_SUFFIX if number == 1 else f" (importée {number})"
        candidate = name[: 200 - len(suffix)] + suffix
        number += 1
    return candidate


@dataclass
class _Run:
    session: Session
    prepared: Prepared
    importer: User | None
    maps: dict[str, dict[int, int]] = field(default_factory=dict)
    study_id: int = 0
    to_process: list[int] = field(default_factory=list)  # source recording ids
    without_media: dict[int, str] = field(default_factory=dict)

    @property
    def contents(self) -> Contents:
        return self.prepared.contents

    def insert(self, spec: TableSpec, rows: list[dict[str, Any]]) -> None:
        """Insert `rows` (the archive's) with new ids; remember old id → new id."""
        self.maps.setdefault(spec.name, {})
        if not rows:
            return
        values = [self.values(spec, row) for row in rows]
        table = spec.table
        connection = self.session.connection()
        if spec.key is None:
            connection.execute(insert(table), values)
            return
        query = insert(table).returning(table.c[spec.key], sort_by_parameter_order=True)
        new_ids = [found[0] for found in connection.execute(query, values)]
        self.maps[spec.name].update(zip((row[spec.key] for row in rows), new_ids, strict=True))

    def values(self, spec: TableSpec, row: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for column in spec.columns:
            if column == spec.key:
                continue
            target = tables.reference(spec, column)
            value = row[column]
            if target is not None and value is not None:
                value = self.maps[target][value]
            values[column] = value
        if tables.STUDY_COLUMN in spec.table.c:
            values[tables.STUDY_COLUMN] = self.study_id
        return values


def import_study(
    session: Session, prepared: Prepared, importer: User | None, who: audit_log.Actor
) -> Imported:
    """Write the prepared archive as a new study (see the module's docstring), with its
    audit entry; the caller commits, or rolls back and calls `prepared.discard()`."""
    contents = prepared.contents
    accounts.check(session, contents, importer)  # again: under the write lock now
    run = _Run(session, prepared, importer)
    rows = contents.rows
    made = accounts.accounts(run.session, contents.rows[tables.USER.name], who)
    run.maps[tables.USER.name] = made.mapping
    source = contents.study
    name = _free_name(session, source["name"])
    run.insert(tables.STUDY, [{**source, "name": name}])
    run.study_id = run.maps[tables.STUDY.name][source["id"]]
    _members(run)
    for spec in (tables.STRUCTURE, tables.COUNSELLOR):
        run.insert(spec, rows[spec.name])
    run.insert(tables.RECORDING, [_recording(run, row) for row in rows[tables.RECORDING.name]])
    for spec in (tables.INTERVIEW, tables.INTERVIEW_RECORDING, tables.CODEBOOK):
        run.insert(spec, rows[spec.name])
    for level in _code_levels(rows[tables.CODE.name]):
        run.insert(tables.CODE, level)
    for spec in (
        tables.CODING_ROUND,
        tables.CODING_ROUND_RECORDING,
        tables.CODING_ROUND_CODER,
        tables.ANNOTATION,
        tables.ANNOTATION_CODE,
        tables.CONSENT,
    ):
        run.insert(spec, rows[spec.name])
    run.insert(tables.LIVE_SESSION, _live_sessions(run))
    run.insert(tables.LIVE_STOP, rows[tables.LIVE_STOP.name])
    run.maps[tables.LIVE_STOP.name] = run.maps[tables.ANNOTATION.name]  # known by it
    for spec in (
        tables.LIVE_COMMENT,
        tables.LIVE_AGENDA_ITEM,
        tables.CONSENSUS_DECISION,
        tables.CONSENSUS_SOURCE,
    ):
        run.insert(spec, rows[spec.name])
    verdicts = rows[tables.CO_VALIDATION.name]
    run.insert(tables.CO_VALIDATION, [_verdict(run, row) for row in verdicts])
    assert [spec.name for spec in TABLES] == list(run.maps), "a table was not imported"
    _queue(run)
    codes = {row["id"]: row["code"] for row in rows[tables.RECORDING.name]}
    manifest = contents.manifest
    audit_log.record(
        session,
        who,
        audit_log.STUDY_IMPORTED,
        study_id=run.study_id,
        object_type="study",
        object_id=run.study_id,
        format_version=manifest.format_version,
        exported_at=manifest.exported_at.isoformat(),
        autoconf_version=manifest.autoconf_version,
        source_study_id=manifest.study_id,
        media=manifest.media,
        recordings=len(codes),
        annotations=len(rows[tables.ANNOTATION.name]),
        without_media=len(run.without_media),
        accounts_created=len(made.created),
    )
    return Imported(
        study_id=run.study_id,
        name=name,
        format_version=manifest.format_version,
        exported_at=manifest.exported_at,
        recordings=len(codes),
        annotations=len(rows[tables.ANNOTATION.name]),
        to_process=sorted(codes[rid] for rid in run.to_process),
        without_media={codes[rid]: why for rid, why in run.without_media.items()},
        accounts_created=made.created,
        accounts_matched=made.matched,
    )


def _verdict(run: _Run, row: dict[str, Any]) -> dict[str, Any]:
    """A co-validation verdict whose proposed codes name this instance's codes (those the
    archive does not hold, deleted before the export, are dropped)."""
    codes = run.maps[tables.CODE.name]
    proposed = [codes[c] for c in row["proposed_code_ids"] if c in codes]
    return {**row, "proposed_code_ids": proposed}


def _members(run: _Run) -> None:
    """The archive's members; the importer among them, as a researcher."""
    members = [dict(row) for row in run.contents.rows[tables.MEMBERSHIP.name]]
    importer = run.importer
    users = {row["id"]: row["username"] for row in run.contents.rows[tables.USER.name]}
    present = False
    for member in members:
        if importer is not None and users[member["user_id"]] == importer.username:
            member["role"], present = RESEARCHER, True
    run.insert(tables.MEMBERSHIP, members)
    if importer is not None and importer.id is not None and not present:
        run.session.connection().execute(
            insert(Membership).values(study_id=run.study_id, user_id=importer.id, role=RESEARCHER)
        )


def _recording(run: _Run, row: dict[str, Any]) -> dict[str, Any]:
    """The recording under this instance's keys: its files where they were copied, or none
    (then `failed`, saying why); its processing queued again if it had not finished, or if
    the archive lacks a file its proxy needs."""
    rid = row["id"]
    staged = run.prepared.staged
    original = PurePosixPath(row["storage_key"]).name
    if rid not in staged.folders:
        manifest = run.contents.manifest
        why = NONE if manifest.media == NONE else manifest.withheld.get(rid, WITHHELD_MISSING)
        run.without_media[rid] = why
        name = original if FILE_NAME.match(original) else "original"
        key = f"{RECORDINGS}/{uuid.uuid4().hex}/{name}"
        return {
            **row,
            "storage_key": key,
            "proxy_key": "",
            "status": "failed",
            "error": (MEDIA_MISSING[why]),
        }
    names = {media.name for media in run.contents.files_of(rid)}
    proxy = PurePosixPath(row["proxy_key"]).name if row["proxy_key"] else ""
    status, error, proxy_key = row["status"], row["error"], ""
    if status == "ready":
        files = (row["media_info"].get("files") or {}).values()
        needed = {proxy, *(name for name in files if name)}
        if proxy and needed <= names:
            proxy_key = staged.key(rid, proxy)
        else:
            status = "queued"
    if status in TO_PROCESS:
        status, error = "queued", None
        run.to_process.append(rid)
    key = staged.key(rid, original)
    return {**row, "storage_key": key, "proxy_key": proxy_key, "status": status, "error": error}


def _code_levels(codes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The codes by depth (roots first): a code is inserted after its parent."""
    by_id = {row["id"]: row for row in codes}
    levels: dict[int, list[dict[str, Any]]] = {}
    for row in codes:
        depth, parent = 0, by_id.get(row["parent_id"])
        while parent is not None:  # no cycle: `contents` checked it
            depth, parent = depth + 1, by_id.get(parent["parent_id"])
        levels.setdefault(depth, []).append(row)
    return [levels[depth] for depth in sorted(levels)]


def _live_sessions(run: _Run) -> list[dict[str, Any]]:
    """The sessions with their join code, or a new one when this instance has it."""
    rows = run.contents.rows[tables.LIVE_SESSION.name]
    codes = [row["code"] for row in rows]
    taken = set(run.session.exec(select(LiveSession.code).where(col(LiveSession.code).in_(codes))))
    sessions = []
    for row in rows:
        code = row["code"]
        while code in taken:
            code = new_code()
        taken.add(code)
        sessions.append({**row, "code": code})
    return sessions


def _queue(run: _Run) -> None:
    """A processing job for each recording to process (a worker takes it)."""
    recordings = run.maps[tables.RECORDING.name]
    if not run.to_process:
        return
    now = utcnow()
    run.session.connection().execute(
        insert(MediaJob),
        [
            {
                "recording_id": recordings[rid],
                "status": "queued",
                "stage": "",
                "progress": 0.0,
                "attempts": 0,
                "worker": "",
                "error": None,
                "created_at": now,
            }
            for rid in run.to_process
        ],
    )
