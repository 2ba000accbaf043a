"""The users of bench/team_load.py, for locust (not a benchmark by itself).

The run's accounts and objects come from the JSON file named by AUTOCONF_TEAM_SETUP
(written by team_load.py): researchers' tokens, the study, recordings and their annotations
URL, live sessions. Four kinds of users, at human pace:

- Browsing (50): the studies, a study, a recording's page, its annotations, the synthesis.
- Annotating (20): on their own recording, create a segment, change it, delete it now and
  then, reading the list between (a coder at work: one action every 2-5 s).
- Streaming (20): a video played at 2 Mbit/s: a 1 MiB Range every 4 s, seeking now and then.
- Live (10): 5 sessions, a researcher driving the playhead (seek, play, pause every 3-6 s)
  and the counsellor following on another socket; each control's round trip to the other
  socket is reported as "WS live control" (its time, from send to the follower's receipt).
"""

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, User, between, events, task

SETUP: dict[str, Any] = json.loads(Path(os.environ["AUTOCONF_TEAM_SETUP"]).read_text())
_counters = {"annotating": iter(range(1_000_000)), "live": iter(range(1_000_000))}
_lock = threading.Lock()
# Every request's (kind, name, milliseconds, failed), written when locust quits: the
# benchmark computes its percentiles over them (locust's CSV has them per name only).
_times: list[tuple[str, str, float, bool]] = []


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, exception: Any, **_: Any) -> None:
    _times.append((request_type, name, response_time, exception is not None))


@events.quitting.add_listener
def _dump(**_: Any) -> None:
    Path(os.environ["AUTOCONF_TEAM_TIMES"]).write_text(json.dumps(_times))


def _next(kind: str) -> int:
    with _lock:
        return next(_counters[kind])


class Browsing(HttpUser):
    weight = 50
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.client.headers.update(random.choice(SETUP["researchers"]))

    @task(3)
    def studies(self) -> None:
        self.client.get("/api/v1/studies")

    @task(3)
    def recording(self) -> None:
        recording = random.choice(SETUP["recordings"])
        self.client.get(f"/api/v1/recordings/{recording}", name="/api/v1/recordings/{id}")
        self.client.get(
            f"/api/v1/recordings/{recording}/annotations",
            name="/api/v1/recordings/{id}/annotations",
        )

    @task(2)
    def page(self) -> None:
        recording = random.choice(SETUP["recordings"])
        self.client.get(f"/recordings/{recording}", name="/recordings/{id} (page)")

    @task(1)
    def synthesis(self) -> None:
        self.client.get(
            f"/api/v1/studies/{SETUP['study']}/synthesis", name="/api/v1/studies/{id}/synthesis"
        )


class Annotating(HttpUser):
    weight = 20
    wait_time = between(2, 5)

    def on_start(self) -> None:
        number = _next("annotating")
        self.client.headers.update(SETUP["researchers"][number % len(SETUP["researchers"])])
        self.recording = SETUP["recordings"][number % len(SETUP["recordings"])]
        self.mine: list[dict[str, Any]] = []

    @task(4)
    def create(self) -> None:
        start = random.randrange(0, 120_000)
        made = self.client.post(
            f"/api/v1/recordings/{self.recording}/annotations",
            json={"start_ms": start, "end_ms": start + 3_000, "code_ids": [SETUP["scheme"]]},
            name="/api/v1/recordings/{id}/annotations (create)",
        )
        if made.status_code == 201:
            self.mine.append(made.json())

    @task(2)
    def change(self) -> None:
        if not self.mine:
            return
        segment = self.mine[-1]
        changed = self.client.patch(
            f"/api/v1/annotations/{segment['id']}",
            json={"version": segment["version"], "note": f"note {random.random():.3f}"},
            name="/api/v1/annotations/{id} (change)",
        )
        if changed.status_code == 200:
            self.mine[-1] = changed.json()

    @task(1)
    def delete(self) -> None:
        if len(self.mine) > 3:
            segment = self.mine.pop(0)
            self.client.delete(
                f"/api/v1/annotations/{segment['id']}?version={segment['version']}",
                name="/api/v1/annotations/{id} (delete)",
            )

    @task(3)
    def read(self) -> None:
        self.client.get(
            f"/api/v1/recordings/{self.recording}/annotations",
            name="/api/v1/recordings/{id}/annotations",
        )


class Streaming(HttpUser):
    weight = 20
    wait_time = between(3.8, 4.2)  # 1 MiB every 4 s: 2 Mbit/s

    def on_start(self) -> None:
        self.client.headers.update(random.choice(SETUP["researchers"]))
        self.recording = random.choice(SETUP["recordings"])
        self.offset = 0

    @task
    def play(self) -> None:
        size = SETUP["media_bytes"]
        if random.random() < 0.1 or self.offset >= size:
            self.offset = random.randrange(0, max(1, size - 1))  # a seek
        last = min(size, self.offset + 1024 * 1024) - 1
        self.client.get(
            f"/api/v1/recordings/{self.recording}/media",
            headers={"Range": f"bytes={self.offset}-{last}"},
            name="/api/v1/recordings/{id}/media (1 MiB)",
        )
        self.offset = last + 1


class Live(User):
    """One session's pair: the researcher's socket sends, the counsellor's receives."""

    weight = 10
    fixed_count = 5
    wait_time = between(3, 6)

    def on_start(self) -> None:
        # websocket-client: plain blocking sockets, which gevent (locust) makes cooperative.
        import websocket

        session = SETUP["live"][_next("live") % len(SETUP["live"])]
        url = (self.host or "").replace("http", "ws") + f"/api/v1/live/{session['id']}/ws"

        def connect(headers: dict[str, str]) -> Any:
            header = [f"{name}: {value}" for name, value in headers.items()]
            return websocket.create_connection(url, header=header, timeout=5)

        self.sender = connect(session["researcher"])
        self.follower = connect(session["counsellor"])
        for socket in (self.sender, self.follower):
            state = json.loads(socket.recv())
        self.playing = bool(state.get("playing"))

    def _await(self, socket: Any, kind: str, position: int) -> None:
        """Read `socket` until the event of this control (5 s at most: its timeout)."""
        while True:
            received = json.loads(socket.recv())
            if received.get("type") == "error":
                raise RuntimeError(f"refused: {received.get('detail')}")
            if received.get("type") == kind and (
                kind != "seek" or received.get("position_ms") == position
            ):
                self.playing = bool(received.get("playing"))
                return

    def on_stop(self) -> None:
        self.sender.close()
        self.follower.close()

    @task
    def control(self) -> None:
        # Seeks, and a play or a pause (whichever changes something) one time in three.
        kind = "seek" if random.random() < 2 / 3 else ("pause" if self.playing else "play")
        position = random.randrange(0, SETUP["duration_ms"])  # within the recording
        message: dict[str, Any] = {"type": kind}
        if kind == "seek":
            message["position_ms"] = position
        started = time.perf_counter()
        error = None
        try:
            self.sender.send(json.dumps(message))
            # The sender's own socket says whether the control was taken (an error is sent
            # to it alone, and the follower would wait for nothing), then the follower's.
            self._await(self.sender, kind, position)
            self._await(self.follower, kind, position)
        except Exception as exc:  # a refusal or a timeout: reported as a failure
            error = exc
        events.request.fire(
            request_type="WS",
            name="live control (sender → follower)",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )
