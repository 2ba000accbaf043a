"""Transcription jobs: queued by a researcher, claimed by a worker thread (in the server or
in `autoconf worker`) like media jobs (`autoconf.media.jobs`: conditional claim, heartbeat,
progress, cancel, requeued when their worker died). A model uses every core it is given, so
at most `transcribe_slots` jobs run at once over every process sharing the database (one by
default), and one per process.

A job reads the recording's browser-ready file (from the local folder, or from the object
store by a presigned address), decodes its sound, runs the model, splits the words into
speaker turns and, if the job is still its worker's, replaces the recording's draft.
"""

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from autoconf.db import session_scope
from autoconf.errors import Conflict, DomainError
from autoconf.i18n import N_
from autoconf.i18n import gettext as _
from autoconf.media.jobs import Heartbeat, take_oldest, worker_name
from autoconf.media.runner import FFmpeg, Stopped
from autoconf.media.store import store_for
from autoconf.models import Recording, TranscriptionJob
from autoconf.settings import Settings
from autoconf.transcribe import audio, model, recognise, turns
from autoconf.transcribe.drafts import replace_draft

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # a recording that kills its worker (memory) is not tried forever
STAGES = {
    "audio": N_("Lecture du son"),
    "model": N_("Chargement du modèle"),
    "speech": N_("Reconnaissance de la parole"),
    "turns": N_("Tours de parole"),
}
STATUS_LABELS = {
    "queued": N_("En attente"),
    "done": N_("Terminée"),
    "failed": N_("Échec"),
    "cancelled": N_("Arrêtée"),
}
SPEAKERS = {  # who opens the recording first, then the other
    "session": ("Conseillère", "Bénéficiaire"),
    "autoconfrontation": ("Chercheur", "Conseillère"),
}
UNEXPECTED = (
    "Erreur inattendue pendant la transcription ({kind}). Relancez-la ; si l'erreur revient, "
    "transmettez ce message à l'administrateur."
)


def _now() -> datetime:
    return datetime.now(UTC)


def job_of(session: Session, recording_id: int | None) -> TranscriptionJob | None:
    return session.exec(
        select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
    ).first()


def enqueue(
    session: Session, recording: Recording, user_id: int | None, settings: Settings
) -> TranscriptionJob:
    """Queue the transcription of `recording` (again: the new draft will replace the
    current one); the caller commits. Refused, in French, when it cannot run here, when the
    recording is not processed yet, or when one is already under way."""
    if why := model.unavailable(settings):
        raise model.TranscriptionUnavailable(why)
    if recording.status != "ready" or not recording.proxy_key:
        raise Conflict(
            _(
                "L'enregistrement doit d'abord être traité (versions de lecture) avant "
                "d'être transcrit."
            )
        )
    job = job_of(session, recording.id)
    if job is not None and job.status in ("queued", "running"):
        raise Conflict(_("La transcription de cet enregistrement est déjà en cours."))
    job = job or TranscriptionJob(recording_id=recording.id or 0)
    job.status, job.stage, job.progress, job.error = "queued", "", 0.0, None
    job.attempts, job.worker, job.heartbeat_at, job.finished_at = 0, "", None, None
    job.requested_by, job.model, job.created_at = user_id, "", _now()
    session.add(job)
    session.flush()
    return job


def cancel(session: Session, recording_id: int | None) -> None:
    """Stop the transcription: its worker sees it within a second; the draft as it was
    stays."""
    job = job_of(session, recording_id)
    if job is None or job.status not in ("queued", "running"):
        raise Conflict(_("Aucune transcription en cours pour cet enregistrement."))
    job.status, job.finished_at = "cancelled", _now()
    session.add(job)


def label(job: TranscriptionJob) -> str:
    """The name of the step a running job is at, or of how it ended, in the language set."""
    if job.status == "running":
        return _(STAGES[job.stage]) if job.stage in STAGES else job.stage
    return _(STATUS_LABELS[job.status]) if job.status in STATUS_LABELS else job.status


def claim(engine: Engine, worker: str, stale_s: float, slots: int = 1) -> int | None:
    """Take the oldest queued job if fewer than `slots` run, first requeueing those whose
    worker went silent."""
    with session_scope(engine) as session:
        _requeue_dead(session, stale_s)
    while True:
        with session_scope(engine) as session:
            if len(_running(session)) >= slots:
                return None
            taken = take_oldest(session, TranscriptionJob, worker, "audio")
        if taken is None:
            return None
        if taken[0] is not None:
            return taken[0] if _within_slots(engine, taken[0], worker, slots) else None


def _running(session: Session) -> list[int]:
    """The running jobs, in the order they were claimed."""
    found = session.exec(
        select(TranscriptionJob.id)
        .where(TranscriptionJob.status == "running")
        .order_by(col(TranscriptionJob.started_at), col(TranscriptionJob.id))
    ).all()
    return [job_id for job_id in found if job_id is not None]


def _within_slots(engine: Engine, job_id: int, worker: str, slots: int) -> bool:
    """Whether a job just claimed keeps its slot. Processes that all saw a slot free claim
    together; each then sees the same order of claims, and the claims past the slots go
    back to the queue untouched (their attempt not counted)."""
    with session_scope(engine) as session:
        if job_id in _running(session)[:slots]:
            return True
        session.connection().execute(
            update(TranscriptionJob)
            .where(
                col(TranscriptionJob.id) == job_id,
                col(TranscriptionJob.status) == "running",
                col(TranscriptionJob.worker) == worker,
            )
            .values(
                status="queued",
                worker="",
                stage="",
                heartbeat_at=None,
                started_at=None,
                attempts=TranscriptionJob.attempts - 1,
            )
        )
    return False


