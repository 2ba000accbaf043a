"""The bus on PostgreSQL: NOTIFY on one channel, heard by a LISTEN connection of its own
(psycopg, autocommit), which each app process keeps open."""

import psycopg
from sqlalchemy import Engine, text

from autoconf.bus import Bus, decode, encode

CHANNEL = "autoconf"
WAIT_SECONDS = 0.5  # how often the listener looks at its stop flag


class PostgresBus(Bus):
    pushes = True

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        url = engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)

    def _send(self, topic: str, message: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": encode(self.origin, topic, message)},
            )

    def _wake(self) -> None:
        # An empty notice: every listener wakes and ignores it (it decodes to nothing).
        with self.engine.begin() as connection:
            connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    def _listen(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._heard()
            while not self._stop.is_set():
                for notice in connection.notifies(timeout=WAIT_SECONDS):
                    found = decode(notice.payload)
                    if found is not None:
                        self._received(*found)
                    if self._stop.is_set():  # woken to stop (`_wake`)
                        break
