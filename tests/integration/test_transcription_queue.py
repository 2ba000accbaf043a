"""The transcription queue over several processes: a model takes every core it is given, so
at most `transcribe_slots` jobs run at once over everything sharing the database, and claims
made together past the slots go back to the queue untouched (no model needed: the claim is
a matter of rows, on both passes' databases)."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.db import session_scope
from autoconf.media.jobs import take_oldest
from autoconf.models import TranscriptionJob
from autoconf.transcribe import jobs
from tests import factories


def queued(engine: Engine, client: TestClient, study: dict, count: int) -> list[int]:
    """`count` recordings, each with a transcription waiting; their jobs' ids."""
    ids = []
    for number in range(count):
        response = factories.upload(client, int(study["id"]), f"A{number} - 1")
        assert response.status_code == 201, response.text
        with session_scope(engine) as session:
            job = TranscriptionJob(recording_id=response.json()["id"])
            session.add(job)
            session.flush()
            ids.append(int(job.id or 0))
    return ids


def status(engine: Engine, job_id: int) -> tuple[str, str, int]:
    with session_scope(engine) as session:
        job = session.get(TranscriptionJob, job_id)
        assert job is not None
        return job.status, job.worker, job.attempts


def test_one_transcription_at_a_time_unless_more_slots_are_given(
    engine: Engine, rclient: TestClient, study: dict
) -> None:
    first, second, third = queued(engine, rclient, study, 3)
    assert jobs.claim(engine, "server-1", 60) == first
    # Another process finds the slot taken: the second job waits.
    assert jobs.claim(engine, "server-2", 60) is None
    assert status(engine, second) == ("queued", "", 0)
    # With two slots it runs beside the first; a third still waits.
    assert jobs.claim(engine, "server-2", 60, slots=2) == second
    assert jobs.claim(engine, "server-3", 60, slots=2) is None
    # The first one ends: its slot is free again.
    with session_scope(engine) as session:
        job = session.get(TranscriptionJob, first)
        assert job is not None
        job.status, job.finished_at = "done", datetime.now(UTC)
        session.add(job)
    assert jobs.claim(engine, "server-3", 60, slots=2) == third
    assert status(engine, third) == ("running", "server-3", 1)


def test_claims_made_together_past_the_slots_go_back_untouched(
    engine: Engine, rclient: TestClient, study: dict
) -> None:
    first, second = queued(engine, rclient, study, 2)
    # Both processes saw no job running, then each took one.
    with session_scope(engine) as session:
        taken = take_oldest(session, TranscriptionJob, "server-1", "audio")
        assert taken is not None and taken[0] == first
    with session_scope(engine) as session:
        taken = take_oldest(session, TranscriptionJob, "server-2", "audio")
        assert taken is not None and taken[0] == second
    # Each checks the order of claims: the later one gives its job back, attempt uncounted.
    assert jobs._within_slots(engine, second, "server-2", 1) is False
    assert jobs._within_slots(engine, first, "server-1", 1) is True
    assert status(engine, second) == ("queued", "", 0)
    assert status(engine, first) == ("running", "server-1", 1)
    # A silent worker's job does not hold the slot: it is queued again, then claimed.
    with session_scope(engine) as session:
        job = session.get(TranscriptionJob, first)
        assert job is not None
        job.heartbeat_at = datetime(2020, 1, 1, tzinfo=UTC)
        session.add(job)
    assert jobs.claim(engine, "server-2", 60) == first
    assert status(engine, first) == ("running", "server-2", 2)
    assert status(engine, second) == ("queued", "", 0)
