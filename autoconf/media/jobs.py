"""Media jobs persisted in the database: queued, claimed by a worker thread (in the server
or in `autoconf worker`), heartbeat and progress written as ffmpeg runs, requeued when their
worker died, stopped when cancelled or when their recording is deleted.

A job is claimed with a conditional UPDATE (`… WHERE status = 'queued'`), so any number of
processes can share one database. A running job whose heartbeat is older than
AUTOCONF_JOB_STALE_SECONDS belonged to a worker that died: it is queued again, at most
MAX_ATTEMPTS times (a file that kills its worker must not loop forever).
"""

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, Update, update
from sqlmodel import Session, col, select

from autoconf.db import session_scope
from autoconf.errors import Conflict, DomainError
from autoconf.media.pipeline import Processed, clear_derived, process, stage_label
from autoconf.media.runner import FFmpeg, Stopped
from autoconf.media.storage import remove_stale_uploads, remove_tree
from autoconf.models import MediaJob, Recording
from autoconf.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
IDLE_POLL_S = 1.0
MAX_ATTEMPTS = 3
SWEEP_EVERY_S = 3600  # abandoned resumable uploads
QUEUED_LABEL = "En attente de traitement"
UNEXPECTED = (
    "Erreur inattendue pendant le traitement ({kind}). Relancez-le ; si l'erreur revient, "
    "transmettez ce message à l'administrateur."
)


def _now() -> datetime:
    return datetime.now(UTC)


def worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


def enqueue(session: Session, recording: Recording) -> MediaJob:
    """Queue the processing of `recording` (again, for a retry); the caller commits."""
    job = session.exec(select(MediaJob).where(MediaJob.recording_id == recording.id)).first()
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
    job = session.exec(select(MediaJob).where(MediaJob.recording_id == recording.id)).first()
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


def claim(engine: Engine, worker: str, stale_s: float) -> int | None:
    """Take the oldest queued job for `worker` (first requeueing those of dead workers)."""
    with session_scope(engine) as session:
        _requeue_stale(session, stale_s)
    while True:
        with session_scope(engine) as session:
            first = session.exec(
                select(MediaJob.id, MediaJob.recording_id)
                .where(MediaJob.status == "queued")
                .order_by(col(MediaJob.id))
            ).first()
            if first is None:
                return None
            job_id, recording_id = first
            now = _now()
            taken = session.connection().execute(
                update(MediaJob)
                .where(col(MediaJob.id) == job_id, col(MediaJob.status) == "queued")
                .values(
                    status="running",
                    worker=worker,
                    heartbeat_at=now,
                    started_at=now,
                    attempts=MediaJob.attempts + 1,
                    stage="probe",
                    progress=0.0,
                )
            )
            if taken.rowcount == 1:
                session.connection().execute(
                    update(Recording)
                    .where(col(Recording.id) == recording_id)
                    .values(status="processing", error=None)
                )
                return job_id


def _requeue_stale(session: Session, stale_s: float) -> None:
    cutoff = _now() - timedelta(seconds=stale_s)
    stale = session.exec(
        select(MediaJob).where(MediaJob.status == "running", col(MediaJob.heartbeat_at) < cutoff)
    ).all()
    for job in stale:
        recording = session.get(Recording, job.recording_id)
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = "failed", _now()
            job.error = (
                f"Le traitement a été interrompu {job.attempts} fois (serveur arrêté ou "
                "manque de mémoire) ; il n'est plus relancé automatiquement."
            )
            if recording:
                recording.status, recording.error = "failed", job.error
        else:
            log.warning("media job %s of dead worker %s queued again", job.id, job.worker)
            job.status, job.worker = "queued", ""
            if recording:
                recording.status = "queued"
        session.add(job)
        if recording:
            session.add(recording)


