"""`autoconf backup` / `autoconf restore` on real things: the demo instance (its media made
by the real ffmpeg pipeline), SQLite with annotations being written during the backup, a
recording erased during it, PostgreSQL through pg_dump/pg_restore (no skip: a missing
server or pg_dump fails the test), and the command itself as a subprocess."""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlmodel import Session, SQLModel

from autoconf import migrate
from autoconf.audit import log as audit_log
from autoconf.auth import accounts
from autoconf.backup import PgTools, make_backup, read_manifest, restore_backup
from autoconf.backup.snapshot import RECORDINGS_QUERY, Snapshot, named_media
from autoconf.db import make_engine, session_scope
from autoconf.demo import load_demo
from autoconf.errors import Conflict, Invalid, ToolMissing
from autoconf.media import jobs
from autoconf.media.store import store_for
from autoconf.models import Recording
from autoconf.schemes import annotations, codebooks
from autoconf.settings import Settings
from autoconf.studies import erasure, recordings, service
from autoconf.studies.disposal import Disposal
from tests.support import fresh_postgres

DATA = Path(__file__).parents[1] / "data"
AUTOCONF = Path(sys.executable).with_name("autoconf")  # the installed console script
DEMO_SESSION = Path(__file__).parents[2] / "autoconf" / "demo" / "seance-demo.mp4"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def media_sums(media_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(media_dir).as_posix(): sha256(path)
        for path in sorted(media_dir.rglob("*"))
        if path.is_file()
    }


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the models, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    tuple(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    )
                ]
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def named_files(url: str) -> frozenset[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return named_media(connection.execute(text(RECORDINGS_QUERY)))[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the demo (two recordings processed by ffmpeg), on SQLite."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo") / "data", media_workers=0)
    settings.data_dir.mkdir()
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    load_demo(engine, settings)
    engine.dispose()
    return settings.data_dir


