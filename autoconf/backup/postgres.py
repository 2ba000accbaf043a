"""PostgreSQL through its own tools: pg_dump on a snapshot the backup shares, pg_restore into
an empty database, in one transaction.

pg_dump takes a snapshot of its own, but the backup must also read, from the very same
state, which media files the database names and its Alembic revision. So a read-only
REPEATABLE READ transaction exports its snapshot (`pg_export_snapshot()`), reads those, and
stays open while `pg_dump --snapshot` dumps exactly what it saw. The password goes to the
tools in PGPASSWORD, never on a command line (`ps` shows those to every local user).
"""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from autoconf.backup.manifest import POSTGRES_FILE, Entry
from autoconf.backup.snapshot import (
    RECORDINGS_QUERY,
    REVISION_QUERY,
    Snapshot,
    named_media,
    revision_of,
)
from autoconf.backup.transfer import PARTIAL
from autoconf.errors import DomainError, Invalid, ToolMissing
from autoconf.media.storage import hash_file

TIMEOUT_S = 6 * 3600  # a dump or a restore running longer than this is stopped
INSTALL_HINT = (
    "Installez les outils clients de PostgreSQL, de la version majeure du serveur ou plus "
    "récente : Debian/Ubuntu « apt-get install postgresql-client »."
)


@dataclass(frozen=True)
class PgTools:
    """The PostgreSQL programs to run (names looked up in PATH, or paths)."""

    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """(connection URI without the password, environment with PGPASSWORD) for the tools."""
    parsed = make_url(url)
    bare = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    env = {**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10")}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return bare.render_as_string(hide_password=False), env


def database_name(url: str) -> str:
    return make_url(url).database or ""


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"« {name} » est introuvable sur cette machine. {INSTALL_HINT}")
    return path


def _major(binary: str) -> int:
    """The major version of a PostgreSQL program (`pg_dump (PostgreSQL) 15.20 …` → 15)."""
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    found = re.search(r"\)\s+(\d+)", out)
    return int(found.group(1)) if found else 0


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    """Run a PostgreSQL program; DomainError with the end of its messages when it fails."""
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise DomainError(f"{what} : arrêté au bout de {TIMEOUT_S // 3600} h.") from error
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise DomainError(f"{what} a échoué (code {done.returncode}) :\n{tail}")


def _unreachable(url: str, error: SQLAlchemyError) -> DomainError:
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return DomainError(
        f"Impossible de joindre la base PostgreSQL « {database_name(url)} » : {reason}"
    )


def postgres_snapshot(url: str, backup: Path, tools: PgTools) -> Snapshot:
    """Dump the database of `url` into the backup folder (custom format), with what it names,
    all from one exported snapshot."""
    pg_dump = _binary(tools.pg_dump)
    target = backup / POSTGRES_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL)
    conninfo, env = libpq_target(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            reading = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with reading.begin():
                snapshot_id = reading.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                taken_at = datetime.now(UTC)
                server = int(reading.execute(text("SHOW server_version_num")).scalar_one())
                revision = revision_of(reading.execute(text(REVISION_QUERY)))
                named, folders = named_media(reading.execute(text(RECORDINGS_QUERY)))
                client = _major(pg_dump)
                if client < server // 10000:
                    raise ToolMissing(
                        f"pg_dump {client} ne sait pas sauvegarder ce serveur PostgreSQL "
                        f"{server // 10000}, plus récent. {INSTALL_HINT}"
                    )
                command = [pg_dump, "--format=custom", "--no-password"]
                command += [f"--snapshot={snapshot_id}", f"--file={partial}", conninfo]
                try:
                    _run(command, env, "pg_dump")
                    partial.replace(target)
                finally:
                    partial.unlink(missing_ok=True)
    except SQLAlchemyError as error:
        raise _unreachable(url, error) from error
    finally:
        engine.dispose()
    size, sha256 = hash_file(target)
    entry = Entry(POSTGRES_FILE, size, sha256)
    return Snapshot("postgresql", taken_at, revision, entry, named, folders)


def table_count(url: str) -> int:
    """How many tables the database holds, outside PostgreSQL's own schemas."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema "
                    "NOT IN ('pg_catalog', 'information_schema')"
                )
            ).scalar_one()
            return int(count)
    except SQLAlchemyError as error:
        raise _unreachable(url, error) from error
    finally:
        engine.dispose()


def require_empty(url: str) -> None:
    """Invalid, in French, when the database of `url` already holds tables."""
    count = table_count(url)
    if count:
        raise Invalid(
            f"La base PostgreSQL « {database_name(url)} » contient déjà des données ({count} "
            "table(s)) : une restauration se fait dans une base vide. Créez-en une (createdb) "
            "et indiquez-la dans AUTOCONF_DATABASE_URL. Rien n'a été restauré."
        )


def check_tools(tools: PgTools, restore: bool) -> None:
    """ToolMissing before anything is written, when pg_dump (or pg_restore) is missing."""
    _binary(tools.pg_restore if restore else tools.pg_dump)


def pg_restore(url: str, dump: Path, tools: PgTools) -> None:
    """Restore a custom-format dump into the (empty) database of `url`: all or nothing, the
    objects owned by the user of `url` whoever owned them in the source."""
    conninfo, env = libpq_target(url)
    command = [_binary(tools.pg_restore), "--exit-on-error", "--single-transaction"]
    command += ["--no-owner", "--no-privileges", "--no-password", f"--dbname={conninfo}"]
    _run([*command, str(dump)], env, "pg_restore")
