"""The annotator's write path: SQLite's one writer, the policy's answers kept for one
transaction only, and a create sent twice at once."""

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session

from autoconf.db import Writer, make_engine
from autoconf.models import Membership, Recording, User
from autoconf.schemes import annotations
from autoconf.studies import access
from tests import factories
from tests.support import POSTGRES_URL


def _overlaps(writer: Writer) -> bool:
    """Whether two threads were ever inside `writer.run` at the same time."""
    inside: list[int] = []
    overlapped = threading.Event()

    def work() -> None:
        inside.append(1)
        if len(inside) > 1:
            overlapped.set()
        time.sleep(0.05)
        inside.pop()

    threads = [threading.Thread(target=writer.run, args=(work,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return overlapped.is_set()


def test_one_writer_at_a_time_on_sqlite_only(tmp_path: Path) -> None:
    assert not _overlaps(Writer(make_engine(f"sqlite:///{tmp_path / 'autoconf.sqlite3'}")))
    # PostgreSQL has row locks of its own: writers are not queued there.
    assert _overlaps(Writer(make_engine(POSTGRES_URL)))


def test_a_removed_member_is_refused_by_the_next_transaction(
    engine: Engine, rclient: TestClient, study: dict[str, object], researcher: factories.Account
) -> None:
    study_id = int(str(study["id"]))
    with Session(engine) as session:
        user = session.get(User, researcher.id)
        assert user is not None
        assert access.study_role(session, user, study_id) == "researcher"
        # Asked again in the same transaction: the answer is kept, not read again.
        with Session(engine) as other:
            other.execute(delete(Membership).where(Membership.user_id == researcher.id))
            other.commit()
        assert access.study_role(session, user, study_id) == "researcher"
        session.rollback()  # the transaction ends: what was kept goes with it
        assert access.study_role(session, user, study_id) is None
        assert not access.sees_everything(session, user, study_id)
        # What the session writes itself is read again at once, in the same transaction.
        session.add(Membership(study_id=study_id, user_id=researcher.id, role="counsellor"))
        session.flush()
        assert access.study_role(session, user, study_id) == "counsellor"


def test_the_same_create_sent_twice_at_once_makes_one(
    engine: Engine,
    rclient: TestClient,
    recording: dict[str, object],
    researcher: factories.Account,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        stored = session.get(Recording, recording["id"])
        assert stored is not None
        author = researcher.id
        given = {"start_ms": 1000, "note": "M", "origin": "prepared", "client_key": "k-1"}
        # Both checked before either is stored (the checks run outside the one writer).
        first = annotations.plan_annotation(session, stored, author, **given)
        second = annotations.plan_annotation(session, stored, author, **given)
        assert first.existing is None and second.existing is None
        made = annotations.insert_annotation(session, stored, first)
        again = annotations.insert_annotation(session, stored, second)
        session.commit()
        assert again.id == made.id
        listed = rclient.get(f"/api/v1/recordings/{recording['id']}/annotations").json()
        assert [a["id"] for a in listed if a["note"] == "M"] == [made.id]
