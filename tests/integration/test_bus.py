"""The bus between app processes, on each transport: what one publishes reaches the
others' subscribers (not its own twice); while deaf, the media grants trust nothing."""

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from autoconf import migrate
from autoconf.api.media import MediaFiles, MediaGrants
from autoconf.bus import GRANTS, LIVE, Bus, make_bus
from autoconf.db import Writer, make_engine
from autoconf.live.hub import FALLBACK_POLL_SECONDS, POLL_SECONDS, LiveHub
from tests.support import fresh_postgres, wait_for

pytestmark = pytest.mark.once  # each transport chooses its own database

REDIS_URL = os.environ.get("AUTOCONF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Bus, Bus]]:
    """Two processes' buses on one database (each with its own engine, as two processes)."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres())
        else:
            url = f"sqlite:///{tmp_path / 'autoconf.sqlite3'}"
        migrate.upgrade(url)
        buses = []
        for _ in range(2):
            engine = make_engine(url)
            stack.callback(engine.dispose)
            bus = make_bus(engine, Writer(engine), REDIS_URL if request.param == "redis" else "")
            bus.start()
            stack.callback(bus.stop)
            buses.append(bus)
        wait_for(lambda: all(b.listening for b in buses), 10, "both buses listening")
        yield buses[0], buses[1]


def _collect(bus: Bus, topic: str) -> list[str]:
    heard: list[str] = []
    bus.subscribe(topic, heard.append)
    return heard


def test_what_one_process_publishes_the_others_hear_once(pair: tuple[Bus, Bus]) -> None:
    one, other = pair
    mine, theirs = _collect(one, GRANTS), _collect(other, GRANTS)
    live = _collect(other, LIVE)
    one.publish(GRANTS, "recording:7")
    assert mine == ["recording:7"]  # here, before publish returns
    wait_for(lambda: theirs == ["recording:7"], 5, "the other process hearing it")
    other.publish(LIVE)
    other.publish(GRANTS, "all")
    wait_for(lambda: mine == ["recording:7", "all"], 5, "the answer")
    assert live == [""] and theirs == ["recording:7", "all"]  # its own, once: not echoed


def test_a_deaf_bus_leaves_no_grant_to_trust(tmp_path: Path) -> None:
    """A bus that lost its transport: grants neither kept nor given from memory; when it
    hears again, those from before are gone (a removal may have been missed meanwhile)."""

    class Deaf(Bus):
        def _listen(self) -> None:
            if hearing.is_set():
                self._heard()
                self._stop.wait()
            raise ConnectionError("no server")

        def _send(self, topic: str, message: str) -> None:
            pass

    hearing = threading.Event()
    hearing.set()
    bus = Deaf()
    grants = MediaGrants(bus=bus)
    files = MediaFiles("A1", "ready", "recordings/1/proxy.mp4", "video", {})
    bus.start()
    try:
        wait_for(lambda: bus.listening, 5, "listening")
        grants.remember("api:t", 1, files)
        assert grants.get("api:t", 1) is files
        hearing.clear()
        bus._stop.set()  # the connection drops: the listener's loop starts again, deaf
        bus._stop.clear()
        wait_for(lambda: not bus.listening, 5, "deaf")
        assert grants.get("api:t", 1) is None
        grants.remember("api:t", 2, files)
        assert grants.get("api:t", 2) is None
    finally:
        bus.stop()


def test_the_live_follower_polls_only_as_a_fallback_when_events_are_pushed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'autoconf.sqlite3'}"
    migrate.upgrade(url)
    engine: Engine = make_engine(url)
    try:
        pushing = make_bus(engine, Writer(engine), REDIS_URL)
        hub = LiveHub(engine, bus=pushing)
        assert hub._wait_seconds() == POLL_SECONDS  # not started: nobody hears yet
        pushing.start()
        wait_for(lambda: pushing._listening.is_set(), 5, "listening")
        assert hub._wait_seconds() == FALLBACK_POLL_SECONDS
        pushing.stop()
        polled = LiveHub(engine, bus=make_bus(engine, Writer(engine)))
        assert polled._wait_seconds() == POLL_SECONDS
    finally:
        engine.dispose()
