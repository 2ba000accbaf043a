"""Live sessions through the API: start, join by code, the shared playhead followed and
driven through WebSockets by two browsers (TestClient's), and who may."""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from tests import factories


@pytest.fixture
def live(rclient: TestClient, study: dict, engine: Engine) -> dict:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    rec = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    started = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert started.status_code == 201, started.text
    return {**started.json(), "counsellor": counsellor, "recording": rec}


def _receive(socket, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while True:
        message = socket.receive_json()
        if message["type"] == kind:
            return message


def test_two_browsers_share_one_playhead(
    rclient: TestClient,
    app,
    live: dict,  # type: ignore[no-untyped-def]
) -> None:
    code = live["code"]
    assert len(code) == 6 and code.isalnum() and code == code.upper()
    other = TestClient(app)
    factories.login(other, live["counsellor"])
    joined = other.get(f"/api/v1/live/code/{code.lower()}")
    assert joined.status_code == 200 and joined.json()["id"] == live["id"]
    url = f"/api/v1/live/{live['id']}/ws"
    with rclient.websocket_connect(url) as researcher, other.websocket_connect(url) as counsellor:
        first = researcher.receive_json()
        assert first["type"] == "state" and first["playing"] is False and first["position_ms"] == 0
        assert counsellor.receive_json()["type"] == "state"
        researcher.send_json({"type": "seek", "position_ms": 42_000})
        seek = _receive(counsellor, "seek")
        assert seek["position_ms"] == 42_000 and seek["playing"] is False
        counsellor.send_json({"type": "play"})
        play = _receive(researcher, "play")
        assert play["playing"] is True and play["position_ms"] == 42_000
        assert play["seq"] == seek["seq"] + 1
        time.sleep(0.3)
        counsellor.send_json({"type": "pause"})
        pause = _receive(researcher, "pause")
        assert pause["playing"] is False and 42_250 <= pause["position_ms"] <= 44_000
        researcher.send_json({"type": "rate", "rate": 1.5})
        assert _receive(counsellor, "rate")["rate"] == 1.5
        researcher.send_json({"type": "rate", "rate": 7})
        assert "Vitesse" in _receive(researcher, "error")["detail"]
        researcher.send_json({"type": "fly"})
        assert _receive(researcher, "error")["detail"] == "Message inconnu."
    # A late joiner (or a reload) starts where the playhead is.
    state = rclient.get(f"/api/v1/live/{live['id']}").json()
    assert state["position_ms"] == pause["position_ms"] and state["rate"] == 1.5
    with other.websocket_connect(url) as again:
        assert again.receive_json()["seq"] == state["seq"]


def test_who_may_start_join_and_follow(
    engine: Engine,
    app,
    rclient: TestClient,
    study: dict,
    live: dict,  # type: ignore[no-untyped-def]
) -> None:
    stranger = TestClient(app)
    factories.login(stranger, factories.account(engine, "ailleurs", "researcher"))
    assert stranger.get(f"/api/v1/live/code/{live['code']}").status_code == 404
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        stranger.websocket_connect(f"/api/v1/live/{live['id']}/ws") as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4403
    # Another site's page cannot use this browser's cookie.
    with (
        pytest.raises(WebSocketDisconnect) as foreign,
        rclient.websocket_connect(
            f"/api/v1/live/{live['id']}/ws", headers={"origin": "https://evil.example"}
        ) as socket,
    ):
        socket.receive_json()
    assert foreign.value.code == 4403
    anonymous = TestClient(app)
    with (
        pytest.raises(WebSocketDisconnect),
        anonymous.websocket_connect(f"/api/v1/live/{live['id']}/ws") as socket,
    ):
        socket.receive_json()
    counsellor = TestClient(app)
    factories.login(counsellor, live["counsellor"])
    refused = counsellor.post(f"/api/v1/recordings/{live['recording']['id']}/live")
    assert refused.status_code == 403
    unknown = rclient.get("/api/v1/live/code/ZZZZZZ")
    assert unknown.status_code == 404 and "code" in unknown.json()["detail"]
