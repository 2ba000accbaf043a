"""Media jobs persisted in the database: queued, claimed by a worker thread (in the server
or in `autoconf worker`), heartbeat and progress written as ffmpeg runs, requeued when their
worker died, stopped when cancelled or when their recording is deleted.

A job is claimed with a conditional UPDATE (`… WHERE status = 'queued'`), so any number of
processes can share one database. A running job belonged to a worker that died when its
heartbeat is older than AUTOCONF_JOB_STALE_SECONDS, or, sooner, when it has been silent a
few seconds and no attempt's folder beside its original is locked (`media.attempts`: the
lock goes with the process, a killed server's job is taken up as soon as it restarts). It
is then queued again, at most MAX_ATTEMPTS times (a file that kills its worker must not loop
forever).
"""

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Engine, Update, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, col, select

from autoconf.db import session_scope
from autoconf.errors import Conflict, DomainError
from autoconf.media import attempts
from autoconf.media.orphans import collect_orphans
from autoconf.media.pipeline import (
    DERIVED_NAMES,
    Processed,
    clear_derived,
    install,
    process,
    stage_label,
)
from autoconf.media.runner import FFmpeg, Stopped
from autoconf.media.storage import remove_stale_uploads, remove_tree, sync_files
from autoconf.media.store import MissingObject, Store, store_for
from autoconf.models import MediaJob, Recording, TranscriptionJob
from autoconf.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
# Silent this long, a job whose attempt's folder is not locked has lost its worker (the
# margin covers the moment between the claim and the folder's creation).
DEAD_AFTER_S = 5 * HEARTBEAT_S
IDLE_POLL_S = 1.0
MAX_ATTEMPTS = 3
SWEEP_EVERY_S = 3600  # abandoned resumable uploads
FINAL_WRITE_ATTEMPTS = 5
WORK_PREFIX = attempts.PREFIX  # the folders of attempts, beside the original
QUEUED_LABEL = "En attente de traitement"
UNEXPECTED = (
    "Erreur inattendue pendant le traitement ({kind}). Relancez-le ; si l'erreur revient, "
    "transmettez ce message à l'administrateur."
)


def _now() -> datetime:
    return datetime.now(UTC)


def worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def job_of(session: Session, recording: Recording) -> MediaJob | None:
    """The processing job of `recording`, if it was ever queued."""
    return session.exec(select(MediaJob).where(MediaJob.recording_id == recording.id)).first()


def enqueue(session: Session, recording: Recording) -> MediaJob:
    """Queue the processing of `recording` (again, for a retry); the caller commits."""
    job = job_of(session, recording)
    if job is not None and job.status == "running":
        raise Conflict("Le traitement de cet enregistrement est déjà en cours.")
    job = job or MediaJob(recording_id=recording.id or 0)
    job.status, job.stage, job.progress, job.error = "queued", "", 0.0, None
    job.attempts, job.worker, job.heartbeat_at, job.finished_at = 0, "", None, None
    recording.status, recording.error = "queued", None
    session.add_all([job, recording])
    session.flush()
    return job


def cancel(session: Session, recording: Recording) -> None:
    """Stop the processing of `recording`: its worker sees it within a second and kills
    ffmpeg. The recording is left `failed`, ready to be processed again."""
    job = job_of(session, recording)
    if job is None or job.status not in ("queued", "running"):
        raise Conflict("Aucun traitement en cours pour cet enregistrement.")
    job.status, job.finished_at = "cancelled", _now()
    recording.status = "failed"
    recording.error = "Traitement arrêté à la demande. Relancez-le quand vous voulez."
    session.add_all([job, recording])


def jobs_by_recording(session: Session, recording_ids: list[int]) -> dict[int, MediaJob]:
    if not recording_ids:
        return {}
    found = session.exec(select(MediaJob).where(col(MediaJob.recording_id).in_(recording_ids)))
    return {job.recording_id: job for job in found}


def claim(engine: Engine, worker: str, stale_s: float, work_dir: Path | None = None) -> int | None:
    """Take the oldest queued job for `worker`, first requeueing those of dead workers
    (silent for `stale_s`; with `work_dir`, silent for DEAD_AFTER_S with no attempt under
    way in their recording's folder)."""
    with session_scope(engine) as session:
        _requeue_dead(session, stale_s, work_dir)
    while True:
        with session_scope(engine) as session:
            taken = take_oldest(session, MediaJob, worker, "probe")
            if taken is None:
                return None
            if taken[0] is None:
                continue  # another worker took it first
            session.connection().execute(
                update(Recording)
                .where(col(Recording.id) == taken[1])
                .values(status="processing", error=None)
            )
            return taken[0]


