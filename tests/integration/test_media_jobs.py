"""Media jobs: progress, cancel, delete, timeout, dead workers, and a server killed in the
middle of a transcode whose job completes after the restart."""

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.db import make_engine, session_scope
from autoconf.media import jobs
from autoconf.media.store import store_for
from autoconf.models import MediaJob, Recording
from autoconf.settings import Settings
from autoconf.studies import recordings
from tests import factories
from tests.mediafiles import ffmpeg_processes, slow_to_encode
from tests.support import (
    cli,
    database_url,
    researcher_token,
    start_server,
    stop_server,
    upload_consented,
    wait_for,
)


def register(engine: Engine, settings: Settings, study_id: int, source: Path) -> int:
    """A recording of `source` with its job queued, as an upload leaves it."""
    new = recordings.NewRecording(study_id, source.stem, None, source.name)
    with session_scope(engine) as session, source.open("rb") as file:
        recording = recordings.create_recording(
            session, store_for(settings), 2**34, new, file, None
        )
        return recording.id or 0


def job_of(engine: Engine, recording_id: int) -> MediaJob | None:
    with Session(engine) as session:
        return session.exec(select(MediaJob).where(MediaJob.recording_id == recording_id)).first()


@pytest.fixture
def slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return slow_to_encode(tmp_path_factory.mktemp("slow"))


@pytest.fixture
def runner(engine: Engine, settings: Settings) -> Iterator[jobs.JobRunner]:
    started = jobs.JobRunner(engine, settings, 1)
    started.start()
    yield started
    started.stop()


def processing(client: TestClient, recording_id: int) -> dict | None:
    view = client.get(f"/api/v1/recordings/{recording_id}").json()
    if view["status"] == "processing" and view["progress"] > 5 and view["stage"]:
        return view
    return None


