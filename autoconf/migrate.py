"""Alembic, the only writer of the schema, driven from the application and the CLI."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_PACKAGE = Path(__file__).parent


def script_location() -> Path:
    """The migrations folder: beside the package in a checkout, inside it once installed."""
    for candidate in (_PACKAGE.parent / "migrations", _PACKAGE / "_migrations"):
        if (candidate / "env.py").exists():
            return candidate
    raise RuntimeError("The Alembic migrations folder is missing from this installation.")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def pending(engine: Engine, database_url: str) -> bool:
    """True when the database is not at the latest revision."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    with engine.connect() as connection:
        heads = set(MigrationContext.configure(connection).get_current_heads())
    return heads != set(script.get_heads())