def _requeue_dead(session: Session, stale_s: float) -> None:
    silent = _now() - timedelta(seconds=stale_s)
    for job in session.exec(
        select(TranscriptionJob).where(
            TranscriptionJob.status == "running", col(TranscriptionJob.heartbeat_at) < silent
        )
    ).all():
        as_read = update(TranscriptionJob).where(
            col(TranscriptionJob.id) == job.id,
            col(TranscriptionJob.status) == "running",
            col(TranscriptionJob.worker) == job.worker,
        )
        if job.attempts >= MAX_ATTEMPTS:
            error = (
                f"La transcription a été interrompue {job.attempts} fois (serveur arrêté ou "
                "manque de mémoire) ; elle n'est plus relancée automatiquement."
            )
            values: dict[str, Any] = {"status": "failed", "error": error, "finished_at": _now()}
        else:
            log.warning("transcription %s of dead worker %s queued again", job.id, job.worker)
            values = {"status": "queued", "worker": ""}
        session.connection().execute(as_read.values(**values))


def run_job(
    engine: Engine,
    settings: Settings,
    runner: FFmpeg,
    job_id: int,
    worker: str,
    shutdown: threading.Event | None = None,
) -> None:
    """Transcribe the recording of a claimed job and store the draft, if the job is still
    this worker's."""
    with session_scope(engine) as session:
        job = session.get(TranscriptionJob, job_id)
        recording = session.get(Recording, job.recording_id) if job else None
        if job is None or recording is None:
            return
        recording_id, key = recording.id, recording.proxy_key
        channels = _channels(recording.media_info)
        duration_s = (recording.duration_ms or 0) / 1000
        names = SPEAKERS.get(recording.category, SPEAKERS["session"])
    beat = Heartbeat(engine, job_id, worker, shutdown or threading.Event(), TranscriptionJob)
    found: list[turns.Turn] | None = None
    used = ""
    outcome: tuple[str, str | None] = ("done", None)
    try:
        beat.report("audio", 0.0)
        source = store_for(settings).source(key)
        sound = audio.decode(
            runner,
            source,
            channels,
            duration_s,
            lambda fraction: beat.report("audio", 0.05 * fraction),
            beat.should_stop,
        )
        beat.report("model", 0.05)
        if beat.should_stop():
            raise Stopped()
        loaded = model.load(settings)
        used = model.choice(settings).label
        segments = recognise.recognise(
            loaded,
            sound.samples,
            settings.transcribe_language,
            lambda fraction: beat.report("speech", 0.05 + 0.9 * fraction),
            beat.should_stop,
        )
        beat.report("turns", 0.95)
        found = turns.speaker_turns(segments, sound, names)
    except Stopped:
        outcome = ("stopped", None)
    except DomainError as error:  # the model missing, ffmpeg's refusal: said to the user
        outcome = ("failed", str(error))
    except Exception as error:
        log.exception("transcription job %s failed", job_id)
        outcome = ("failed", UNEXPECTED.format(kind=type(error).__name__))
    try:
        with session_scope(engine) as session:
            if outcome[0] == "stopped":
                if beat.shutdown.is_set() and not beat.lost:
                    beat.give_back(session, None)
                return
            if not beat.finish(session, *outcome):
                return  # cancelled or deleted meanwhile: the draft stays as it was
            if found is not None:
                replace_draft(session, recording_id, found)
                session.connection().execute(
                    update(TranscriptionJob)
                    .where(col(TranscriptionJob.id) == job_id)
                    .values(model=used)
                )
    except SQLAlchemyError:  # left without heartbeat, the job is queued again once stale
        log.exception("transcription job %s could not be concluded", job_id)


def _channels(media_info: dict[str, Any]) -> int:
    """The channels of the recording's sound, as the probe found them."""
    stream = media_info.get("audio")
    return int(stream.get("channels") or 1) if isinstance(stream, dict) else 1


class TranscriptionRunner:
    """One thread that claims and runs transcription jobs until stopped (only where the
    optional extra is installed)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.runner = FFmpeg.create(settings.ffmpeg_binary, settings.media_timeout_seconds, 1)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="transcribe", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        worker = worker_name(99)
        while not self._stop.is_set():
            try:
                job_id = claim(
                    self.engine,
                    worker,
                    self.settings.job_stale_seconds,
                    self.settings.transcribe_slots,
                )
            except Exception:
                log.exception("claiming a transcription job failed")
                job_id = None
            if job_id is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                run_job(self.engine, self.settings, self.runner, job_id, worker, self._stop)
            except Exception:
                log.exception("transcription job %s could not be concluded", job_id)


def run_until_idle(engine: Engine, settings: Settings) -> int:
    """Run queued transcriptions in this thread until none is left; how many (tests,
    `autoconf worker --until-idle`)."""
    runner = FFmpeg.create(settings.ffmpeg_binary, settings.media_timeout_seconds, 1)
    worker = worker_name(99)
    count = 0
    slots = settings.transcribe_slots
    while (job_id := claim(engine, worker, settings.job_stale_seconds, slots)) is not None:
        run_job(engine, settings, runner, job_id, worker)
        count += 1
    return count
