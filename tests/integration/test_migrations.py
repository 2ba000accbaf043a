"""Alembic is the only writer of the schema: empty -> head must equal the models, both ways."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from autoconf import migrate, models  # noqa: F401
from autoconf.db import make_engine

pytestmark = pytest.mark.once  # each test makes its own databases


def _check(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        assert not migrate.pending(engine, url)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, SQLModel.metadata)
        assert differences == []
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
    finally:
        engine.dispose()


def _downgrade_and_up(url: str) -> None:
    from alembic import command

    command.downgrade(migrate.alembic_config(url), "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert migrate.pending(engine, url)
    finally:
        engine.dispose()
    migrate.upgrade(url)


def test_sqlite_empty_to_head_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    _check(url)
    _downgrade_and_up(url)
    _check(url)


@pytest.mark.postgres
def test_postgresql_empty_to_head_matches_the_models(postgres_url: str) -> None:
    _check(postgres_url)
    _downgrade_and_up(postgres_url)
    _check(postgres_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def _upgrade_keeps_the_data(url: str) -> None:
    """A database at 0001 with a recording and its annotations: 0002 queues the recording's
    processing and loses nothing (SQLite alters tables by copy; a cascade once ate rows)."""
    from alembic import command

    command.upgrade(migrate.alembic_config(url), "0001")
    engine = make_engine(url)
    now = "2026-11-01 10:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO study (id, name, description, created_at) "
                f"VALUES (1, 'S', '', '{now}')"
            )
            connection.exec_driver_sql(
                "INSERT INTO recording (id, study_id, code, status, original_filename, "
                "original_size, original_sha256, media_type, storage_key, created_at) VALUES "
                "(1, 1, 'A8 - 1', 'uploaded', 'a.mp4', 10, '', '', 'recordings/x/original.mp4', "
                f"'{now}')"
            )
            origins = ["coding", "coding", "coding", "prepared", "stop", "transcript", "coding"]
            for index, origin in enumerate(origins):
                connection.exec_driver_sql(
                    "INSERT INTO annotation (id, recording_id, start_ms, note, fields, origin, "
                    "version, created_at, updated_at) VALUES "
                    f"({index + 1}, 1, {index * 1000}, 'n', '{{}}', '{origin}', 1, "
                    f"'{now}', '{now}')"
                )
            # The last one carries a phase: 0003 puts it on the phases layer.
            connection.exec_driver_sql(
                "INSERT INTO codebook (id, study_id, kind, name, position) "
                "VALUES (1, 1, 'phases', 'Phases', 0)"
            )
            connection.exec_driver_sql(
                "INSERT INTO code (id, codebook_id, position, label, description, color, "
                "archived) VALUES (1, 1, 0, 'Diagnostic', '', '#888888', false)"
            )
            connection.exec_driver_sql(
                "INSERT INTO annotation_code (annotation_id, code_id) VALUES (7, 1)"
            )
        migrate.upgrade(url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM annotation").scalar() == 7
            layers = connection.exec_driver_sql(
                "SELECT layer, shared FROM annotation ORDER BY id"
            ).all()
            assert [layer for layer, _ in layers] == [
                "schemes",
                "schemes",
                "schemes",
                "prepared",
                "stops",
                "transcript",
                "phases",
            ]
            assert all(shared for _, shared in layers)  # they were visible to all before
            recording = connection.exec_driver_sql(
                "SELECT status, proxy_key, media_info FROM recording"
            ).one()
            assert (recording[0], recording[1]) == ("queued", "")
            job = connection.exec_driver_sql("SELECT recording_id, status FROM media_job").one()
            assert tuple(job) == (1, "queued")
            # 0010: an existing code has no English (not a translation of the defaults).
            code = connection.exec_driver_sql("SELECT label, label_en, description_en FROM code")
            assert tuple(code.one()) == ("Diagnostic", "", "")
    finally:
        engine.dispose()


def test_sqlite_upgrade_keeps_the_data(tmp_path: Path) -> None:
    _upgrade_keeps_the_data(f"sqlite:///{tmp_path / 'd.sqlite3'}")


@pytest.mark.postgres
def test_postgresql_upgrade_keeps_the_data(postgres_url: str) -> None:
    _upgrade_keeps_the_data(postgres_url)


def _training_consent_becomes_records(url: str) -> None:
    """A recording with `training_consent` at 0006 gets, at 0007, a consent record per party
    covering research and training; one without gets none; the study keeps playing
    (`consent_required` off for studies that existed before)."""
    from alembic import command

    command.upgrade(migrate.alembic_config(url), "0006")
    engine = make_engine(url)
    now = "2026-11-01 10:00:00+00:00"
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO study (id, name, description, created_at) "
                f"VALUES (1, 'S', '', '{now}')"
            )
            for rid, consent in ((1, "true"), (2, "false")):
                connection.exec_driver_sql(
                    "INSERT INTO recording (id, study_id, code, status, original_filename, "
                    "original_size, original_sha256, media_type, storage_key, created_at, "
                    f"training_consent) VALUES ({rid}, 1, 'A{rid}', 'ready', 'a.mp4', 10, '', '', "
                    f"'recordings/x{rid}/original.mp4', '{now}', {consent})"
                )
        migrate.upgrade(url)
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT recording_id, party, scopes, withdrawn_on FROM consent ORDER BY id"
            ).all()
            required = connection.exec_driver_sql("SELECT consent_required FROM study").scalar()
        found = [
            (rid, party, json.loads(scopes) if isinstance(scopes, str) else scopes, withdrawn)
            for rid, party, scopes, withdrawn in rows
        ]
        assert found == [
            (1, "counsellor", ["research", "training"], None),
            (1, "beneficiary", ["research", "training"], None),
        ]
        assert not required
    finally:
        engine.dispose()


def test_sqlite_training_consent_becomes_consent_records(tmp_path: Path) -> None:
    _training_consent_becomes_records(f"sqlite:///{tmp_path / 'c.sqlite3'}")


@pytest.mark.postgres
def test_postgresql_training_consent_becomes_consent_records(postgres_url: str) -> None:
    _training_consent_becomes_records(postgres_url)


@pytest.mark.postgres
def test_processes_starting_together_migrate_once(postgres_url: str, tmp_path: Path) -> None:
    """Four `autoconf migrate` (app processes or machines starting at once) on an empty
    PostgreSQL database: one migrates, the others wait for it and find nothing to do."""
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(tmp_path), "AUTOCONF_DATABASE_URL": postgres_url}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "autoconf.cli", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in started:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    _check(postgres_url)
