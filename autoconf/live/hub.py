"""The live event stream delivered to the browsers connected to this process.

Events are rows of `live_event`, written by whichever process received the control. Each
process follows the table (only while someone is connected, the new events by id) and hands
the followed sessions' ones to its subscribers; a write made by any process `poke`s the
followers: this process's at once, the others' through the bus (`autoconf.bus`: PostgreSQL's
LISTEN/NOTIFY or Redis), so that they read it then. With such a bus the follower polls only
as a fallback (every FALLBACK_POLL_SECONDS, or every POLL_SECONDS while the bus is deaf); on
SQLite, whose processes share no push, it polls every POLL_SECONDS (50 ms). So two browsers
on two app processes see the same stream.

Ids are given at insert and seen at commit: on PostgreSQL a transaction may commit id 8
after another committed id 9. A follower that sees a hole in the ids waits for it (up to
`GAP_SECONDS`, after which it was a transaction rolled back, or events deleted), so that
no event is skipped.
"""

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import Session

from autoconf.bus import LIVE, Bus
from autoconf.db import Writer
from autoconf.live import presence, sessions

log = logging.getLogger(__name__)
POLL_SECONDS = 0.05
FALLBACK_POLL_SECONDS = 1.0
GAP_SECONDS = 2.0

Event = dict[str, Any]


def _deliver(queue: "asyncio.Queue[Event]", event: Event) -> None:
    """Queue the event; a browser too far behind (it stopped reading) is told to start again
    from the state instead of missing events silently."""
    if not queue.full():
        queue.put_nowait(event)
        return
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait({"type": "resync"})


class LiveHub:
    def __init__(
        self,
        engine: Engine,
        writer: Writer | None = None,
        poll_seconds: float = POLL_SECONDS,
        gap_seconds: float = GAP_SECONDS,
        bus: Bus | None = None,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.bus = bus or Bus()
        self.bus.subscribe(LIVE, lambda _message: self._wake())
        self.bus.on_reset(self._wake)  # events may have been announced meanwhile
        self.gap_seconds = gap_seconds
        self.gap: tuple[int, float] | None = None  # the missing id waited for, since when
        self.writer = writer or Writer(engine)
        # This process's connections (presence rows), refreshed together every few seconds.
        self.present: set[str] = set()
        self.touched_at = time.monotonic()
        # Each queue with the event loop it belongs to: delivered through that loop, so a
        # subscriber on another loop (another thread) is woken up too.
        self.subscribers: dict[int, dict[asyncio.Queue[Event], asyncio.AbstractEventLoop]] = {}
        self.last_id: int | None = None
        self.task: asyncio.Task[None] | None = None
        self.wake: asyncio.Event | None = None

    def subscribe(self, session_id: int) -> "asyncio.Queue[Event]":
        """A queue of the session's events from now on (subscribe, then read the state: an
        event in between is in both, and the browser skips what its state already has)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1000)
        self.subscribers.setdefault(session_id, {})[queue] = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop().is_closed():
            self.wake = asyncio.Event()
            self.task = asyncio.get_running_loop().create_task(self._run())
        return queue

    def here(self, presence_id: str) -> None:
        self.present.add(presence_id)

    def gone(self, presence_id: str) -> None:
        self.present.discard(presence_id)

    def poke(self) -> None:
        """An event was just written (committed) by this process: its followers here read
        it now, and those of the other processes when the bus tells them (a bus that pushes;
        on SQLite they poll every POLL_SECONDS anyway)."""
        if self.bus.pushes:
            self.bus.publish(LIVE)  # also delivered here, at once
        else:
            self._wake()

    def _wait_seconds(self) -> float:
        """Between two reads: a fallback when the bus pushes every event, else the poll."""
        if self.bus.pushes and self.bus.started and self.bus.listening:
            return max(self.poll_seconds, FALLBACK_POLL_SECONDS)
        return self.poll_seconds

    def _wake(self) -> None:
        if self.wake is not None and self.task is not None and not self.task.done():
            loop = self.task.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.wake.set)

    def follow_from(self, event_id: int) -> None:
        """Deliver every event after `event_id` (read with a subscriber's state): the first
        poll must not skip what happened between that read and its own."""
        if self.last_id is None or self.last_id > event_id:
            self.last_id = event_id

    def unsubscribe(self, session_id: int, queue: "asyncio.Queue[Event]") -> None:
        queues = self.subscribers.get(session_id)
        if queues is not None:
            queues.pop(queue, None)
            if not queues:
                del self.subscribers[session_id]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def _fetch(self, after_id: int | None, session_ids: list[int]) -> tuple[int, list[Any]]:
        """The followed sessions' events after `after_id`, up to the first hole in the ids
        still worth waiting for, and the id to follow from next."""
        with Session(self.engine) as session:
            if after_id is None:  # nobody told where to start: from now
                return sessions.last_event_id(session), []
            rows = sessions.events_after(session, None, after_id)
        followed = set(session_ids)
        last, found = after_id, []
        for row in rows:
            if row[0] != last + 1 and not self._gap_over(last + 1):
                break
            last = row[0]
            if row[1] in followed:
                found.append(row)
        return last, found

    def _gap_over(self, missing: int) -> bool:
        """Whether to stop waiting for event `missing` (a commit may still bring it)."""
        now = time.monotonic()
        if self.gap is None or self.gap[0] != missing:
            self.gap = (missing, now)
        if now - self.gap[1] < self.gap_seconds:
            return False
        self.gap = None
        return True

    async def _run(self) -> None:
        assert self.wake is not None
        while self.subscribers:
            self.wake.clear()  # a poke from now on wakes the wait below
            try:
                ids = list(self.subscribers)
                started = self.last_id
                last, rows = await anyio.to_thread.run_sync(self._fetch, started, ids)
                if started is None and self.last_id is not None:
                    # Read "from now" while a new subscriber said where to start: from there
                    # (an event written between the two, its own arrival, was skipped).
                    last = min(last, self.last_id)
                self.last_id = last
                for event_id, session_id, seq, kind, payload in rows:
                    event = {"type": kind, "event_id": event_id, **payload, "seq": seq}
                    for queue, loop in list(self.subscribers.get(session_id, {}).items()):
                        loop.call_soon_threadsafe(_deliver, queue, event)
            except Exception:  # the database restarting: keep following
                log.exception("live events could not be read; retrying")
            if time.monotonic() - self.touched_at > presence.TOUCH_SECONDS:
                self.touched_at = time.monotonic()
                try:
                    await self._touch()
                except Exception:  # the database restarting: next time
                    log.exception("live presence could not be refreshed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self._wait_seconds())
        # Nobody follows: the next subscriber says where to start (not from here, which
        # would hand it every event written in between).
        self.last_id = None

    async def _touch(self) -> None:
        """One write for all of this process's connections (not one per connection: under
        SQLite's single writer, 100 sockets each writing every 10 s made bursts of latency)."""
        await anyio.to_thread.run_sync(
            partial(self.writer.run, self._touch_rows, list(self.present))
        )
        self.poke()  # stale connections dropped: their presence events

    def _touch_rows(self, presence_ids: list[str]) -> None:
        with Session(self.engine) as session:
            presence.touch(session, presence_ids)
            session.commit()
