"""What the machines around the app read: /healthz, /readyz, /metrics (Prometheus)."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from autoconf.app import create_app
from autoconf.settings import Settings
from tests import factories, support
from tests.support import drop_database, settings_for, wait_for

TOKEN = "metrics-token-" + "k" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    yield settings_for(
        tmp_path / "data", max_upload_bytes=5 * 1024 * 1024, media_workers=0, metrics_token=TOKEN
    )
    drop_database(tmp_path / "data")


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_and_readyz_when_all_is_well(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "storage", "ffmpeg"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())


def test_readyz_names_what_fails_and_healthz_still_answers(tmp_path: Path) -> None:
    # A PostgreSQL that does not answer (nothing listens on port 9), a media folder that is
    # a file, an ffmpeg that is not installed.
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url="postgresql+psycopg://autoconf:s3cret-pw@127.0.0.1:9/autoconf",
        media_workers=0,
        ffmpeg_binary="ffmpeg-not-installed-here",
    )
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "media").write_text("not a folder")
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # the process itself is fine
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert ready.json()["status"] == "not ready"
        assert not checks["database"]["ok"]
        assert "base de données ne répond pas" in checks["database"]["error"]
        assert not checks["storage"]["ok"] and "médias" in checks["storage"]["error"]
        assert not checks["ffmpeg"]["ok"]
        assert "ffmpeg-not-installed-here" in checks["ffmpeg"]["error"]
        assert "s3cret-pw" not in ready.text and "127.0.0.1:9" not in ready.text


def test_metrics_only_for_the_monitoring_token(
    client: TestClient, researcher: factories.Account, engine: Engine, tmp_path: Path
) -> None:
    assert client.get("/metrics").status_code == 401
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32}).status_code == 401
    )
    # A user's own credential is no way in: an admin's API token, an admin's login session.
    admin = factories.account(engine, "root", "admin")
    assert client.get("/metrics", headers=factories.token(engine, admin)).status_code == 401
    factories.login(client, admin)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=AUTH).status_code == 200
    # No token configured: no metrics at all.
    plain = settings_for(tmp_path / "plain", media_workers=0)
    plain.data_dir.mkdir()
    support.migrated(plain)
    with TestClient(create_app(plain)) as other:
        refused = other.get("/metrics", headers=AUTH)
        assert refused.status_code == 404 and "AUTOCONF_METRICS_TOKEN" in refused.json()["detail"]


def test_requests_counted_by_route_template_never_by_id(
    rclient: TestClient, study: dict, app: FastAPI
) -> None:
    before = samples(rclient)
    for _ in range(3):
        assert rclient.get(f"/api/v1/studies/{study['id']}").status_code == 200
    assert rclient.get("/api/v1/studies/999999").status_code == 404
    assert rclient.get("/no/such/page").status_code == 404
    after = samples(rclient)
    route = "/api/v1/studies/{study_id}"
    key = {"route": route, "method": "GET"}
    assert (
        value(after, "autoconf_http_requests_total", **key, status="200")
        - value(before, "autoconf_http_requests_total", **key, status="200")
        == 3
    )
    assert (
        value(after, "autoconf_http_requests_total", **key, status="404")
        - value(before, "autoconf_http_requests_total", **key, status="404")
        == 1
    )
    assert (
        value(after, "autoconf_http_request_duration_seconds_count", **key)
        - value(before, "autoconf_http_request_duration_seconds_count", **key)
        == 4
    )
    routes = {dict(labels).get("route") for _, labels in after}
    assert "unmatched" in routes
    assert not [r for r in routes if r and re.search(r"/\d+", r)], routes  # no id in a label


def test_media_bytes_and_jobs_and_live_sessions(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, app: FastAPI
) -> None:
    queued = factories.upload(rclient, study["id"], "A2").json()
    found = samples(rclient)
    assert value(found, "autoconf_media_jobs", status="queued") == 1
    assert value(found, "autoconf_live_sessions_open") == 0
    ready = factories.processed(rclient, engine, settings, study["id"], code="A1")
    assert ready["status"] == "ready", ready["error"]
    before = samples(rclient)
    assert value(before, "autoconf_media_jobs", status="done") == 2  # A2 was processed too
    assert value(before, "autoconf_media_jobs", status="queued") == 0
    media = f"/api/v1/recordings/{ready['id']}/media"
    first = rclient.get(media, headers={"Range": "bytes=0-999"})
    second = rclient.get(media, headers={"Range": "bytes=1000-1499"})  # the fast path's
    assert first.status_code == second.status_code == 206
    assert rclient.get(f"/api/v1/recordings/{queued['id'] + 100}/media").status_code == 404
    after = samples(rclient)
    sent = value(after, "autoconf_media_bytes_streamed_total", what="media") - value(
        before, "autoconf_media_bytes_streamed_total", what="media"
    )
    assert sent == 1500  # the refusal's body is no media
    _, counsellor_id = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    followed = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id)
    started = rclient.post(f"/api/v1/recordings/{followed.json()['id']}/live")
    assert started.status_code == 201, started.text
    with rclient.websocket_connect(f"/api/v1/live/{started.json()['id']}/ws") as socket:
        assert socket.receive_json()["type"] == "state"  # its presence is written next
        live = wait_for(
            lambda: (
                (found := samples(rclient))
                and value(found, "autoconf_live_subscribers", role="researcher") == 1
                and found
            ),
            5,
            "the browser's presence",
        )
        assert value(live, "autoconf_live_sessions_open") == 1
    assert rclient.post(f"/api/v1/live/{started.json()['id']}/end").status_code == 200
    assert value(samples(rclient), "autoconf_live_sessions_open") == 0
