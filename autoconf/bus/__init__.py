"""Signals between the app processes that share one database.

What one process changes in its own memory must reach the others: a media grant taken back
(a member removed, a consent withdrawn, a logout: `grants`), a live event written (`live`:
the followers read it now instead of at their next poll). `Bus.publish(topic, message)`
acts here at once (the subscribers of this process are called before it returns) and sends
the message to the other processes, whose subscribers are called when it arrives; never to
the sender again.

The transport follows the deployment: PostgreSQL's LISTEN/NOTIFY (`postgres_bus`), Redis
pub/sub when AUTOCONF_REDIS_URL is set (`redis_bus`), and on SQLite a table the processes
poll (`table_bus`), where LISTEN does not exist. `pushes` says whether messages arrive
pushed (the live followers then poll only as a fallback, every second). While a transport is
down, `listening` is false: a cache that relies on hearing about changes (the media
grants) must not be trusted then, and on its return `on_reset` handlers run, since
messages may have been missed.
"""

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from autoconf.db import Writer

log = logging.getLogger(__name__)

GRANTS = "grants"
LIVE = "live"
TOPICS = (GRANTS, LIVE)

Handler = Callable[[str], None]


class Bus:
    """This process alone: its own subscribers, nothing sent (also the base of the others,
    whose thread sends what is published and receives what the others publish)."""

    pushes = False

    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex  # this process: its own messages are not read back
        self._handlers: dict[str, list[Handler]] = {topic: [] for topic in TOPICS}
        self._resets: list[Callable[[], None]] = []
        self._outbox: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listening = threading.Event()
        self.started = False

    @property
    def listening(self) -> bool:
        """Whether messages from the other processes are heard now (always, for the bus of a
        process alone: there are none)."""
        return not self.started or self._listening.is_set()

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def on_reset(self, handler: Callable[[], None]) -> None:
        """`handler()` when the transport comes back (messages may have been lost)."""
        self._resets.append(handler)

    def publish(self, topic: str, message: str = "") -> None:
        """Act on `message` here now, and send it to the other processes (from this bus's
        thread: the caller, maybe the event loop, never waits for the network)."""
        self.deliver(topic, message)
        if self.started:
            self._outbox.put((topic, message))

    def deliver(self, topic: str, message: str) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                handler(message)
            except Exception:  # one subscriber failing must not silence the others
                log.exception("bus subscriber failed on %s", topic)

    def reset(self) -> None:
        for handler in list(self._resets):
            try:
                handler()
            except Exception:
                log.exception("bus reset handler failed")

    def start(self) -> None:
        """Start listening and sending (a no-op for a process alone)."""
        if self.started or type(self) is Bus:
            return
        self.started = True
        self._stop.clear()
        for target, name in ((self._listen_loop, "listen"), (self._send_loop, "send")):
            thread = threading.Thread(target=target, name=f"autoconf-bus-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._outbox.put(None)
        if self._listening.is_set():
            try:
                self._wake()
            except Exception as exc:  # the transport is down: the listener sees the flag later
                log.debug("bus: could not wake the listener (%s)", type(exc).__name__)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self.started = False
        self._listening.clear()

    # Transports implement these two.
    def _send(self, topic: str, message: str) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        """Make the listener's wait for a message end now (it then sees the stop flag);
        without it, stopping waits for the listener's next look at the flag."""

    def _listen(self) -> None:
        """Connect, then receive until stopped (returns) or the transport fails (raises);
        calls `self._heard()` once listening, `self._received(...)` per message."""
        raise NotImplementedError

    def _heard(self) -> None:
        """Listening from now on: what was missed before is unknown, hence the reset."""
        self._listening.set()
        self.reset()

    def _received(self, origin: str, topic: str, message: str) -> None:
        if origin != self.origin and topic in self._handlers:
            self.deliver(topic, message)

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:
                if self._listening.is_set():
                    log.warning("bus: lost the other processes (%s); retrying", type(exc).__name__)
            self._listening.clear()
            self._stop.wait(1.0)

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            for attempt in range(3):
                try:
                    self._send(*item)
                    break
                except Exception as exc:
                    log.warning("bus: could not send %s (%s)", item[0], type(exc).__name__)
                    time.sleep(0.2 * (attempt + 1))


def encode(origin: str, topic: str, message: str) -> str:
    return f"{origin}|{topic}|{message}"


def decode(payload: str) -> tuple[str, str, str] | None:
    parts = payload.split("|", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def make_bus(engine: "Engine", writer: "Writer", redis_url: str = "") -> Bus:
    """The bus of this deployment: Redis when configured, else the database's own."""
    if redis_url:
        from autoconf.bus.redis_bus import RedisBus

        return RedisBus(redis_url, f"autoconf:{engine.url.database or ''}")
    if engine.dialect.name == "postgresql":
        from autoconf.bus.postgres_bus import PostgresBus

        return PostgresBus(engine)
    from autoconf.bus.table_bus import TableBus

    return TableBus(engine, writer)
