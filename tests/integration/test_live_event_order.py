"""The live event stream skips nothing when ids commit out of order (PostgreSQL: a
transaction may commit id 8 after another committed id 9), and does not wait forever for an
id that never comes (a transaction rolled back)."""

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from autoconf import migrate
from autoconf.db import make_engine
from autoconf.live.hub import LiveHub
from autoconf.models import LiveEvent, LiveSession, Recording, Study


def _event(session: Session, live_id: int, seq: int) -> int:
    event = LiveEvent(session_id=live_id, seq=seq, kind="seek", payload={"position_ms": seq})
    session.add(event)
    session.flush()
    assert event.id is not None
    return event.id


def _live_session(engine: Engine) -> tuple[int, int]:
    """A live session on a new study's recording, and the id of its first event."""
    with Session(engine) as session:
        study = Study(name="S")
        session.add(study)
        session.flush()
        recording = Recording(study_id=study.id or 0, code="A1")
        session.add(recording)
        session.flush()
        live = LiveSession(study_id=study.id or 0, recording_id=recording.id or 0, code="ABC234")
        session.add(live)
        session.flush()
        first = _event(session, live.id or 0, 1)
        session.commit()
        return live.id or 0, first


@pytest.mark.postgres
def test_an_event_committed_late_is_not_skipped(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        live_id, first = _live_session(engine)
        hub = LiveHub(engine, gap_seconds=0.5)
        slow, fast = Session(engine), Session(engine)
        try:
            late = _event(slow, live_id, 2)  # its id is taken, its commit comes later
            early = _event(fast, live_id, 3)
            fast.commit()
            assert early == late + 1
            last, rows = hub._fetch(first, [live_id])
            assert (last, rows) == (first, [])  # waits for `late` rather than skipping it
            slow.commit()
            last, rows = hub._fetch(first, [live_id])
            assert last == early and [row[0] for row in rows] == [late, early]
            # An id that never comes (rolled back) is waited for a moment only.
            _event(slow, live_id, 4)
            slow.rollback()
            after = _event(fast, live_id, 5)
            fast.commit()
            assert hub._fetch(last, [live_id]) == (last, [])
            time.sleep(0.6)
            last, rows = hub._fetch(last, [live_id])
            assert last == after and [row[0] for row in rows] == [after]
            # Another session's events are read past, not handed over.
            other = _event(fast, live_id, 6)
            fast.commit()
            assert hub._fetch(last, [live_id + 1]) == (other, [])
        finally:
            slow.close()
            fast.close()
    finally:
        engine.dispose()


def test_the_first_subscriber_gets_what_follows_its_state(tmp_path: Path) -> None:
    """The hub's first read ("from now") races the subscriber's own read of its state: an
    event written between the two (the subscriber's arrival) still reaches it."""
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        live_id, state = _live_session(engine)
        hub = LiveHub(engine, poll_seconds=0.05)
        reading, written = threading.Event(), threading.Event()
        fetch = hub._fetch

        def slow_fetch(after_id: int | None, session_ids: list[int]) -> tuple[int, list[Any]]:
            if after_id is None:  # the first read: the arrival is written meanwhile
                reading.set()
                written.wait(5)
            return fetch(after_id, session_ids)

        hub._fetch = slow_fetch  # type: ignore[method-assign]

        async def arrive() -> dict[str, Any]:
            queue = hub.subscribe(live_id)
            await asyncio.to_thread(reading.wait, 5)
            hub.follow_from(state)  # the subscriber's state: up to `state`
            with Session(engine) as session:
                _event(session, live_id, 2)  # its arrival, after its state
                session.commit()
            written.set()
            try:
                return await asyncio.wait_for(queue.get(), 5)
            finally:
                hub.unsubscribe(live_id, queue)
                await hub.stop()

        event = asyncio.run(arrive())
        assert event["seq"] == 2
    finally:
        engine.dispose()