def take_oldest(
    session: Session, table: type[MediaJob] | type[TranscriptionJob], worker: str, stage: str
) -> tuple[int | None, int] | None:
    """Mark the oldest queued job of `table` running for `worker` (a conditional UPDATE:
    any number of processes may try at once): (its id, its recording's id); (None, …) when
    another worker took it first; None when none is queued."""
    first = session.exec(
        select(table.id, table.recording_id).where(table.status == "queued").order_by(col(table.id))
    ).first()
    if first is None:
        return None
    job_id, recording_id = first
    now = _now()
    taken = session.connection().execute(
        update(table)
        .where(col(table.id) == job_id, col(table.status) == "queued")
        .values(
            status="running",
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempts=table.attempts + 1,
            stage=stage,
            progress=0.0,
        )
    )
    return (job_id if taken.rowcount == 1 else None), recording_id


def _requeue_dead(session: Session, stale_s: float, work_dir: Path | None) -> None:
    now = _now()
    stale = now - timedelta(seconds=stale_s)
    silent = now - timedelta(seconds=min(stale_s, DEAD_AFTER_S) if work_dir else stale_s)
    found = session.exec(
        select(MediaJob, Recording.storage_key)
        .join(Recording, col(Recording.id) == MediaJob.recording_id)
        .where(MediaJob.status == "running", col(MediaJob.heartbeat_at) < silent)
    ).all()
    for job, key in found:
        beat = job.heartbeat_at
        if work_dir is not None and beat is not None and beat >= stale:
            if attempts.running((work_dir / key).parent) is not False:
                continue  # under way, or the locks cannot tell: wait for the heartbeat
            log.warning("media job %s: its worker %s is gone", job.id, job.worker)
        _requeue(session, job)


def _requeue(session: Session, job: MediaJob) -> None:
    """Queue again the job of a dead worker, or give it up after MAX_ATTEMPTS; only if it
    is still as read (its worker may have finished it meanwhile)."""
    as_read = update(MediaJob).where(
        col(MediaJob.id) == job.id,
        col(MediaJob.status) == "running",
        col(MediaJob.worker) == job.worker,
        col(MediaJob.attempts) == job.attempts,
    )
    recording = update(Recording).where(col(Recording.id) == job.recording_id)
    if job.attempts >= MAX_ATTEMPTS:
        error = (
            f"Le traitement a été interrompu {job.attempts} fois (serveur arrêté ou "
            "manque de mémoire) ; il n'est plus relancé automatiquement."
        )
        values: dict[str, Any] = {"status": "failed", "finished_at": _now(), "error": error}
        after = recording.values(status="failed", error=error)
    else:
        log.warning("media job %s of dead worker %s queued again", job.id, job.worker)
        values, after = {"status": "queued", "worker": ""}, recording.values(status="queued")
    if session.connection().execute(as_read.values(**values)).rowcount == 1:
        session.connection().execute(after)


class Heartbeat:
    """Writes progress and heartbeat at most every HEARTBEAT_S; says stop when the job is
    no longer this worker's (cancelled, deleted, or requeued after a long stall) or when
    the worker shuts down. `table`: the jobs' model (media jobs, or transcriptions, whose
    columns are the same)."""

    def __init__(
        self,
        engine: Engine,
        job_id: int,
        worker: str,
        shutdown: threading.Event,
        table: type[MediaJob] | type[TranscriptionJob] = MediaJob,
    ) -> None:
        self.engine, self.job_id, self.worker, self.shutdown = engine, job_id, worker, shutdown
        self.table = table
        self.stage, self.fraction = "probe", 0.0
        self.last = 0.0
        self.lost = False

    def report(self, stage: str, fraction: float) -> None:
        self.stage, self.fraction = stage, fraction

    def should_stop(self) -> bool:
        if self.lost or self.shutdown.is_set():
            return True
        if time.monotonic() - self.last >= HEARTBEAT_S:
            self.last = time.monotonic()
            values = {"heartbeat_at": _now(), "stage": self.stage}
            values["progress"] = round(self.fraction * 100, 1)
            try:
                with session_scope(self.engine) as session:
                    kept = session.connection().execute(self._mine().values(**values))
            except SQLAlchemyError as error:  # a busy database: try again next beat
                log.warning("heartbeat of job %s not written: %s", self.job_id, error)
                return False
            self.lost = kept.rowcount == 0
        return self.lost

    def _mine(self) -> Update:
        table = self.table
        return update(table).where(
            col(table.id) == self.job_id,
            col(table.status) == "running",
            col(table.worker) == self.worker,
        )

    def finish(self, session: Session, status: str, error: str | None = None) -> bool:
        """Close the job if it is still this worker's; False when it is not."""
        done = session.connection().execute(
            self._mine().values(
                status=status,
                error=error,
                finished_at=_now(),
                progress=100.0 if status == "done" else round(self.fraction * 100, 1),
            )
        )
        return done.rowcount == 1

    def give_back(self, session: Session, recording_id: int | None) -> None:
        """The worker shuts down: the job goes back to the queue at once, this attempt
        not counted, for the next worker (or this server once restarted); a media job's
        recording (`recording_id`) shows as queued again."""
        back = session.connection().execute(
            self._mine().values(status="queued", worker="", attempts=self.table.attempts - 1)
        )
        if back.rowcount == 1 and recording_id is not None:
            session.connection().execute(
                update(Recording).where(col(Recording.id) == recording_id).values(status="queued")
            )


