"""Media on an S3-compatible object store (AUTOCONF_STORAGE_URL=s3://bucket/prefix), against a
real S3 server on loopback (moto's, in its own process): uploads (a form, tus) land in the
bucket, media jobs read the original from it and write their files back, playback goes through
the app (Range, HEAD, 416) or to a presigned address, access checked first either way; an
erasure empties the recording's folder; nothing of the media stays on local disk."""

import hashlib
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from autoconf.app import create_app
from autoconf.errors import Invalid, TooLarge, Unavailable
from autoconf.media import jobs
from autoconf.media.orphans import collect_orphans
from autoconf.media.store import MissingObject, S3Store, store_for
from autoconf.models import Recording
from autoconf.settings import Settings
from tests import factories, support
from tests.api.test_tus_uploads import TUS, create, patch
from tests.mediafiles import duration_s, make_testsrc

pytestmark = pytest.mark.once  # the object store; the database on both passes elsewhere

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SNIPPET_S3 = Path(__file__).parents[2] / "docs" / "nginx-autoconf-s3.conf"


def objects(settings: Settings) -> dict[str, bytes]:
    """Every object of the settings' bucket under its prefix, by key below the prefix."""
    bucket, _, prefix = settings.storage_url.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(prefix + "/")] = body
    return found


def local_files(settings: Settings) -> list[Path]:
    """Files under the data folder but the database's."""
    return [
        path
        for path in settings.data_dir.rglob("*")
        if path.is_file() and not path.name.startswith("autoconf.sqlite3")
    ]


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("media")
    return make_testsrc(folder / "short.mp4", 4).read_bytes()


def s3_app(settings: Settings) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    support.migrated(settings)
    return create_app(settings)


