"""Database engine and sessions; SQLite gets WAL, durable commits, foreign keys, a busy
timeout and secure deletion."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

# At most this many sessions are open at once (see autoconf.api.deps.get_session), so that a
# worker thread never waits for a pooled connection that a queued request holds.
POOL_SIZE = 20
POOL_OVERFLOW = 10
MAX_SESSIONS = POOL_SIZE + POOL_OVERFLOW


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