def test_cancel_stops_ffmpeg_and_retry_starts_again(
    rclient: TestClient,
    engine: Engine,
    settings: Settings,
    study: dict,
    slow: Path,
    runner: jobs.JobRunner,
) -> None:
    rid = register(engine, settings, study["id"], slow)
    runner.wake()
    view = wait_for(lambda: processing(rclient, rid), 30, "the transcode to report progress")
    assert view["stage"] == "Conversion pour le navigateur"
    assert ffmpeg_processes(settings.media_dir)
    cancelled = rclient.post(f"/api/v1/recordings/{rid}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "failed"
    wait_for(lambda: not ffmpeg_processes(settings.media_dir), 5, "ffmpeg to be killed")
    time.sleep(0.5)
    view = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert view["status"] == "failed" and "arrêté" in view["error"]
    assert job_of(engine, rid).status == "cancelled"
    folder = next((settings.media_dir / "recordings").iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["original.avi"]  # partial proxy gone

    runner.stop()
    again = rclient.post(f"/api/v1/recordings/{rid}/retry")
    assert again.status_code == 202 and again.json()["status"] == "queued"
    assert rclient.post(f"/api/v1/recordings/{rid}/cancel").status_code == 200
    assert rclient.post(f"/api/v1/recordings/{rid}/cancel").status_code == 409


def test_deleting_a_recording_stops_its_job_and_removes_its_files(
    rclient: TestClient,
    engine: Engine,
    settings: Settings,
    study: dict,
    slow: Path,
    runner: jobs.JobRunner,
) -> None:
    rid = register(engine, settings, study["id"], slow)
    runner.wake()
    wait_for(lambda: processing(rclient, rid), 30, "the transcode to start")
    assert rclient.delete(f"/api/v1/recordings/{rid}").status_code == 204
    wait_for(lambda: not ffmpeg_processes(settings.media_dir), 5, "ffmpeg to be killed")
    wait_for(lambda: not any((settings.media_dir / "recordings").iterdir()), 5, "files removed")
    assert job_of(engine, rid) is None
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 404


def test_a_transcode_past_the_timeout_fails_clearly(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, slow: Path
) -> None:
    rid = register(engine, settings, study["id"], slow)
    hurried = settings.model_copy(update={"media_timeout_seconds": 1.0})
    jobs.run_until_idle(engine, hurried)
    view = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert view["status"] == "failed" and "durée maximale" in view["error"]
    assert not ffmpeg_processes(settings.media_dir)


def test_jobs_of_dead_workers_are_queued_again_then_given_up(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    rid = factories.upload(rclient, study["id"], "A1").json()["id"]
    first = jobs.claim(engine, "dead:1:0", stale_s=60)
    assert first is not None and rclient.get(f"/api/v1/recordings/{rid}").json()["status"] == (
        "processing"
    )
    assert jobs.claim(engine, "other:2:0", stale_s=60) is None  # alive: left alone

    def age(attempts: int) -> None:
        with session_scope(engine) as session:
            job = session.get(MediaJob, first)
            job.heartbeat_at = datetime.now(UTC) - timedelta(seconds=120)
            job.attempts = attempts
            session.add(job)

    age(1)
    assert jobs.claim(engine, "other:2:0", stale_s=60) == first
    assert job_of(engine, rid).attempts == 2 and job_of(engine, rid).worker == "other:2:0"
    age(jobs.MAX_ATTEMPTS)
    assert jobs.claim(engine, "third:3:0", stale_s=60) is None
    view = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert view["status"] == "failed" and "interrompu" in view["error"]


def test_a_killed_server_resumes_the_job_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    headers = researcher_token(data)
    env = {"AUTOCONF_MEDIA_WORKERS": "1", "AUTOCONF_JOB_STALE_SECONDS": "2"}
    env["AUTOCONF_MAX_UPLOAD_BYTES"] = str(200 * 1024 * 1024)
    source = slow_to_encode(tmp_path, seconds=45)
    server = start_server(data, env)
    try:
        rid = upload_consented(server.url, headers, source, "A4")
        url = f"{server.url}/api/v1/recordings/{rid}"

        def transcoding() -> dict | None:
            view = httpx.get(url, headers=headers).json()
            return view if view["status"] == "processing" and view["progress"] > 10 else None

        before = wait_for(transcoding, 60, "the transcode to be under way")
        assert ffmpeg_processes(data)
        os.kill(server.process.pid, signal.SIGKILL)  # no clean shutdown at all
        server.process.wait(10)
        # ffmpeg dies with its server, it does not go on writing the proxy alone.
        wait_for(lambda: not ffmpeg_processes(data), 5, "the orphan ffmpeg to die")

        server = start_server(data, env)
        url = url.replace(url.split("/api/")[0], server.url)

        def ready() -> dict | None:
            view = httpx.get(url, headers=headers).json()
            assert view["status"] != "failed", view["error"]
            return view if view["status"] == "ready" else None

        after = wait_for(ready, 120, "the restarted job to finish")
        assert after["duration_ms"] == pytest.approx(45_000, abs=100)
        assert before["progress"] < 100
        media = httpx.get(f"{server.url}{after['media_url']}", headers=headers)
        assert media.status_code == 200 and media.content[4:8] == b"ftyp"
    finally:
        if server.process.poll() is None:
            stop_server(server)
    url = database_url(data) or f"sqlite:///{data / 'autoconf.sqlite3'}"
    with Session(make_engine(url)) as session:
        (job,) = session.exec(select(MediaJob)).all()
        assert (job.status, job.attempts) == ("done", 2)
        assert session.exec(select(Recording)).one().status == "ready"
    assert cli(data, "worker", "--until-idle").splitlines() == [
        "0 traitement(s) effectué(s).",
        "0 transcription(s) effectuée(s).",  # the transcribe extra is installed for the tests
    ]


def test_a_retry_right_after_a_cancel_never_mixes_two_attempts(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, slow: Path
) -> None:
    two = jobs.JobRunner(engine, settings, 2)
    two.start()
    try:
        rid = register(engine, settings, study["id"], slow)
        factories.consent_all(rclient, rid)
        two.wake()
        wait_for(lambda: processing(rclient, rid), 30, "the first attempt to be under way")
        assert rclient.post(f"/api/v1/recordings/{rid}/cancel").status_code == 200
        assert rclient.post(f"/api/v1/recordings/{rid}/retry").status_code == 202
        two.wake()  # the other thread may take it while the first still stops its ffmpeg

        def settled() -> dict | None:
            view = rclient.get(f"/api/v1/recordings/{rid}").json()
            return view if view["status"] in ("ready", "failed") else None

        view = wait_for(settled, 90, "the second attempt to finish")
        assert view["status"] == "ready", view["error"]
        folder = next((settings.media_dir / "recordings").iterdir())
        names = sorted(p.name for p in folder.iterdir())
        assert "proxy.mp4" in names and not [n for n in names if n.startswith("work-")]
        assert rclient.get(view["media_url"]).status_code == 200
    finally:
        two.stop()


def test_a_stopping_server_gives_its_job_back(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, slow: Path
) -> None:
    runner = jobs.JobRunner(engine, settings, 1)
    runner.start()
    rid = register(engine, settings, study["id"], slow)
    runner.wake()
    wait_for(lambda: processing(rclient, rid), 30, "the transcode to be under way")
    runner.stop()
    assert not ffmpeg_processes(settings.media_dir)
    job = job_of(engine, rid)
    assert (job.status, job.attempts, job.worker) == ("queued", 0, "")
    assert rclient.get(f"/api/v1/recordings/{rid}").json()["status"] == "queued"