@pytest.fixture
def app(s3_settings: Settings) -> Iterator[FastAPI]:
    application = s3_app(s3_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def settings(s3_settings: Settings) -> Settings:
    return s3_settings


def ready_recording(rclient: TestClient, engine: Engine, settings: Settings, media: bytes) -> int:
    study = rclient.post("/api/v1/studies", json={"name": "Étude S3"}).json()
    response = factories.upload(rclient, study["id"], "A8 - 1", media)
    assert response.status_code == 201, response.text
    rid: int = response.json()["id"]
    factories.consent_all(rclient, rid)
    assert jobs.run_until_idle(engine, settings) == 1
    assert rclient.get(f"/api/v1/recordings/{rid}").json()["status"] == "ready"
    return rid


def test_an_upload_is_kept_and_processed_in_the_store_and_nothing_stays_on_disk(
    rclient: TestClient, engine: Engine, settings: Settings, short_video: bytes
) -> None:
    rid = ready_recording(rclient, engine, settings, short_video)
    with Session(engine) as session:
        recording = session.get(Recording, rid)
        assert recording is not None
        key, proxy = recording.storage_key, recording.proxy_key
    stored = objects(settings)
    assert stored[key] == short_video  # byte for byte
    folder = key.rsplit("/", 1)[0]
    names = {k.removeprefix(folder + "/") for k in stored}
    assert {"original.mp4", "proxy.mp4", "poster.jpg", "thumbnails.vtt", "waveform.dat"} <= names
    assert any(name.startswith("sprite-") for name in names)
    assert proxy in stored
    # No copy of the original, no proxy, no work folder left under the data folder.
    assert local_files(settings) == []
    recording_json = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert recording_json["original_sha256"] == hashlib.sha256(short_video).hexdigest()


def test_playback_through_the_app_with_ranges_and_access_checked(
    client: TestClient, engine: Engine, settings: Settings, short_video: bytes
) -> None:
    claire = factories.account(engine, "claire", "researcher")
    factories.login(client, claire)
    rid = ready_recording(client, engine, settings, short_video)
    with Session(engine) as session:
        recording = session.get(Recording, rid)
        assert recording is not None
        proxy = objects(settings)[recording.proxy_key]
    url = f"/api/v1/recordings/{rid}/media"
    part = client.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206, part.text
    assert part.content == proxy[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(proxy)}"
    assert part.headers["accept-ranges"] == "bytes"
    assert part.headers["content-type"] == "video/mp4"
    tail = client.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == proxy[-500:]
    opened = client.get(url, headers={"Range": f"bytes={len(proxy) - 10}-"})
    assert opened.status_code == 206 and opened.content == proxy[-10:]
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == proxy
    several = client.get(url, headers={"Range": "bytes=0-1,5-9"})  # not asked by players
    assert several.status_code == 200 and several.content == proxy
    past = client.get(url, headers={"Range": f"bytes={len(proxy) + 5}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(proxy)}"
    head = client.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(proxy))
    poster = client.get(f"/api/v1/recordings/{rid}/poster")
    assert poster.status_code == 200 and poster.content.startswith(b"\xff\xd8")
    vtt = client.get(f"/api/v1/recordings/{rid}/thumbnails.vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    # Someone else: the same answer as for a recording that does not exist.
    outsider = factories.account(engine, "zoe", "researcher")
    client.cookies.clear()
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 401
    factories.login(client, outsider)
    refused = client.get(url, headers={"Range": "bytes=0-99"})
    assert refused.status_code == 404 and proxy[:99] not in refused.content


def test_presigned_playback_sends_the_browser_to_the_store_after_the_check(
    tmp_path: Path, s3_endpoint: str, short_video: bytes
) -> None:
    data = tmp_path / "presigned"
    settings = support.settings_for(
        data,
        media_workers=0,
        storage_url=f"s3://{support.new_bucket(s3_endpoint)}/media",
        s3_endpoint_url=s3_endpoint,
        s3_presigned_seconds=120,
    )
    app = s3_app(settings)
    engine: Engine = app.state.engine
    try:
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            factories.login(client, factories.account(engine, "claire", "researcher"))
            rid = ready_recording(client, engine, settings, short_video)
            url = f"/api/v1/recordings/{rid}/media"
            sent = client.get(url, follow_redirects=False)
            assert sent.status_code == 307
            address = sent.headers["location"]
            assert address.startswith(s3_endpoint) and "X-Amz-Expires=120" in address
            assert sent.headers["cache-control"] == "no-store"
            # The browser asks the store itself, with its Range.
            direct = httpx.get(address, headers={"Range": "bytes=0-99"})
            assert direct.status_code == 206 and len(direct.content) == 100
            # No access: no address.
            client.cookies.clear()
            factories.login(client, factories.account(engine, "zoe", "researcher"))
            refused = client.get(url, follow_redirects=False)
            assert refused.status_code == 404 and "location" not in refused.headers
    finally:
        engine.dispose()
        support.drop_database(data)


def test_a_tus_upload_lands_in_the_store(
    rclient: TestClient, settings: Settings, short_video: bytes
) -> None:
    study = rclient.post("/api/v1/studies", json={"name": "Étude"}).json()
    created = create(rclient, len(short_video), study_id=study["id"], code="A8 - 1")
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    assert patch(rclient, url, 0, short_video[:50_000]).status_code == 204
    assert rclient.head(url, headers=TUS).headers["upload-offset"] == "50000"
    last = patch(rclient, url, 50_000, short_video[50_000:])
    assert last.status_code == 204, last.text
    rid = last.headers["x-recording-id"]
    key = f"{rclient.get(f'/api/v1/recordings/{rid}').json()['original_sha256']}"
    assert key == hashlib.sha256(short_video).hexdigest()
    assert list(objects(settings).values()) == [short_video]
    # The upload's bytes left the work folder (an empty placeholder marks it complete).
    sizes = [p.stat().st_size for p in local_files(settings) if p.suffix == ""]
    assert sizes == [0]
    assert not settings.media_dir.exists()


def test_refused_uploads_leave_nothing_in_the_store(
    rclient: TestClient, settings: Settings, short_video: bytes
) -> None:
    study = rclient.post("/api/v1/studies", json={"name": "Étude"}).json()
    too_big = factories.upload(rclient, study["id"], "A1", bytes(settings.max_upload_bytes + 1))
    assert too_big.status_code == 413 and "taille maximale" in too_big.json()["detail"]
    wrong = hashlib.sha256(b"another file").hexdigest()
    created = create(rclient, len(short_video), study_id=study["id"], code="A2", sha256=wrong)
    damaged = patch(rclient, created.headers["location"], 0, short_video)
    assert damaged.status_code == 422 and "SHA-256" in damaged.json()["detail"]
    assert objects(settings) == {}
    assert rclient.get(f"/api/v1/studies/{study['id']}/recordings").json() == []


def test_erasing_a_recording_empties_its_folder_in_the_store(
    rclient: TestClient, engine: Engine, settings: Settings, short_video: bytes
) -> None:
    rid = ready_recording(rclient, engine, settings, short_video)
    study_id = rclient.get(f"/api/v1/recordings/{rid}").json()["study_id"]
    other = factories.upload(rclient, study_id, "A8 - 2", short_video).json()["id"]
    before = objects(settings)
    with Session(engine) as session:
        recording = session.get(Recording, rid)
        assert recording is not None
        folder = recording.storage_key.rsplit("/", 1)[0]
    page = rclient.get(f"/recordings/{rid}/erase")
    assert page.status_code == 200
    counted = sum(1 for key in before if key.startswith(folder + "/"))
    erased = rclient.post(f"/api/v1/recordings/{rid}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["files"] == counted > 5
    after = objects(settings)
    assert not any(key.startswith(folder + "/") for key in after)
    assert [key.endswith("original.mp4") for key in after] == [True]  # the other's original
    assert rclient.get(f"/api/v1/recordings/{other}").status_code == 200


def test_a_clip_is_cut_from_the_original_in_the_store(
    rclient: TestClient, engine: Engine, settings: Settings, short_video: bytes, tmp_path: Path
) -> None:
    rid = ready_recording(rclient, engine, settings, short_video)
    created = rclient.post(
        f"/api/v1/recordings/{rid}/annotations", json={"start_ms": 1_000, "end_ms": 2_500}
    )
    assert created.status_code == 201, created.text
    clip = rclient.get(f"/api/v1/annotations/{created.json()['id']}/clip")
    assert clip.status_code == 200, clip.text
    target = tmp_path / "clip.mp4"
    target.write_bytes(clip.content)
    assert abs(duration_s(target) - 1.5) <= 0.1  # ffmpeg read the presigned address


def test_folders_no_recording_names_are_collected_once_idle(
    rclient: TestClient, engine: Engine, settings: Settings, short_video: bytes
) -> None:
    study = rclient.post("/api/v1/studies", json={"name": "Étude"}).json()
    kept = factories.upload(rclient, study["id"], "A1", short_video)
    assert kept.status_code == 201
    store = store_for(settings)
    # What an erasure cut short by a crash after its commit leaves.
    store.save_stream(io.BytesIO(b"orphan"), "recordings/0123abcd/original.mp4", 100)
    store.save_stream(io.BytesIO(b"orphan"), "recordings/0123abcd/proxy.mp4", 100)
    with Session(engine) as session:
        assert collect_orphans(session, store) == 0  # written moments ago: maybe registering
        assert collect_orphans(session, store, older_than_s=-1) == 1
    assert list(objects(settings).values()) == [short_video]


def test_the_store_s_own_refusals_and_failures_are_clear(tmp_path: Path, s3_endpoint: str) -> None:
    bucket = support.new_bucket(s3_endpoint)
    store = S3Store(bucket, "p", s3_endpoint)
    with pytest.raises(TooLarge, match="taille maximale"):
        store.save_stream(io.BytesIO(bytes(20 * 1024 * 1024)), "recordings/x/original.mp4", 10**7)
    assert store.listing("recordings") == []  # the multipart upload aborted, nothing kept
    upload = tmp_path / "upload"
    upload.write_bytes(b"0123456789")
    with pytest.raises(Invalid, match="SHA-256"):
        store.save_upload(upload, "recordings/y/original.mp4", "0" * 64)
    assert not upload.exists() and store.listing("recordings") == []
    with pytest.raises(MissingObject):
        store.fetch("recordings/z/original.mp4", tmp_path / "z")
    assert store.size("recordings/z/original.mp4") is None
    with pytest.raises(ValueError):
        store.size("../outside")  # a key never climbs out of the prefix
    gone = S3Store(bucket, "p", f"http://127.0.0.1:{support.free_port()}")
    with pytest.raises(Unavailable, match="ne répond pas"):
        gone.size("recordings/z/original.mp4")


def test_a_store_that_does_not_answer(tmp_path: Path, s3_endpoint: str) -> None:
    data = tmp_path / "away"
    settings = support.settings_for(
        data,
        media_workers=0,
        storage_url="s3://autoconf-missing/media",
        s3_endpoint_url=f"http://127.0.0.1:{support.free_port()}",
    )
    app = s3_app(settings)
    engine: Engine = app.state.engine
    try:
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            storage = ready.json()["checks"]["storage"]
            assert not storage["ok"] and "stockage objet" in storage["error"]
            assert "127.0.0.1" not in ready.text
            factories.login(client, factories.account(engine, "claire", "researcher"))
            study = client.post("/api/v1/studies", json={"name": "Étude"}).json()
            refused = factories.upload(client, study["id"], "A1", b"\x00" * 1000)
            assert refused.status_code == 503
            assert "stockage des médias ne répond pas" in refused.json()["detail"]
            assert client.get("/healthz").status_code == 200  # the server keeps running
            assert client.get(f"/api/v1/studies/{study['id']}/recordings").json() == []
    finally:
        engine.dispose()
        support.drop_database(data)


def test_settings_that_do_not_go_together_are_refused_in_one_line(tmp_path: Path) -> None:
    def refused(**values: str) -> str:
        env = {**support.cli_env(tmp_path), **values}
        run = subprocess.run(
            [sys.executable, "-m", "autoconf.cli", "migrate"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 2, run.stdout
        assert "Traceback" not in run.stderr
        return run.stderr

    both = refused(
        AUTOCONF_STORAGE_URL="s3://labo-media/autoconf",
        AUTOCONF_MEDIA_ACCEL_REDIRECT="/_autoconf_store/",
        AUTOCONF_S3_PRESIGNED_SECONDS="600",
    )
    assert "choisissez l'un des deux" in both and "s3://" not in both.replace("s3://…", "")
    alone = refused(AUTOCONF_S3_PRESIGNED_SECONDS="600")
    assert "ne sert qu'avec un stockage objet" in alone
    bad = refused(AUTOCONF_STORAGE_URL="s3://Not_A_Bucket")
    assert "AUTOCONF_STORAGE_URL est refusée" in bad


def test_nginx_fetches_from_the_store_what_the_app_allowed(
    tmp_path: Path, s3_endpoint: str
) -> None:
    """docs/nginx-autoconf-s3.conf with a real nginx, app and S3 server: the app checks access
    and names a signed address of the store (X-Accel-Redirect); nginx asks the store for the
    bytes, the browser's Range passed on."""
    assert Path(NGINX).exists(), "nginx is required (scripts/install --test installs it)"
    bucket = support.new_bucket(s3_endpoint)
    data = tmp_path / "data"
    env = {
        "AUTOCONF_STORAGE_URL": f"s3://{bucket}/media",
        "AUTOCONF_S3_ENDPOINT_URL": s3_endpoint,
        "AUTOCONF_MEDIA_ACCEL_REDIRECT": "/_autoconf_store/",
        "AUTOCONF_MEDIA_WORKERS": "1",
    }
    headers = support.researcher_token(data)
    with support.serve(data, env) as app_url:
        port = support.free_port()
        server = SNIPPET_S3.read_text().replace("listen 80;", f"listen {port};")
        server = server.replace("127.0.0.1:8000", app_url.removeprefix("http://"))
        server = server.replace("STORE_URL", s3_endpoint)
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log warn;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n access_log off;\n proxy_temp_path {tmp_path}/proxy;\n"
            f" client_body_temp_path {tmp_path}/body;\n{server}\n}}\n"
        )
        nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)])
        url = f"http://127.0.0.1:{port}"
        try:
            support.wait_for(lambda: support._listening(port), 10, "nginx to listen")
            _, rid = support.study_with_recording(url, headers)  # the upload through nginx
            api = f"{url}/api/v1/recordings/{rid}"
            view = support.wait_for(
                lambda: (v := httpx.get(api, headers=headers).json())["status"] == "ready" and v,
                60,
                "the recording to be processed",
            )
            settings = Settings(
                storage_url=env["AUTOCONF_STORAGE_URL"], s3_endpoint_url=s3_endpoint
            )
            stored = objects(settings)
            proxy = next(body for key, body in stored.items() if key.endswith("/proxy.mp4"))
            media = f"{url}{view['media_url']}"
            whole = httpx.get(media, headers=headers)
            assert whole.status_code == 200 and whole.content == proxy
            assert (
                "x-accel-redirect" not in whole.headers and "x-amz-request-id" not in whole.headers
            )
            part = httpx.get(media, headers={**headers, "Range": "bytes=100-1099"})
            assert part.status_code == 206 and part.content == proxy[100:1100]
            assert part.headers["content-range"] == f"bytes 100-1099/{len(proxy)}"
            past = httpx.get(media, headers={**headers, "Range": f"bytes={len(proxy)}-"})
            assert past.status_code == 416
            poster = httpx.get(f"{url}{view['poster_url']}", headers=headers)
            assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"
            # No right, no address; the internal location is not public.
            refused = httpx.get(media)
            assert refused.status_code == 401 and proxy[:1000] not in refused.content
            key = next(key for key in stored if key.endswith("/proxy.mp4"))
            direct = httpx.get(f"{url}/_autoconf_store/{bucket}/media/{key}")
            assert direct.status_code == 404 and direct.content != proxy
        finally:
            nginx.terminate()
            nginx.wait(10)
