"""A real `autoconf serve` process for tests that need real HTTP (concurrency, browsers)."""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from autoconf.settings import Settings

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(data_dir: Path) -> dict[str, str]:
    """The environment of an `autoconf` command on `data_dir`: its embedded SQLite file, or
    on the PostgreSQL pass a database of its own (`database_url`)."""
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(data_dir), "AUTOCONF_LOG_LEVEL": "warning"}
    env.pop("AUTOCONF_DATABASE_URL", None)
    if url := database_url(data_dir):
        env["AUTOCONF_DATABASE_URL"] = url
    return env


def cli(data_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-m", "autoconf.cli", *args],
        env={**cli_env(data_dir), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:  # not listening yet
        return False


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log: Path


def start_server(
    data_dir: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    args: tuple[str, ...] = (),
    log_name: str = "server.log",
) -> Server:
    """Start `autoconf serve` on `port` (a free one by default), with `args` after it, and
    wait until it answers."""
    port = port or free_port()
    log = data_dir / log_name  # a file, not a pipe: a full pipe would stall the server
    with log.open("a") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "autoconf.cli", "serve", "--port", str(port), *args],
            env={**cli_env(data_dir), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 30
    while not _answers(f"{server.url}/api/v1/health"):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise AssertionError("the server did not stop within 10 s of SIGTERM") from None


@contextmanager
def serve(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run the server on a free port until the block ends; yields its base URL."""
    server = start_server(data_dir, env)
    try:
        yield server.url
    finally:
        stop_server(server)


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def researcher_token(data_dir: Path, username: str = "claire") -> dict[str, str]:
    """A migrated database on `data_dir` with one researcher; their API token as request
    headers. Made in this process (the commands would take three interpreter starts, seconds
    each); tests/integration/test_cli.py runs the commands themselves."""
    from autoconf.auth import accounts
    from autoconf.db import make_engine, session_scope

    settings = settings_for(data_dir)
    migrated(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            user = accounts.create_user(session, username, "long-password", "researcher")
            _, clear = accounts.issue_token(session, user, accounts.API, name="tests")
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {clear}"}


def study_with_recording(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Through the API: a new study and one recording (the demo session) with both parties'
    consent (it plays); their ids."""
    study = httpx.post(f"{url}/api/v1/studies", json={"name": "S"}, headers=headers).json()
    media = Path(__file__).parents[1] / "autoconf" / "demo" / "seance-demo.mp4"
    recording = httpx.post(
        f"{url}/api/v1/studies/{study['id']}/recordings",
        headers=headers,
        data={"code": "A1"},
        files={"file": ("a.mp4", media.read_bytes(), "video/mp4")},
    ).json()
    for party in ("counsellor", "beneficiary"):
        given = httpx.post(
            f"{url}/api/v1/recordings/{recording['id']}/consents",
            headers=headers,
            json={"party": party, "scopes": ["research", "training"], "given_on": "2025-01-15"},
        )
        assert given.status_code == 201, given.text
    return study["id"], recording["id"]


POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# The suite runs twice in CI (scripts/test): on SQLite, then with
# AUTOCONF_TEST_DATABASE=postgres, where every app and command of a test gets a PostgreSQL
# database of its own, copied from a template migrated once per test process.
TEST_DATABASE = os.environ.get("AUTOCONF_TEST_DATABASE", "sqlite")
if TEST_DATABASE not in ("sqlite", "postgres"):
    raise RuntimeError(f"AUTOCONF_TEST_DATABASE={TEST_DATABASE}: sqlite or postgres")
ON_POSTGRES = TEST_DATABASE == "postgres"
_databases: dict[Path, str] = {}  # data folder -> its database, on the PostgreSQL pass
_sqlite_only = [False]  # the running test is about SQLite itself (marker `sqlite`)


def sqlite_only(forced: bool) -> None:
    """Whether the running test keeps SQLite on the PostgreSQL pass (conftest sets it from
    the test's `sqlite` marker)."""
    _sqlite_only[0] = forced


_template: list[str] = []
# Databases of finished tests, emptied for the next ones: creating a database takes ~0.1 s
# and dropping one forces a checkpoint (0.2-2 s); emptying one takes a few milliseconds.
_emptied: list[str] = []


def _server() -> URL:
    return make_url(os.environ.get("AUTOCONF_TEST_POSTGRES_URL", POSTGRES_URL))


def _admin(statement: str) -> None:
    admin = create_engine(_server(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def database_url(data_dir: Path) -> str:
    """The database of `data_dir`'s app: "" (its embedded SQLite file) on the SQLite pass;
    on the PostgreSQL pass, a database given to this folder at its first use, already
    migrated (a copy of the template, or one a finished test left and `drop_database`
    emptied), given back at the end of its test (the `settings` fixture) and dropped when
    the test process ends."""
    if not ON_POSTGRES or _sqlite_only[0]:
        return ""
    key = data_dir.resolve()
    if key not in _databases:
        if not _template:
            name = f"autoconf_template_{uuid.uuid4().hex[:12]}"
            _admin(f'CREATE DATABASE "{name}"')
            url = _server().set(database=name).render_as_string(hide_password=False)
            from autoconf import migrate  # the tests' own import, not at every import

            migrate.upgrade(url)
            create_engine(url).dispose()
            _template.append(name)
            atexit.register(_drop_all)
        if _emptied:
            _databases[key] = _emptied.pop()
        else:
            name = f"autoconf_t_{uuid.uuid4().hex[:12]}"
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_template[0]}"')
            _databases[key] = _server().set(database=name).render_as_string(hide_password=False)
    return _databases[key]


def settings_for(data_dir: Path, **values: Any) -> "Settings":
    """Settings of a test's app on `data_dir`, on the pass's database."""
    from autoconf.settings import Settings

    return Settings(data_dir=data_dir, database_url=database_url(data_dir), **values)


_sqlite_template: list[Path] = []


def migrated(settings: "Settings") -> None:
    """The database of `settings` at the latest revision, as `migrate.upgrade` leaves it,
    without its second per test: a new SQLite file is a copy of one migrated once per test
    process; a database of the PostgreSQL pass is a copy of its migrated template already."""
    from autoconf import migrate

    url = settings.effective_database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.database_url in _databases.values():
        return
    target = settings.data_dir / "autoconf.sqlite3"
    if settings.database_url or target.exists():
        migrate.upgrade(url)
        return
    if not _sqlite_template:
        folder = Path(tempfile.mkdtemp(prefix="autoconf-template-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "autoconf.sqlite3"
        migrate.upgrade(f"sqlite:///{template}")
        engine = create_engine(f"sqlite:///{template}")
        with engine.connect() as connection:  # the whole schema in the file, none in a log
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _sqlite_template.append(template)
    shutil.copyfile(_sqlite_template[0], target)


def copy_database(source: Path, target: Path) -> None:
    """`target`'s database a copy of `source`'s (the PostgreSQL pass; on SQLite the file is
    in the folder, copied with it)."""
    url = database_url(source)
    if url:
        name = f"autoconf_t_{uuid.uuid4().hex[:12]}"
        _admin(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"')
        _databases[target.resolve()] = (
            _server().set(database=name).render_as_string(hide_password=False)
        )


def drop_database(data_dir: Path) -> None:
    """Done with `data_dir`'s database (PostgreSQL pass; nothing on SQLite: the folder
    goes): emptied for another test, or dropped if its test changed its schema."""
    url = _databases.pop(data_dir.resolve(), None)
    if url is None:
        return
    if _empty(url):
        _emptied.append(url)
    else:
        _drop(url)


def _drop(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _empty(url: str) -> bool:
    """Make `url`'s database as its template left it: its other connections closed (a
    test's server may still hold some), every row removed, every sequence back to 1. False
    when it can no longer pass for the template (a test migrated it, or changed its tables)."""
    name = make_url(url).database
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if _schema(connection) != _schema_of_template():
                return False
            connection.execute(text("SET LOCAL session_replication_role = replica"))  # no FKs
            for table in _schema(connection)[1]:
                connection.execute(text(f'DELETE FROM "{table}"'))
            for sequence in connection.execute(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).scalars():
                connection.execute(text("SELECT setval(:name, 1, false)"), {"name": sequence})
        return True
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _schema(connection: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A database's revision and its tables (other than the revision's)."""
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    tables = connection.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version' ORDER BY tablename"
        )
    ).scalars()
    return tuple(revision), tuple(tables)


_template_schema: list[tuple[tuple[str, ...], tuple[str, ...]]] = []


def _schema_of_template() -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not _template_schema:
        engine = create_engine(
            _server().set(database=_template[0]).render_as_string(hide_password=False),
            poolclass=NullPool,
        )
        with engine.connect() as connection:
            _template_schema.append(_schema(connection))
        engine.dispose()
    return _template_schema[0]


def _drop_all() -> None:
    for url in [*_databases.values(), *_emptied]:
        _drop(url)
    _databases.clear()
    _emptied.clear()
    for name in _template:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_postgres(prefix: str = "autoconf_test") -> Iterator[str]:
    """A new, empty database on the server of AUTOCONF_TEST_POSTGRES_URL, dropped afterwards.
    No skip: when the server is missing, the test fails, as CI requires."""
    server = make_url(os.environ.get("AUTOCONF_TEST_POSTGRES_URL", POSTGRES_URL))
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def upload_consented(base_url: str, headers: dict[str, str], source: Path, code: str) -> int:
    """A new study and, in it, `source` uploaded as recording `code` with both consents
    given (it plays once processed): the recording's id."""
    study = httpx.post(f"{base_url}/api/v1/studies", json={"name": "S"}, headers=headers)
    assert study.status_code == 201, study.text
    with source.open("rb") as file:
        uploaded = httpx.post(
            f"{base_url}/api/v1/studies/{study.json()['id']}/recordings",
            headers=headers,
            data={"code": code},
            files={"file": (f"séance {code}{source.suffix}", file, "video/x-msvideo")},
            timeout=60,
        )
    assert uploaded.status_code == 201, uploaded.text
    rid: int = uploaded.json()["id"]
    for party in ("counsellor", "beneficiary"):
        consent = {"party": party, "scopes": ["research"], "given_on": "2025-01-15"}
        given = httpx.post(
            f"{base_url}/api/v1/recordings/{rid}/consents", json=consent, headers=headers
        )
        assert given.status_code == 201, given.text
    return rid


# Keys of the S3-compatible server the tests start (moto's accepts any); inherited by every
# app, command and server a test starts.
S3_KEYS = {
    "AWS_ACCESS_KEY_ID": "autoconf-test",
    "AWS_SECRET_ACCESS_KEY": "autoconf-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto's) on loopback, in a process of its own; its URL."""
    os.environ.update(S3_KEYS)
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _listening(port) or None, 30, "the S3 server (moto)")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def new_bucket(endpoint: str) -> str:
    """A new, empty bucket on the server at `endpoint`; its name."""
    import boto3

    name = f"autoconf-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name