@pytest.fixture
def source(demo_folder: Path, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "source"
    shutil.copytree(demo_folder, data_dir)
    return Settings(data_dir=data_dir, media_workers=0)


def coded_study(settings: Settings) -> None:
    """A study with one session processed by ffmpeg and coded. (`load_demo` stops on
    PostgreSQL: its interview recording's category, "autoconfrontation", is 17 characters
    and `recording.category` is a VARCHAR(16).)"""
    url = settings.effective_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        user = accounts.create_user(session, "claire", "Sauvegarde-2026-ok!", "researcher")
        study = service.create_study(session, user, "Étude CEP")
        new = recordings.NewRecording(study.id or 0, "A8 - 1", None, DEMO_SESSION.name)
        with DEMO_SESSION.open("rb") as file:
            recordings.create_recording(
                session, store_for(settings), settings.max_upload_bytes, new, file, user
            )
    assert jobs.run_until_idle(engine, settings) == 1
    with session_scope(engine) as session:
        recording = recording_by_code(session, "A8 - 1")
        assert recording.status == "ready"
        nodes = [
            node for _, nodes in codebooks.list_codebooks(session, study.id or 0) for node in nodes
        ]
        for index, node in enumerate(nodes[:8]):
            start = index * 1000
            annotations.create_annotation(
                session,
                recording,
                user.id,
                start_ms=start,
                end_ms=start + 800,
                code_ids=[node.id],
                note=f"segment {index}",
            )
    engine.dispose()


@dataclass
class Writer:
    """Annotations created one transaction at a time in a thread, numbered in their notes,
    each with one code: a snapshot holds a prefix of them, each with its code."""

    url: str
    committed: int = 0
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        engine = make_engine(self.url)
        try:
            with Session(engine) as session:
                recording = recording_by_code(session, "A8 - 1")
                code_id = session.execute(
                    text(
                        "SELECT code_id FROM annotation_code JOIN annotation "
                        "ON annotation.id = annotation_id WHERE recording_id = :r LIMIT 1"
                    ),
                    {"r": recording.id},
                ).scalar_one()
                author = recording.created_by
            while not self.stop.is_set():
                with session_scope(engine) as session:
                    annotations.create_annotation(
                        session,
                        recording,
                        author,
                        start_ms=1000 + self.committed,
                        code_ids=[code_id],
                        note=f"concurrent {self.committed}",
                    )
                self.committed += 1
        except BaseException as error:
            self.errors.append(error)
        finally:
            engine.dispose()

    def __enter__(self) -> "Writer":
        self.thread.start()
        while self.committed < 20 and self.thread.is_alive():
            self.stop.wait(0.005)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.errors, self.errors


def recording_by_code(session: Session, code: str) -> Recording:
    found: Recording = session.execute(
        select(Recording).where(Recording.code == code)  # type: ignore[arg-type]
    ).scalar_one()
    return found


def without_later_writes(rows: dict[str, list[tuple[Any, ...]]], late: set[int]) -> None:
    """Drop, from the source's rows, the writer's annotations the snapshot did not hold."""
    rows["annotation"] = [row for row in rows["annotation"] if row[0] not in late]
    rows["annotation_code"] = [row for row in rows["annotation_code"] if row[0] not in late]


def concurrent_notes(url: str) -> list[tuple[int, str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                (row[0], row[1], row[2])
                for row in connection.execute(
                    text(
                        "SELECT annotation.id, note, count(code_id) FROM annotation "
                        "LEFT JOIN annotation_code ON annotation_id = annotation.id "
                        "WHERE note LIKE 'concurrent %' GROUP BY annotation.id, note "
                        "ORDER BY annotation.id"
                    )
                )
            ]
    finally:
        engine.dispose()


def check_snapshot_restored(
    source: Settings, target: Settings, writer: Writer, before: int, at_snapshot: int
) -> None:
    """The restored instance is the source as of the snapshot: a prefix of the concurrent
    writes (each whole), every other row identical, every named file byte-identical."""
    restored_notes = concurrent_notes(target.effective_database_url)
    count = len(restored_notes)
    # `committed` counts after each commit: one commit may be in the snapshot, not yet counted.
    assert before <= count <= at_snapshot + 1
    assert [note for _, note, _ in restored_notes] == [f"concurrent {i}" for i in range(count)]
    assert all(codes == 1 for _, _, codes in restored_notes)
    assert writer.committed > before, "no write happened while the backup ran"

    expected = table_rows(source.effective_database_url)
    written = {
        annotation_id for annotation_id, _, _ in concurrent_notes(source.effective_database_url)
    }
    without_later_writes(
        expected, written - {annotation_id for annotation_id, _, _ in restored_notes}
    )
    assert table_rows(target.effective_database_url) == expected

    restored = media_sums(target.media_dir)
    original = media_sums(source.media_dir)
    assert restored and all(original[key] == digest for key, digest in restored.items())
    assert named_files(target.effective_database_url) <= set(restored)


def test_sqlite_backup_during_writes_restores_the_snapshot(
    source: Settings, tmp_path: Path
) -> None:
    media = source.media_dir
    folder = next((media / "recordings").iterdir())
    # Files being written, or of uploads still in progress, are never copied.
    transient = {
        "recordings/feedc0de/original.mp4.part": b"half an upload",
        f"recordings/{folder.name}/work-0123456789ab/proxy.mp4": b"an attempt running",
        "uploads/1/0f0f0f0f": b"a resumable upload",
        "erasing/deadbeef/original.mp4": b"being erased",
    }
    for key, content in transient.items():
        (media / key).parent.mkdir(parents=True, exist_ok=True)
        (media / key).write_bytes(content)
    snapshots: list[tuple[Snapshot, int]] = []
    dest = tmp_path / "backup"

    with Writer(source.effective_database_url) as writer:
        before = writer.committed
        made = make_backup(
            source, dest, after_snapshot=lambda s: snapshots.append((s, writer.committed))
        )
    at_snapshot = snapshots[-1][1]
    assert made.rounds == 1 and made.manifest.database_kind == "sqlite"

    copy = sqlite3.connect(dest / "database" / "autoconf.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()
    manifest = read_manifest(dest)
    assert manifest.alembic_revision == made.manifest.alembic_revision
    for entry in manifest.files:
        assert sha256(dest / entry.path) == entry.sha256
        assert (dest / entry.path).stat().st_size == entry.size
    assert not any(
        key in {e.path.removeprefix("media/") for e in manifest.files} for key in transient
    )
    assert not list(dest.rglob("*partial*"))
    assert (dest.stat().st_mode & 0o777) == 0o700

    target = Settings(data_dir=tmp_path / "restored", media_workers=0)
    restored = restore_backup(target, dest)
    assert restored.files == len(manifest.media_files) > 0
    check_snapshot_restored(source, target, writer, before, at_snapshot)
    assert sorted(os.listdir(target.data_dir)) == ["autoconf.sqlite3", "media"]


def test_a_recording_erased_during_the_backup_is_left_out(source: Settings, tmp_path: Path) -> None:
    """An erasure between the snapshot and the media copy takes named files away: the
    database is copied again, and neither the recording nor its files are in the backup.
    A recording uploaded after the snapshot is not in it either."""
    engine = make_engine(source.effective_database_url)
    with Session(engine) as session:
        erased = recording_by_code(session, "A8 - AC")
    late_folder = source.media_dir / "recordings" / uuid.uuid4().hex
    rounds: list[Snapshot] = []

    def meanwhile(snapshot: Snapshot) -> None:
        rounds.append(snapshot)
        if len(rounds) > 1:
            return
        late_folder.mkdir()
        shutil.copy(DATA / "autoconfrontation-demo.m4a", late_folder / "original.m4a")
        disposal = Disposal(store_for(source), source.data_dir / "clips")
        with session_scope(engine) as session:
            erasure.erase_recording(session, disposal, audit_log.SYSTEM, erased.id or 0)
        disposal.remove()

    made = make_backup(source, tmp_path / "backup", after_snapshot=meanwhile)
    engine.dispose()
    assert made.rounds == 2
    assert erased.storage_key in rounds[0].named and erased.storage_key not in rounds[1].named
    paths = {entry.path for entry in made.manifest.files}
    erased_folder = erased.storage_key.split("/")[1]
    assert not any(erased_folder in path or late_folder.name in path for path in paths)
    assert not (tmp_path / "backup" / "media" / "recordings" / erased_folder).exists()

    target = Settings(data_dir=tmp_path / "restored")
    restore_backup(target, tmp_path / "backup")
    assert table_rows(target.effective_database_url) == table_rows(source.effective_database_url)
    assert named_files(target.effective_database_url) <= set(media_sums(target.media_dir))


def test_restore_refuses_a_used_target_and_a_tampered_backup(
    source: Settings, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    make_backup(source, dest)
    with pytest.raises(Conflict, match="n'est pas un dossier vide"):
        make_backup(source, dest)
    with pytest.raises(Invalid, match="dans le dossier des médias"):
        make_backup(source, source.media_dir / "sauvegarde")

    used = Settings(data_dir=tmp_path / "used")
    used.data_dir.mkdir()
    (used.data_dir / "notes.txt").write_text("à garder")
    with pytest.raises(Conflict, match=r"« .*used » n'est pas vide"):
        restore_backup(used, dest)
    assert os.listdir(used.data_dir) == ["notes.txt"]

    target = Settings(data_dir=tmp_path / "target")
    proxy = next(e.path for e in read_manifest(dest).files if e.path.endswith("proxy.mp4"))
    content = bytearray((dest / proxy).read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, one byte changed
    (dest / proxy).write_bytes(bytes(content))
    with pytest.raises(Invalid, match=rf"altérée : le fichier « {proxy} ».*SHA-256"):
        restore_backup(target, dest)
    assert not target.data_dir.exists()

    content[len(content) // 2] ^= 0xFF
    (dest / proxy).write_bytes(bytes(content))
    (dest / "media" / "extra.txt").write_text("ajouté")
    with pytest.raises(Invalid, match=r"« media/extra\.txt ».*en trop"):
        restore_backup(target, dest)
    (dest / "media" / "extra.txt").unlink()
    database = dest / "database" / "autoconf.sqlite3"
    database.write_bytes(database.read_bytes()[:-1])
    with pytest.raises(Invalid, match=r"« database/autoconf\.sqlite3 ».*octets"):
        restore_backup(target, dest)
    (dest / "manifest.json").unlink()
    with pytest.raises(Invalid, match=r"manifest\.json manque"):
        restore_backup(target, dest)
    assert not target.data_dir.exists()


def test_postgresql_round_trip_during_writes(tmp_path: Path) -> None:
    with (
        fresh_postgres("autoconf_backup") as source_url,
        fresh_postgres("autoconf_backup") as target_url,
    ):
        source = Settings(data_dir=tmp_path / "source", database_url=source_url, media_workers=0)
        coded_study(source)
        snapshots: list[int] = []
        dest = tmp_path / "backup"
        with Writer(source_url) as writer:
            before = writer.committed
            made = make_backup(
                source, dest, after_snapshot=lambda _: snapshots.append(writer.committed)
            )
        assert made.manifest.database_kind == "postgresql"
        assert (dest / "database" / "autoconf.pgdump").read_bytes()[:5] == b"PGDMP"

        sqlite_target = Settings(data_dir=tmp_path / "wrong-kind")
        with pytest.raises(Invalid, match=r"base PostgreSQL ; la base configurée.*SQLite"):
            restore_backup(sqlite_target, dest)

        target = Settings(data_dir=tmp_path / "restored", database_url=target_url)
        restore_backup(target, dest)
        check_snapshot_restored(source, target, writer, before, snapshots[-1])
        # Sequences follow: a new row gets a new id.
        with session_scope(make_engine(target_url)) as session:
            recording = recording_by_code(session, "A8 - 1")
            created = annotations.create_annotation(session, recording, None, start_ms=0)
        assert created.id > max(row[0] for row in table_rows(target_url)["annotation"][:-1])

        again = Settings(data_dir=tmp_path / "again", database_url=target_url)
        with pytest.raises(Invalid, match="contient déjà des données"):
            restore_backup(again, dest)
        assert not again.data_dir.exists()

        with pytest.raises(ToolMissing, match=r"pg_dump-absent.*postgresql-client"):
            make_backup(source, tmp_path / "no-tool", PgTools(pg_dump="pg_dump-absent"))
        assert not (tmp_path / "no-tool").exists()


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(data_dir)}
    env.pop("AUTOCONF_DATABASE_URL", None)
    return subprocess.run(
        [str(AUTOCONF), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_the_commands(source: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "sauvegarde"
    made = run(source.data_dir, "backup", str(dest))
    assert made.returncode == 0, made.stderr
    assert f"Sauvegarde écrite dans « {dest} »" in made.stdout and "base SQLite" in made.stdout

    target = tmp_path / "restauré"
    restored = run(target, "restore", str(dest))
    assert restored.returncode == 0, restored.stderr
    assert "restaurée" in restored.stdout
    assert table_rows(f"sqlite:///{target / 'autoconf.sqlite3'}") == table_rows(
        source.effective_database_url
    )
    assert media_sums(target / "media") == media_sums(source.media_dir)

    refused = run(target, "restore", str(dest))
    assert refused.returncode == 1
    assert (
        refused.stderr.startswith("Erreur : Le dossier de données") and "pas vide" in refused.stderr
    )
