"""The bus on SQLite: a message is a row of `process_signal`; every process polls for rows
newer than the last it read (a primary-key range, every POLL_SECONDS), and rows older than
KEEP go. Only processes on one machine share an SQLite file, so this is the whole
deployment's bus there."""

import time
from datetime import timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from autoconf.bus import Bus
from autoconf.db import Writer
from autoconf.models import ProcessSignal, utcnow

POLL_SECONDS = 0.1
KEEP = timedelta(seconds=60)
SWEEP_SECONDS = 30.0


class TableBus(Bus):
    def __init__(self, engine: Engine, writer: Writer) -> None:
        super().__init__()
        self.engine = engine
        self.writer = writer
        self.poll_seconds = POLL_SECONDS

    def _send(self, topic: str, message: str) -> None:
        def insert() -> None:
            with Session(self.engine) as session:
                session.add(ProcessSignal(origin=self.origin, topic=topic, message=message))
                session.commit()

        self.writer.run(insert)

    def _sweep(self) -> None:
        def remove() -> None:
            with Session(self.engine) as session:
                session.exec(
                    delete(ProcessSignal).where(col(ProcessSignal.created_at) < utcnow() - KEEP)
                )
                session.commit()

        self.writer.run(remove)

    def _listen(self) -> None:
        with Session(self.engine) as session:
            last = session.exec(select(func.max(ProcessSignal.id))).one() or 0
        self._heard()
        swept = time.monotonic()
        while not self._stop.wait(self.poll_seconds):
            with Session(self.engine) as session:
                rows = session.exec(
                    select(
                        ProcessSignal.id,
                        ProcessSignal.origin,
                        ProcessSignal.topic,
                        ProcessSignal.message,
                    )
                    .where(col(ProcessSignal.id) > last)
                    .order_by(col(ProcessSignal.id))
                ).all()
            for row_id, origin, topic, message in rows:
                last = row_id or last
                self._received(origin, topic, message)
            if time.monotonic() - swept > SWEEP_SECONDS:
                swept = time.monotonic()
                self._sweep()
