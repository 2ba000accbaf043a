"""Erasure, checked where the bytes are: after it no file under the data folder holds the
original's bytes, no row points at the recording, and the SQLite files (write-ahead log
included) hold none of the erased text; ids never come back. Real ffmpeg processing; the
basic erasure also on PostgreSQL."""

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf import migrate
from autoconf.app import create_app
from autoconf.audit import log as audit_log
from autoconf.models import AuditEvent, Consent, Recording
from autoconf.settings import Settings
from tests import factories

NOTE = "SECRET-NOTE-7f3a"
COMMENT = "SECRET-COMMENT-52be"
CUE = "Durand, je suis Claire Martin"  # in the demo transcript
CHUNK = 4096


def files_under(folder: Path) -> Iterator[Path]:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            yield Path(root) / name


def assert_no_file_holds(folder: Path, original: bytes) -> None:
    """No file is the original (same size, same sha256), none holds a 4 KiB chunk of its
    middle."""
    digest = hashlib.sha256(original).hexdigest()
    chunk = original[len(original) // 2 : len(original) // 2 + CHUNK]
    for path in files_under(folder):
        content = path.read_bytes()
        if len(content) == len(original):
            assert hashlib.sha256(content).hexdigest() != digest, path
        assert chunk not in content, path


def sqlite_bytes(data_dir: Path) -> dict[str, bytes]:
    """The raw bytes of the database and of its -wal and -shm files (those that exist)."""
    base = data_dir / "autoconf.sqlite3"
    paths = [base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")]
    return {path.name: path.read_bytes() for path in paths if path.exists()}


def erase_entries(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        actions = (audit_log.ERASE_RECORDING, audit_log.ERASE_STUDY)
        query = select(AuditEvent).where(col(AuditEvent.action).in_(actions))
        return list(session.exec(query.order_by(col(AuditEvent.id))).all())


def original_of(engine: Engine, settings: Settings, recording_id: int) -> bytes:
    with Session(engine) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        content = (settings.media_dir / recording.storage_key).read_bytes()
        assert hashlib.sha256(content).hexdigest() == recording.original_sha256
        for party in ("counsellor", "beneficiary"):  # so that it may be played
            session.add(
                Consent(
                    recording_id=recording_id,
                    party=party,
                    scopes=["research", "training"],
                    given_on=date.today(),
                )
            )
        session.commit()
    return content


def fill(client: TestClient, recording: dict[str, Any]) -> None:
    """Coding and a private mark with a distinctive note, the transcript, a live session
    (its interview holds only this recording) with a stop and a distinctive comment, and
    the media played once (a grant remembered)."""
    url = factories.annotations_url(recording)
    sid = recording["study_id"]
    scheme = factories.codes_by_path(client, sid, "schemes")["Écouter / reformuler"]
    for body in (
        {"start_ms": 1_000, "end_ms": 4_000, "code_ids": [scheme], "note": NOTE},
        {"start_ms": 2_000, "origin": "prepared", "note": NOTE},
    ):
        assert client.post(url, json=body).status_code == 201
    vtt = factories.DEMO_TRANSCRIPT.read_bytes()
    imported = client.post(
        f"/api/v1/recordings/{recording['id']}/transcript",
        files={"file": ("s.vtt", vtt, "text/vtt")},
    )
    assert imported.status_code == 200, imported.text
    interview = {"code": f"E-{recording['id']}", "recording_ids": [recording["id"]]}
    assert client.post(f"/api/v1/studies/{sid}/interviews", json=interview).status_code == 201
    live = client.post(f"/api/v1/recordings/{recording['id']}/live")
    assert live.status_code == 201, live.text
    stop = client.post(f"/api/v1/live/{live.json()['id']}/stops", json={"position_ms": 1_500})
    assert stop.status_code == 201, stop.text
    comment = client.post(
        f"/api/v1/live/stops/{stop.json()['id']}/comments",
        json={"speaker": "counsellor", "text": COMMENT},
    )
    assert comment.status_code == 201, comment.text
    played = client.get(recording["media_url"], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206, played.text


@pytest.mark.sqlite
def test_nothing_of_an_erased_recording_remains_on_sqlite(
    app: FastAPI,
    rclient: TestClient,
    study: dict[str, Any],
    engine: Engine,
    settings: Settings,
) -> None:
    recording = factories.processed(rclient, engine, settings, study["id"], "A8 - 1")
    assert recording["status"] == "ready", recording
    rid = recording["id"]
    original = original_of(engine, settings, rid)
    fill(rclient, recording)
    folder = settings.media_dir / "recordings"
    assert len(list(files_under(folder))) > 3  # original, proxy, poster, thumbnails…
    raw = b"".join(sqlite_bytes(settings.data_dir).values())
    assert NOTE.encode() in raw and COMMENT.encode() in raw and CUE.encode() in raw

    erased = rclient.post(f"/api/v1/recordings/{rid}/erase")
    assert erased.status_code == 200, erased.text
    summary = erased.json()
    assert summary["annotations"] == 2 and summary["stops"] == 1 and summary["comments"] == 1
    assert summary["transcript_cues"] == 20 and summary["live_sessions_erased"] == 1
    assert summary["files"] > 3 and summary["bytes"] > len(original)

    assert_no_file_holds(settings.data_dir, original)
    assert factories.references(engine, "recording", rid) == {}
    [entry] = erase_entries(engine)
    assert (entry.action, entry.recording_id, entry.detail["code"]) == (
        "erase_recording",
        rid,
        "A8 - 1",
    )
    # The media grant is forgotten: no byte of it is served any more.
    assert rclient.get(recording["media_url"], headers={"Range": "bytes=0-99"}).status_code == 404
    # The erased text is in none of the SQLite files: zeroed in the database
    # (secure_delete), the write-ahead log emptied (checkpoint), now and once closed.
    for moment in ("open", "closed"):
        if moment == "closed":
            engine.dispose()
        for name, content in sqlite_bytes(settings.data_dir).items():
            for text in (NOTE, COMMENT, CUE, "seance-demo.mp4"):
                assert text.encode() not in content, (moment, name, text)
    # Ids never come back: an audit entry about the erased recording never names another.
    again = factories.upload(rclient, study["id"], "A8 - 1")
    assert again.status_code == 201, again.text
    assert again.json()["id"] > rid


@pytest.mark.sqlite
def test_erasing_a_study_on_sqlite(
    client: TestClient,
    rclient: TestClient,
    study: dict[str, Any],
    engine: Engine,
    settings: Settings,
) -> None:
    sid = study["id"]
    processed = factories.processed(rclient, engine, settings, sid, "A8 - 1")
    original = original_of(engine, settings, processed["id"])
    fill(rclient, processed)
    waiting = factories.upload(rclient, sid, "A8 - 2").json()
    rclient.post(f"/api/v1/studies/{sid}/structures", json={"code": "S1"})
    headers = factories.token(engine, factories.account(engine, "root", "admin"))

    erased = client.post(f"/api/v1/studies/{sid}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    assert erased.json()["recordings"] == 2 and erased.json()["live_sessions"] == 1

    assert_no_file_holds(settings.data_dir, original)
    assert not any(files_under(settings.media_dir / "recordings"))
    assert factories.references(engine, "study", sid) == {}
    for rid in (processed["id"], waiting["id"]):
        assert factories.references(engine, "recording", rid) == {}
    [entry] = erase_entries(engine)
    assert (entry.action, entry.study_id) == ("erase_study", sid)
    engine.dispose()
    for name, content in sqlite_bytes(settings.data_dir).items():
        for text in (NOTE, COMMENT, CUE, "Étude CEP"):
            assert text.encode() not in content, (name, text)
    again = client.post("/api/v1/studies", json={"name": "Suite"}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] > sid


@pytest.mark.postgres
def test_nothing_of_an_erased_recording_remains_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, media_workers=0)
    migrate.upgrade(postgres_url)
    app = create_app(settings)
    engine = app.state.engine
    try:
        who = factories.account(engine, "claire", "researcher")
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            factories.login(client, who)
            study = client.post("/api/v1/studies", json={"name": "PG"}).json()
            recording = factories.processed(client, engine, settings, study["id"], "A8 - 1")
            assert recording["status"] == "ready", recording
            rid = recording["id"]
            original = original_of(engine, settings, rid)
            fill(client, recording)

            # Two erasures at once: one erases, the other finds nothing (row lock).
            with ThreadPoolExecutor(2) as pool:
                answers = list(
                    pool.map(lambda _: client.post(f"/api/v1/recordings/{rid}/erase"), range(2))
                )
            assert sorted(a.status_code for a in answers) == [200, 404], [a.text for a in answers]
            assert next(a for a in answers if a.status_code == 200).json()["annotations"] == 2

            assert_no_file_holds(tmp_path, original)
            assert not any(files_under(settings.media_dir / "recordings"))
            assert not any(files_under(settings.media_dir / "erasing"))
            assert factories.references(engine, "recording", rid) == {}
            [entry] = erase_entries(engine)
            assert (entry.action, entry.recording_id) == ("erase_recording", rid)
            again = client.post(f"/api/v1/recordings/{rid}/erase")
            assert again.status_code == 404
            assert again.json() == {"detail": f"Aucun enregistrement n° {rid}."}
            assert len(erase_entries(engine)) == 1
            later = factories.upload(client, study["id"], "A8 - 1")
            assert later.status_code == 201 and later.json()["id"] > rid
    finally:
        engine.dispose()
