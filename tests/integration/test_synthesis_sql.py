"""The synthesis's SQL (marks and counts in one GROUP BY, the phase rule in SQL) gives what
the computation over segments gives, on random coding, on SQLite and PostgreSQL."""

import random
from pathlib import Path

import pytest
from sqlmodel import Session

from autoconf import migrate
from autoconf.db import make_engine
from autoconf.models import Code, Recording, Study
from autoconf.schemes import annotations, codebooks, synthesis


def _check(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    rng = random.Random(11)
    try:
        with Session(engine) as session:
            study = Study(name="S")
            session.add(study)
            session.flush()
            assert study.id is not None
            codebooks.seed_default_codebooks(session, study.id)
            books = {
                book.kind: (book, nodes)
                for book, nodes in codebooks.list_codebooks(session, study.id)
            }
            schemes = [node.id for node in books["schemes"][1]]
            # Nest two schemes under the first, so parents aggregate children.
            book = books["schemes"][0]
            for child in schemes[1:3]:
                code = session.get(Code, child)
                assert code is not None
                codebooks.update_code(session, code, {"parent_id": schemes[0]})
            phases = [node.id for node in books["phases"][1]]
            recordings = []
            for number in range(6):
                recording = Recording(study_id=study.id, code=f"A{number}", duration_ms=600_000)
                session.add(recording)
                session.flush()
                recordings.append(recording)
            for recording in recordings:
                for _ in range(rng.randrange(0, 3)):
                    start = rng.randrange(0, 500_000, 1000)
                    end = start + rng.choice([0, 1000, 60_000])
                    annotations.create_annotation(
                        session, recording, None, start_ms=start, end_ms=end, code_ids=[phases[0]]
                    )
                for _ in range(40):
                    start = rng.randrange(0, 590_000, 1000)
                    end = None if rng.random() < 0.2 else start + rng.randrange(1000, 10_000, 1000)
                    codes = rng.sample(schemes, rng.choice([1, 1, 2]))
                    origin = rng.choice(["coding", "coding", "coding", "prepared"])
                    annotations.create_annotation(
                        session,
                        recording,
                        None,
                        start_ms=start,
                        end_ms=end,
                        code_ids=codes,
                        origin=origin,
                        shared=True if origin == "prepared" and rng.random() < 0.5 else None,
                    )
            session.flush()
            rows = synthesis.rows_of(codebooks.codebook_tree(session, book.id or 0))
            columns = synthesis.study_columns(session, study.id, None)
            ids = [column.recording_id for column in columns]
            codes = sorted({code for row in rows for code in row.members})
            segments = synthesis.coded_segments(session, codes, ids, None)
            phase_codes = frozenset({phases[0]})
            by_phase = synthesis.phase_intervals(session, phase_codes, ids)
            for value in ("mark", "count"):
                for scope, phase in ((None, None), (phase_codes, by_phase)):
                    in_sql = synthesis.counted(session, rows, columns, value, None, scope)
                    in_python = synthesis.compute(rows, columns, segments, value, phase)
                    assert in_sql == in_python, (value, scope)
            assert any(cell for line in in_sql for cell in line)  # not all empty
    finally:
        engine.dispose()


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 's.sqlite3'}")


@pytest.mark.postgres
def test_postgresql(postgres_url: str) -> None:
    _check(postgres_url)
