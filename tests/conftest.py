"""Shared fixtures: a fresh data folder and SQLite database per test, an app, clients.

Factories are plain functions (`tests.factories`); nothing is monkeypatched.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf import migrate
from autoconf.app import create_app
from autoconf.settings import Settings
from tests import factories

DATA = Path(__file__).parent / "data"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Media jobs run when a test says so (`jobs.run_until_idle`), not in a background thread.
    return Settings(data_dir=tmp_path / "data", max_upload_bytes=5 * 1024 * 1024, media_workers=0)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)
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
