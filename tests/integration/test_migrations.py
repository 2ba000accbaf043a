"""Alembic is the only writer of the schema: empty -> head must equal the models, both ways."""

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from autoconf import migrate, models  # noqa: F401
from autoconf.db import make_engine


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