def run_job(
    engine: Engine,
    settings: Settings,
    runner: FFmpeg,
    job_id: int,
    worker: str,
    shutdown: threading.Event | None = None,
) -> None:
    """Process the recording of a claimed job in a folder of its own, then put the files
    in place and record the outcome, if the job is still this worker's. With an object
    store, the original is first brought to a local work folder and the files made are sent
    to the store before the outcome is recorded."""
    store = store_for(settings)
    with session_scope(engine) as session:
        job = session.get(MediaJob, job_id)
        recording = session.get(Recording, job.recording_id) if job else None
        if job is None or recording is None:
            return
        recording_id, key = recording.id, recording.storage_key
        # Messages name the recording by its code: an uploaded file's name may hold a
        # person's name, and the error is shown to the recording's counsellor too.
        name = recording.code
    original = settings.work_dir / key  # the local store's file; a copy for an object store
    folder = original.parent
    remote = store.local_path(key) is None
    attempt = attempts.Attempt(folder)
    work = attempt.path
    beat = Heartbeat(engine, job_id, worker, shutdown or threading.Event())
    outcome: tuple[str, str | None] = ("done", None)
    result = None
    try:
        attempt.open()  # locked first: the folders of earlier attempts are not, if dead
        attempts.remove_abandoned(folder, settings.job_stale_seconds)
        if remote:
            beat.report("probe", 0.0)
            _bring(store, key, original)
        processed = process(
            runner, settings.ffprobe_binary, original, work, beat.report, beat.should_stop, name
        )
        if remote:
            send_derived(store, work, folder_key(key))  # before the outcome: a long send
        else:
            sync_files(work)  # outside the final transaction: a long proxy takes a while
        result = processed
    except Stopped:
        outcome = ("stopped", None)
    except DomainError as error:  # MediaError, or ffmpeg missing: a message for the user
        outcome = ("failed", str(error))
    except Exception as error:
        log.exception("media job %s failed", job_id)
        outcome = ("failed", UNEXPECTED.format(kind=type(error).__name__))

    def conclude() -> None:
        with session_scope(engine) as session:
            if outcome[0] == "stopped":
                if beat.shutdown.is_set() and not beat.lost:
                    beat.give_back(session, recording_id)
                return
            if not beat.finish(session, *outcome):
                return  # cancelled, deleted or given to another worker meanwhile
            if result is not None:
                if not remote:
                    install(work, folder)
                _record(session, recording_id, result)
            else:
                _fail(session, recording_id, outcome[1] or "")
                # A failed retry leaves no stale proxy behind.
                if remote:
                    clear_stored_derived(store, folder_key(key))
                else:
                    clear_derived(folder)

    try:
        _retrying(conclude)
    finally:
        attempt.close()
        gone = not _exists(engine, recording_id)
        if remote:
            original.unlink(missing_ok=True)  # the local copy: the store keeps the original
            with contextlib.suppress(OSError):
                folder.rmdir()  # unless another attempt works in it
            if gone:
                store.remove_prefix(folder_key(key))  # deleted meanwhile: what was sent
        elif gone and not folder.joinpath(original.name).exists():
            remove_tree(folder.parent, folder.name)  # the recording was deleted meanwhile


def folder_key(key: str) -> str:
    """The folder of an original's key (`recordings/<uuid>`), which its files share."""
    return str(PurePosixPath(key).parent)


def _bring(store: Store, key: str, original: Path) -> None:
    """The original from the object store to the local work folder."""
    try:
        store.fetch(key, original)
    except MissingObject:
        raise Conflict(
            "Le fichier original est introuvable dans le stockage des médias : il ne peut "
            "pas être traité."
        ) from None


