"""Database engine and sessions; SQLite gets WAL, durable commits, foreign keys, a busy
timeout and secure deletion."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

# At most MAX_SESSIONS requests hold a session at once (see autoconf.api.deps.get_session),
# so that a worker thread never waits for a pooled connection that a queued request holds;
# the pool has BACKGROUND more for the work that takes none of those slots (the live hub's
# presence write, the media jobs' progress), which may hold SQLite's one writer
# (`Writer`) while every request's session waits for it.
POOL_SIZE = 20
MAX_SESSIONS = 30
BACKGROUND = 10
POOL_OVERFLOW = MAX_SESSIONS + BACKGROUND - POOL_SIZE
P = ParamSpec("P")
T = TypeVar("T")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is synced to disk at every commit, so an answered write outlives a power
    # cut too, as with PostgreSQL's default (NORMAL syncs at checkpoints only: it outlives
    # a killed process, not the machine stopping). It costs one fsync per write, a few ms
    # (bench/annotations_api.py; tests/test_durability.py kills the server mid-write).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # What is deleted is overwritten with zeros, not left readable in free space (erasure).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for SQLite, the folder is created and the pragmas set per connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def quick_lane_threads(engine: Engine) -> int:
    """How many of the annotator's short requests (`deps.in_one_step`) run at once.

    On SQLite, one: its reads take about a millisecond, its writes are one at a time anyway,
    and several threads only fought for the GIL, each of SQLite's calls handing it to another
    thread and waiting up to 5 ms to get it back; the writer held SQLite's lock the while
    (create p99 95 ms against 15-30 ms in one thread, 32 paced clients: bench/README.md).
    PostgreSQL's round trips wait on the network: a few overlap."""
    return 1 if is_sqlite(engine) else 4


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success, rolled back on error (CLI and background work)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class Writer:
    """SQLite's one writer at a time, in this process: a lock taken by the thread that writes,
    around its work and commit, and by nothing else (PostgreSQL needs none).

    Writers left to SQLite's busy handler sleep in steps of up to 100 ms. An asyncio lock
    taken on the event loop was no better under load: it is held across the loop's turns
    (the hand-over to the next waiter, the hop to a worker thread and back), each turn
    running every other request's next step, so that 32 clients made a queue of creates
    hundreds of ms long (bench/README.md). Held here, it lasts as long as the write itself.
    The holder needs nothing a waiter holds: a request's session and connection are its
    own (at most MAX_SESSIONS of them), work outside requests has BACKGROUND connections
    of its own, and no holder waits for the event loop.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock() if is_sqlite(engine) else None

    def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args, **kwargs)` as the one writer (call it in a worker thread)."""
        if self._lock is None:
            return work(*args, **kwargs)
        with self._lock:
            return work(*args, **kwargs)
