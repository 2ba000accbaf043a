"""No acknowledged write lost: a real `autoconf serve` killed with SIGKILL while 32 clients
write, and while a media job runs, then started again on the same data folder.

What a client was told (a 2xx) must be in the database after the restart, unchanged; a
write whose answer never came (in flight at the kill) may be there or not, but whole; the
database passes `integrity_check`; a job interrupted by the kill is taken up again at once
and the media URL never answers with part of a file.

Run with `-rA` to see the figures.
"""

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from autoconf import migrate
from autoconf.auth import accounts
from autoconf.db import make_engine, session_scope
from autoconf.media import attempts, jobs
from autoconf.media.store import store_for
from autoconf.models import MediaJob
from autoconf.settings import Settings
from autoconf.studies import recordings, service
from tests import factories
from tests.mediafiles import duration_s, ffmpeg_processes, slow_to_encode
from tests.support import (
    Server,
    free_port,
    start_server,
    stop_server,
    study_with_recording,
    upload_consented,
    wait_for,
)

DEMO = Path(__file__).parents[2] / "autoconf" / "demo" / "seance-demo.mp4"
CLIENTS = 32
KILL_AFTER_ACKS = 300  # writes acknowledged before the kill (at least)
KILL_AFTER_S = 2.0  # and at least this long under load

# Kills, WAL replays and file checks of SQLite itself; PostgreSQL's durability is its own.
pytestmark = pytest.mark.sqlite


def database(data: Path) -> Path:
    return data / "autoconf.sqlite3"


def researcher(data: Path) -> dict[str, str]:
    """A migrated database with one researcher (made here: three CLI processes would take
    seconds, and the server is what is tested); their API token as request headers."""
    data.mkdir(parents=True)
    url = f"sqlite:///{database(data)}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        return factories.token(engine, factories.account(engine, "claire", "researcher"))
    finally:
        engine.dispose()


def kill(server: Server) -> None:
    """SIGKILL: no shutdown handler, no last commit, no checkpoint."""
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)


def query(path: Path, sql: str) -> list[Any]:
    """Rows read without writing anything (no recovery checkpoint: the WAL stays for the
    server to replay)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return connection.execute(sql).fetchall()


def integrity(path: Path) -> tuple[str, list[Any]]:
    return query(path, "PRAGMA integrity_check")[0][0], query(path, "PRAGMA foreign_key_check")


def test_sqlite_commits_are_durable_by_settings(tmp_path: Path) -> None:
    """WAL and synchronous=FULL: a commit is on disk (fsync of the WAL) before it returns,
    so a power cut after an answer loses nothing either (NORMAL only survives a crash of
    the process)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()


# --- annotations written by 32 clients, the server killed under them -----------------------


def state(key: str, version: int, codes: list[int]) -> dict[str, Any]:
    """What an annotation holds at `version`: every field derived from it, so that a row
    mixing two writes (a half-applied edit) cannot look whole."""
    base = sum(map(ord, key)) % 1000 * 100
    return {
        "start_ms": base + version * 10,
        "end_ms": base + version * 10 + 1000 + version,
        "note": f"{key} v{version}",
        "speaker": "counsellor" if version % 2 else "researcher",
        "fields": {"but": f"but {key} v{version}", "regles": f"règle {version}"},
        "code_ids": sorted(codes[:2] if version % 2 else codes[2:3]),
    }


def stored(annotation: dict[str, Any]) -> dict[str, Any]:
    keys = ("start_ms", "end_ms", "note", "speaker", "fields", "code_ids")
    return {k: sorted(annotation[k]) if k == "code_ids" else annotation[k] for k in keys}


@dataclass
class Tracked:
    """One annotation as its client knows it: the last version acknowledged, and the
    version of an edit sent whose answer never came."""

    key: str
    id: int | None = None  # None: the create itself got no answer
    acked: int = 0  # 0: the create was never acknowledged
    in_flight: int | None = None