def send_derived(store: Store, work: Path, folder: str) -> None:
    """The files of a finished attempt to the store, in the recording's folder, replacing
    those of an earlier attempt (the original stays)."""
    names = sorted(path.name for path in work.iterdir() if path.is_file())
    for name in names:
        store.put_file(work / name, f"{folder}/{name}")
    clear_stored_derived(store, folder, keep=frozenset(names))


def clear_stored_derived(store: Store, folder: str, keep: frozenset[str] = frozenset()) -> None:
    """Remove from the store the derived files of the folder but those in `keep`."""
    for key, _size in store.listing(folder):
        name = PurePosixPath(key).name
        derived = name in DERIVED_NAMES or (name.startswith("sprite-") and name.endswith(".jpg"))
        if derived and name not in keep:
            store.remove(key)


def _retrying(work: Callable[[], None]) -> None:
    """Run a final write, again while the database is busy (SQLite: a long writer)."""
    for attempt in range(FINAL_WRITE_ATTEMPTS):
        try:
            work()
            return
        except OperationalError:
            if attempt == FINAL_WRITE_ATTEMPTS - 1:
                raise
            time.sleep(1 + attempt)


def _exists(engine: Engine, recording_id: int | None) -> bool:
    with Session(engine) as session:
        return session.get(Recording, recording_id) is not None


def _record(session: Session, recording_id: int | None, result: Processed) -> None:
    recording = session.get(Recording, recording_id)
    if recording is None:
        return
    folder = Path(recording.storage_key).parent
    recording.status, recording.error = "ready", None
    recording.duration_ms = result.info.duration_ms
    recording.media_info = {
        **result.info.as_dict(),
        "proxy": {
            "remux_only": result.plan.remux_only,
            "copy_video": result.plan.copy_video,
            "copy_audio": result.plan.copy_audio,
            "reasons": list(result.plan.reasons),
        },
        "files": {
            "poster": result.poster,
            "thumbnails": result.thumbnails,
            "waveform": result.waveform,
        },
    }
    recording.proxy_key = str(folder / result.proxy)
    session.add(recording)


def _fail(session: Session, recording_id: int | None, message: str) -> None:
    recording = session.get(Recording, recording_id)
    if recording is not None:
        recording.status, recording.error = "failed", message
        recording.proxy_key = ""
        session.add(recording)


def label(job: MediaJob) -> str:
    """The French name of the step a job is at, for the page and the API."""
    return stage_label(job.stage) if job.status == "running" else QUEUED_LABEL


class JobRunner:
    """Worker threads that claim and run jobs until stopped (`workers` = concurrency cap)."""

    def __init__(self, engine: Engine, settings: Settings, workers: int) -> None:
        self.engine, self.settings, self.workers = engine, settings, workers
        self.runner = FFmpeg.create(
            settings.ffmpeg_binary, settings.media_timeout_seconds, max(1, workers)
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._loop, args=(index,), name=f"media-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _sweep(self) -> None:
        """Abandoned uploads, and the object store's folders no recording names."""
        removed = remove_stale_uploads(self.settings.work_dir)
        if removed:
            log.info("removed %s abandoned uploads", removed)
        try:
            with session_scope(self.engine) as session:
                collect_orphans(session, store_for(self.settings))
        except Exception:  # the store or the database is away: the next sweep tries again
            log.exception("collecting the media store's orphans failed")

    def _loop(self, index: int) -> None:
        worker = worker_name(index)
        next_sweep = 0.0
        while not self._stop.is_set():
            if index == 0 and time.monotonic() > next_sweep:  # one thread sweeps uploads
                next_sweep = time.monotonic() + SWEEP_EVERY_S
                self._sweep()
            try:
                job_id = claim(
                    self.engine, worker, self.settings.job_stale_seconds, self.settings.work_dir
                )
            except Exception:
                log.exception("claiming a media job failed")
                job_id = None
            if job_id is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            try:
                run_job(self.engine, self.settings, self.runner, job_id, worker, self._stop)
            except Exception:  # a database outage must not end the thread: the job,
                # left without heartbeat, is queued again once stale.
                log.exception("media job %s could not be concluded", job_id)


def run_until_idle(engine: Engine, settings: Settings) -> int:
    """Run queued jobs in this thread until none is left; the number run (demo, tests,
    `autoconf worker --until-idle`)."""
    runner = FFmpeg.create(settings.ffmpeg_binary, settings.media_timeout_seconds, 1)
    worker = worker_name()
    count = 0
    stale_s, work_dir = settings.job_stale_seconds, settings.work_dir
    while (job_id := claim(engine, worker, stale_s, work_dir)) is not None:
        run_job(engine, settings, runner, job_id, worker)
        count += 1
    return count
