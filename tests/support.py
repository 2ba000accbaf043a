"""A real `autoconf serve` process for tests that need real HTTP (concurrency, browsers)."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(data_dir), "AUTOCONF_LOG_LEVEL": "warning"}
    env.pop("AUTOCONF_DATABASE_URL", None)
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
    """A migrated database with one researcher; their API token as request headers."""
    cli(data_dir, "migrate")
    cli(data_dir, "user", "add", username, "--role", "researcher", stdin="long-password\n")
    return {"Authorization": f"Bearer {cli(data_dir, 'token', 'create', username).strip()}"}


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
