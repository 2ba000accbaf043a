"""Shared fixtures: a fresh data folder and database per test (SQLite, or PostgreSQL on the
suite's second pass: tests/support.py), an app, clients.

Factories are plain functions (`tests.factories`); nothing is monkeypatched.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import Engine

from autoconf.app import create_app
from autoconf.settings import Settings
from tests import factories, support

DATA = Path(__file__).parent / "data"

# Real argon2id, at OWASP's lowest setting instead of 64 MiB: ~30 ms a hash instead of
# ~170 ms, hundreds of times per run (tests/unit/test_passwords.py checks the default).
# Every app, command and server of the tests reads it (the variable is inherited).
os.environ.setdefault("AUTOCONF_PASSWORD_MEMORY_KIB", "12288")

# A page's assertions wait up to 15 s (Playwright's default is 5): three test workers on two
# cores, each with its browser, servers and ffmpeg, sometimes take longer than 5 s to draw
# what comes.
expect.set_options(timeout=15_000)


UNIT = Path(__file__).parent / "unit"
BROWSER = Path(__file__).parent / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`once` (left out of the PostgreSQL pass: scripts/test) for what gives the same result
    on both passes: unit tests (no database); browser tests (what they check is the pages'
    behaviour in Chromium; the routes behind the pages run on both passes in tests/api);
    tests that choose their database (`sqlite`, `postgres`); and the files marked so (their
    subject is not the database: nginx, the Dockerfile, ffmpeg, the object store, the bus's
    transports, the model, the access policy)."""
    for item in items:
        if (
            item.path.is_relative_to(UNIT)
            or item.path.is_relative_to(BROWSER)
            or item.get_closest_marker("sqlite")
            or item.get_closest_marker("postgres")
        ):
            item.add_marker(pytest.mark.once)


@pytest.fixture(autouse=True)
def _sqlite_only(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `sqlite` is about SQLite itself (its files, its log, its locks): it
    keeps SQLite on the PostgreSQL pass too."""
    support.sqlite_only(request.node.get_closest_marker("sqlite") is not None)
    yield
    support.sqlite_only(False)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    # Media jobs run when a test says so (`jobs.run_until_idle`), not in a background thread.
    data = tmp_path / "data"
    yield support.settings_for(data, max_upload_bytes=5 * 1024 * 1024, media_workers=0)
    support.drop_database(data)  # on the PostgreSQL pass (the app's engine is disposed)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a real S3-compatible server (moto) on loopback, one per test process."""
    with support.s3_server() as url:
        yield url


@pytest.fixture
def s3_settings(tmp_path: Path, s3_endpoint: str) -> Iterator[Settings]:
    """As `settings`, with the media in a new bucket of the S3 server (under a prefix)."""
    data = tmp_path / "data"
    yield support.settings_for(
        data,
        max_upload_bytes=5 * 1024 * 1024,
        media_workers=0,
        storage_url=f"s3://{support.new_bucket(s3_endpoint)}/labo/media",
        s3_endpoint_url=s3_endpoint,
    )
    support.drop_database(data)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    support.migrated(settings)
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def engine(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with factories.PageClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def researcher(engine: Engine) -> factories.Account:
    return factories.account(engine, "claire", "researcher")


@pytest.fixture
def rclient(client: TestClient, researcher: factories.Account) -> TestClient:
    """A client logged in as the researcher (session cookie)."""
    factories.login(client, researcher)
    return client


@pytest.fixture
def study(rclient: TestClient) -> dict[str, object]:
    response = rclient.post("/api/v1/studies", json={"name": "Étude CEP"})
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


@pytest.fixture
def recording(rclient: TestClient, study: dict[str, object]) -> dict[str, object]:
    """A recording (the demo session, not processed) in the study, as the API shows it."""
    response = factories.upload(rclient, int(str(study["id"])), "A8 - 1")
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result