@dataclass
class Writer:
    """A client: creates annotations and edits its own (so no two clients race on one row,
    and a 409 or any error other than the kill is a failure)."""

    number: int
    url: str
    headers: dict[str, str]
    recording: int
    codes: list[int]
    acks: list[int]
    tracked: list[Tracked] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acked_creates: int = 0
    acked_edits: int = 0

    def run(self, stop: threading.Event) -> None:
        rng = random.Random(self.number)
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            while not stop.is_set():
                mine = [t for t in self.tracked if t.acked]
                if not mine or rng.random() < 0.5:
                    annotation = Tracked(f"w{self.number:02d}-{len(self.tracked):05d}")
                    self.tracked.append(annotation)
                else:
                    annotation = rng.choice(mine)
                    annotation.in_flight = annotation.acked + 1
                try:
                    self._send(http, annotation)
                except httpx.ConnectError:  # refused: the server is gone, nothing was sent
                    if annotation.id is None:
                        self.tracked.remove(annotation)
                    annotation.in_flight = None
                    return
                except httpx.TransportError:  # sent, no answer: in flight at the kill
                    return

    def _send(self, http: httpx.Client, annotation: Tracked) -> None:
        if annotation.id is None:
            body = {**state(annotation.key, 1, self.codes), "client_key": annotation.key}
            url = f"/api/v1/recordings/{self.recording}/annotations"
            response, expected, version = http.post(url, json=body), 201, 1
        else:
            version = annotation.acked + 1
            body = {**state(annotation.key, version, self.codes), "version": annotation.acked}
            url = f"/api/v1/annotations/{annotation.id}"
            response, expected = http.patch(url, json=body), 200
        if response.status_code != expected or response.json()["version"] != version:
            self.errors.append(f"{annotation.key}: {response.status_code} {response.text}")
            return
        annotation.id, annotation.acked, annotation.in_flight = response.json()["id"], version, None
        if version == 1:
            self.acked_creates += 1
        else:
            self.acked_edits += 1
        self.acks.append(1)


def test_every_acknowledged_annotation_write_survives_a_kill(
    tmp_path: Path, record_property: Any
) -> None:
    data = tmp_path / "data"
    headers = researcher(data)
    port = free_port()
    env = {"AUTOCONF_MEDIA_WORKERS": "0"}  # the recording need not play to be annotated
    server = start_server(data, env, port)
    try:
        study_id, recording = study_with_recording(server.url, headers)
        books = httpx.get(f"{server.url}/api/v1/studies/{study_id}/codebooks", headers=headers)
        codes = [c["id"] for c in next(b for b in books.json() if b["kind"] == "schemes")["codes"]]
        acks: list[int] = []
        writers = [
            Writer(n, server.url, headers, recording, codes[:3], acks) for n in range(CLIENTS)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        wait_for(
            lambda: len(acks) >= KILL_AFTER_ACKS and time.monotonic() - started > KILL_AFTER_S,
            30,
            f"{KILL_AFTER_ACKS} acknowledged writes",
        )
        kill(server)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert not any(t.is_alive() for t in threads)
        assert not [e for w in writers for e in w.errors]
        tracked = [t for w in writers for t in w.tracked]

        check, orphans = integrity(database(data))  # as the kill left it, WAL included
        assert (check, orphans) == ("ok", [])

        server = start_server(data, env, port)
        listed = httpx.get(
            f"{server.url}/api/v1/recordings/{recording}/annotations", headers=headers
        )
        assert listed.status_code == 200
        found = {a["client_key"]: a for a in listed.json()}
    finally:
        if server.process.poll() is None:
            stop_server(server)

    creates_found = edits_found = in_flight_landed = 0
    for annotation in tracked:
        row = found.pop(annotation.key, None)
        if annotation.acked == 0:  # the create was in flight: there whole, or not at all
            if row is not None:
                assert row["version"] == 1, row
                assert stored(row) == state(annotation.key, 1, codes[:3]), row
                in_flight_landed += 1
            continue
        assert row is not None, f"acknowledged annotation {annotation.key} lost"
        assert row["id"] == annotation.id
        # The last version acknowledged, or the edit sent after it whose answer never came.
        allowed = {annotation.acked, annotation.in_flight or annotation.acked}
        assert row["version"] in allowed, (annotation, row)
        assert stored(row) == state(annotation.key, row["version"], codes[:3]), row
        creates_found += 1
        edits_found += annotation.acked - 1  # versions follow each other: all of them
        in_flight_landed += row["version"] != annotation.acked
    assert not found, f"annotations nobody wrote: {list(found)[:5]}"

    creates = sum(w.acked_creates for w in writers)
    edits = sum(w.acked_edits for w in writers)
    in_flight_creates = sum(1 for t in tracked if t.acked == 0)
    in_flight_edits = sum(1 for t in tracked if t.acked and t.in_flight)
    assert (creates_found, edits_found) == (creates, edits)
    assert in_flight_creates + in_flight_edits <= CLIENTS  # one request per client at most
    figures = {
        "acknowledged_writes": creates + edits,
        "acknowledged_creates": creates,
        "acknowledged_edits": edits,
        "acknowledged_found_after_restart": creates_found + edits_found,
        "in_flight_at_kill": in_flight_creates + in_flight_edits,
        "in_flight_creates": in_flight_creates,
        "in_flight_edits": in_flight_edits,
        "in_flight_found_applied": in_flight_landed,
    }
    for name, value in figures.items():
        record_property(name, value)
    print(
        f"\n{creates + edits} writes acknowledged ({creates} creates, {edits} edits), "
        f"{creates_found + edits_found} found after the restart; "
        f"{in_flight_creates + in_flight_edits} in flight at the kill ({in_flight_creates} "
        f"creates, {in_flight_edits} edits), {in_flight_landed} of them found applied, whole"
    )


# --- a media job under way when the server is killed ----------------------------------------


@dataclass
class MediaWatch:
    """Asks for the media URL every 100 ms for the whole test; keeps what each answer was."""

    headers: dict[str, str]
    path: str
    url: str = ""
    answers: list[tuple[int, int, str]] = field(default_factory=list)  # status, size, sha256

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.1):
            try:
                response = httpx.get(f"{self.url}{self.path}", headers=self.headers, timeout=30)
            except httpx.TransportError:  # the server is down (killed, restarting)
                continue
            body = response.content
            self.answers.append((response.status_code, len(body), hashlib.sha256(body).hexdigest()))