class _Heartbeat:
    """Writes progress and heartbeat at most every HEARTBEAT_S; says stop when the job is
    no longer this worker's (cancelled, deleted, or requeued after a long stall)."""

    def __init__(self, engine: Engine, job_id: int, worker: str) -> None:
        self.engine, self.job_id, self.worker = engine, job_id, worker
        self.stage, self.fraction = "probe", 0.0
        self.last = 0.0
        self.lost = False

    def report(self, stage: str, fraction: float) -> None:
        self.stage, self.fraction = stage, fraction

    def should_stop(self) -> bool:
        if self.lost:
            return True
        if time.monotonic() - self.last >= HEARTBEAT_S:
            self.last = time.monotonic()
            with session_scope(self.engine) as session:
                kept = session.connection().execute(
                    self._mine().values(
                        heartbeat_at=_now(),
                        stage=self.stage,
                        progress=round(self.fraction * 100, 1),
                    )
                )
            self.lost = kept.rowcount == 0
        return self.lost

    def _mine(self) -> Update:
        return update(MediaJob).where(
            col(MediaJob.id) == self.job_id,
            col(MediaJob.status) == "running",
            col(MediaJob.worker) == self.worker,
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


def run_job(engine: Engine, settings: Settings, runner: FFmpeg, job_id: int, worker: str) -> None:
    """Process the recording of a claimed job and record the outcome."""
    with session_scope(engine) as session:
        job = session.get(MediaJob, job_id)
        recording = session.get(Recording, job.recording_id) if job else None
        if job is None or recording is None:
            return
        recording_id, original = recording.id, settings.media_dir / recording.storage_key
        name = recording.original_filename
    beat = _Heartbeat(engine, job_id, worker)
    try:
        result = process(
            runner, settings.ffprobe_binary, original, beat.report, beat.should_stop, name
        )
    except Stopped:
        _abandon(engine, recording_id, original.parent)
        return
    except DomainError as error:  # MediaError, or ffmpeg missing: a message for the user
        _fail(engine, beat, recording_id, str(error))
        return
    except Exception as error:
        log.exception("media job %s failed", job_id)
        _fail(engine, beat, recording_id, UNEXPECTED.format(kind=type(error).__name__))
        return
    with session_scope(engine) as session:
        if beat.finish(session, "done"):
            _record(session, recording_id, result, original)
        else:
            session.commit()
            _abandon(engine, recording_id, original.parent)


def _record(session: Session, recording_id: int | None, result: Processed, original: Path) -> None:
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


def _fail(engine: Engine, beat: _Heartbeat, recording_id: int | None, message: str) -> None:
    with session_scope(engine) as session:
        if beat.finish(session, "failed", message):
            recording = session.get(Recording, recording_id)
            if recording is not None:
                recording.status, recording.error = "failed", message
                recording.proxy_key = ""
                session.add(recording)


def _abandon(engine: Engine, recording_id: int | None, folder: Path) -> None:
    """The job was taken away: remove what it wrote, or the whole folder when the
    recording itself is gone."""
    with Session(engine) as session:
        exists = session.get(Recording, recording_id) is not None
    if exists:
        clear_derived(folder)
    else:
        remove_tree(folder.parent, folder.name)


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
                target=self._loop, args=(worker_name(index),), name=f"media-{index}", daemon=True
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

    def _loop(self, worker: str) -> None:
        next_sweep = 0.0
        while not self._stop.is_set():
            if worker.endswith(":0") and time.monotonic() > next_sweep:
                next_sweep = time.monotonic() + SWEEP_EVERY_S
                removed = remove_stale_uploads(self.settings.media_dir)
                if removed:
                    log.info("removed %s abandoned uploads", removed)
            try:
                job_id = claim(self.engine, worker, self.settings.job_stale_seconds)
            except Exception:
                log.exception("claiming a media job failed")
                job_id = None
            if job_id is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            run_job(self.engine, self.settings, self.runner, job_id, worker)


def run_until_idle(engine: Engine, settings: Settings) -> int:
    """Run queued jobs in this thread until none is left; the number run (demo, tests,
    `autoconf worker --until-idle`)."""
    runner = FFmpeg.create(settings.ffmpeg_binary, settings.media_timeout_seconds, 1)
    worker = worker_name()
    count = 0
    while (job_id := claim(engine, worker, settings.job_stale_seconds)) is not None:
        run_job(engine, settings, runner, job_id, worker)
        count += 1
    return count
