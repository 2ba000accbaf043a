"""Two app processes on one database: a browser on each follows the same live session (its
playhead, its stops, their comments), because the events go through the database."""

import json
from pathlib import Path

import httpx2 as httpx
from websockets.sync.client import connect

from tests.support import researcher_token, start_server, stop_server


def _socket_url(base: str, session_id: int) -> str:
    return base.replace("http://", "ws://") + f"/api/v1/live/{session_id}/ws"


def _next(socket, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while True:
        message = json.loads(socket.recv(timeout=10))
        if message["type"] == kind:
            return message


def test_two_processes_share_the_playhead(tmp_path: Path) -> None:
    headers = researcher_token(tmp_path)
    first = start_server(tmp_path)
    second = start_server(tmp_path, {"AUTOCONF_MEDIA_WORKERS": "0"})
    try:
        media = Path(__file__).parents[2] / "autoconf" / "demo" / "seance-demo.mp4"
        study = httpx.post(
            f"{first.url}/api/v1/studies", json={"name": "S"}, headers=headers
        ).json()
        counsellor = httpx.post(
            f"{first.url}/api/v1/studies/{study['id']}/counsellors",
            json={"code": "A8"},
            headers=headers,
        ).json()
        recording = httpx.post(
            f"{first.url}/api/v1/studies/{study['id']}/recordings",
            headers=headers,
            data={"code": "A8 - 1", "counsellor_id": str(counsellor["id"])},
            files={"file": ("a.mp4", media.read_bytes(), "video/mp4")},
        ).json()
        # Its interview is made at the start (the recording has its counsellor).
        started = httpx.post(
            f"{first.url}/api/v1/recordings/{recording['id']}/live", headers=headers
        )
        assert started.status_code == 201, started.text
        live = started.json()
        auth = {"Authorization": headers["Authorization"]}
        with (
            connect(_socket_url(first.url, live["id"]), additional_headers=auth) as one,
            connect(_socket_url(second.url, live["id"]), additional_headers=auth) as two,
        ):
            assert _next(one, "state")["playing"] is False
            assert _next(two, "state")["playing"] is False
            one.send(json.dumps({"type": "seek", "position_ms": 30_000}))
            assert _next(two, "seek")["position_ms"] == 30_000
            two.send(json.dumps({"type": "play"}))
            played = _next(one, "play")
            assert played["playing"] is True and played["position_ms"] == 30_000
            # A stop on one process, a comment through the other: both screens get both.
            one.send(json.dumps({"type": "stop", "position_ms": 31_000}))
            stop = _next(two, "stop")["stop"]
            assert stop["position_ms"] == 31_000 and stop["role"] == "researcher"
            typed = httpx.post(
                f"{second.url}/api/v1/live/stops/{stop['id']}/comments",
                json={"speaker": "counsellor", "text": "Là, je reformule."},
                headers=headers,
            )
            assert typed.status_code == 201, typed.text
            assert _next(one, "comment")["comment"]["text"] == "Là, je reformule."
    finally:
        stop_server(second)
        stop_server(first)