def test_a_media_job_killed_midway_completes_after_restart_and_no_partial_file_is_served(
    tmp_path: Path, record_property: Any
) -> None:
    data = tmp_path / "data"
    headers = researcher(data)
    source = slow_to_encode(tmp_path, seconds=15)  # ~3 s of H.264 encoding on 2 cores
    port = free_port()
    # The default AUTOCONF_JOB_STALE_SECONDS (120 s): a job of the killed server must be
    # taken up without waiting for its heartbeat to go stale.
    env = {"AUTOCONF_MEDIA_WORKERS": "1"}
    server = start_server(data, env, port)
    stop = threading.Event()
    watcher = None
    try:
        rid = upload_consented(server.url, headers, source, "A4")
        watch = MediaWatch(headers, f"/api/v1/recordings/{rid}/media", server.url)
        watcher = threading.Thread(target=watch.run, args=(stop,))
        watcher.start()

        def view() -> dict[str, Any]:
            answer: dict[str, Any] = httpx.get(
                f"{server.url}/api/v1/recordings/{rid}", headers=headers
            ).json()
            return answer

        folder = next((data / "media" / "recordings").iterdir())

        def transcoding() -> Path | None:
            # Under way: the proxy being written, part of it on disk, in a work folder.
            current = view()
            if current["status"] != "processing" or not 15 < current["progress"] < 80:
                return None
            partial = [p for p in folder.glob("work-*/proxy.mp4") if p.stat().st_size > 0]
            return partial[0] if partial else None

        partial = wait_for(transcoding, 60, "the transcode to be under way")
        assert ffmpeg_processes(data)
        kill(server)
        killed_at = time.monotonic()
        wait_for(lambda: not ffmpeg_processes(data), 5, "the orphan ffmpeg to die with it")
        assert partial.exists() and not (folder / "proxy.mp4").exists()
        half = partial.stat().st_size
        left = query(database(data), "SELECT status, attempts FROM media_job")
        assert left == [("running", 1)]  # as the dead worker left it

        server = start_server(data, env, port)
        restarted_at = time.monotonic()

        def taken_up() -> bool:
            ((status, attempts),) = query(database(data), "SELECT status, attempts FROM media_job")
            return bool(attempts == 2 or status != "running")

        wait_for(taken_up, 20, "the job of the killed server to be taken up again")
        taken_up_s = time.monotonic() - restarted_at

        def settled() -> dict[str, Any] | None:
            current = view()
            return current if current["status"] in ("ready", "failed") else None

        done = wait_for(settled, 60, "the job to finish after the restart")
        assert done["status"] == "ready", done["error"]
        ready_s = time.monotonic() - killed_at
        wait_for(lambda: [a for a in watch.answers if a[0] == 200], 10, "the media once ready")
        stop.set()
        watcher.join(40)
        whole = httpx.get(f"{server.url}/api/v1/recordings/{rid}/media", headers=headers)
        ranged = httpx.get(
            f"{server.url}/api/v1/recordings/{rid}/media",
            headers={**headers, "Range": "bytes=1000-"},
        )
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(40)
        if server.process.poll() is None:
            stop_server(server)

    proxy = folder / "proxy.mp4"
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("work-")) == []
    assert whole.status_code == 200 and whole.content == proxy.read_bytes()
    assert ranged.status_code == 206 and ranged.content == proxy.read_bytes()[1000:]
    assert duration_s(proxy) == pytest.approx(15, abs=0.2)
    assert proxy.stat().st_size > half
    complete = (200, len(whole.content), hashlib.sha256(whole.content).hexdigest())
    statuses = [a[0] for a in watch.answers]
    # Until the job was done, 409 (not ready) and nothing else; then the whole file only.
    first_ok = statuses.index(200)
    assert set(statuses[:first_ok]) == {409}, statuses
    assert set(watch.answers[first_ok:]) == {complete}
    assert query(database(data), "SELECT status, attempts, error FROM media_job") == [
        ("done", 2, None)
    ]
    assert integrity(database(data)) == ("ok", [])
    record_property("partial_proxy_bytes_at_kill", half)
    record_property("job_taken_up_after_restart_s", round(taken_up_s, 1))
    print(
        f"\nkilled with {half} bytes of proxy written; job taken up {taken_up_s:.1f} s after "
        f"the restart, ready {ready_s:.1f} s after the kill; {len(statuses)} media answers: "
        f"{statuses[:first_ok].count(409)} × 409 before ready, "
        f"{len(statuses) - first_ok} × the whole file ({len(whole.content)} bytes) after"
    )


def test_a_silent_job_is_taken_from_a_dead_worker_only(tmp_path: Path) -> None:
    """The rule behind the quick take-up: a job silent for a few seconds goes back to the
    queue only when no attempt's folder beside its original is locked (its worker alive,
    whatever its heartbeat says); a dead attempt's folder is removed, a live one's kept."""
    settings = Settings(data_dir=tmp_path / "data", media_workers=0)
    researcher(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            user = accounts.get_user(session, "claire")
            study = service.create_study(session, user, "S")
        new = recordings.NewRecording(study.id or 0, "A1", None, "a.mp4")
        with session_scope(engine) as session, DEMO.open("rb") as file:
            recording = recordings.create_recording(
                session, store_for(settings), 2**30, new, file, None
            )
        folder = (settings.media_dir / recording.storage_key).parent
        job_id = jobs.claim(engine, "elsewhere:1:0", 120, settings.media_dir)
        assert job_id is not None

        def silent(seconds: float) -> None:
            with session_scope(engine) as session:
                job = session.get(MediaJob, job_id)
                assert job is not None
                job.heartbeat_at = datetime.now(UTC) - timedelta(seconds=seconds)
                session.add(job)

        live = attempts.Attempt(folder)
        live.open()  # what the worker of "elsewhere" holds while it runs
        silent(30)  # its heartbeats not written (a busy database): alive all the same
        assert jobs.claim(engine, "here:2:0", 120, settings.media_dir) is None
        attempts.remove_abandoned(folder, 120)
        assert live.path.is_dir()

        live.close()
        dead = folder / f"{attempts.PREFIX}dead"  # a killed worker's, half a proxy in it
        dead.mkdir()
        (dead / "proxy.mp4").write_bytes(b"\0" * 1000)
        silent(2)  # a worker beats every second: not silent long enough yet
        assert jobs.claim(engine, "here:2:0", 120, settings.media_dir) is None
        silent(jobs.DEAD_AFTER_S + 1)
        assert jobs.claim(engine, "here:2:0", 120, None) is None  # heartbeat alone: wait
        assert jobs.claim(engine, "here:2:0", 120, settings.media_dir) == job_id
        with Session(engine) as session:
            job = session.get(MediaJob, job_id)
            assert job is not None and (job.worker, job.attempts) == ("here:2:0", 2)
        attempts.remove_abandoned(folder, 120)
        assert not dead.exists()
    finally:
        engine.dispose()
