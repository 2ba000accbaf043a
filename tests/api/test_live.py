"""Live sessions through the API: start, join by code, the shared playhead followed and
driven through WebSockets by two browsers (TestClient's), and who may."""

import html
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.websockets import WebSocketDisconnect

from autoconf.models import Interview, InterviewRecording, LiveSession
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
    other = factories.PageClient(app)
    factories.login(other, live["counsellor"])
    joined = other.get(f"/api/v1/live/code/{code.lower()}")
    assert joined.status_code == 200 and joined.json()["id"] == live["id"]
    url = f"/api/v1/live/{live['id']}/ws"
    with rclient.websocket_connect(url) as researcher, other.websocket_connect(url) as counsellor:
        first = researcher.receive_json()
        assert first["type"] == "state" and first["playing"] is False and first["position_ms"] == 0
        assert first["played"] is False  # the big button reads "Lecture"
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
        joined_again = again.receive_json()
        assert joined_again["seq"] == state["seq"] and joined_again["played"] is True


def test_who_may_start_join_and_follow(
    engine: Engine,
    app,
    rclient: TestClient,
    study: dict,
    live: dict,  # type: ignore[no-untyped-def]
) -> None:
    stranger = factories.PageClient(app)
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
    anonymous = factories.PageClient(app)
    with (
        pytest.raises(WebSocketDisconnect),
        anonymous.websocket_connect(f"/api/v1/live/{live['id']}/ws") as socket,
    ):
        socket.receive_json()
    counsellor = factories.PageClient(app)
    factories.login(counsellor, live["counsellor"])
    refused = counsellor.post(f"/api/v1/recordings/{live['recording']['id']}/live")
    assert refused.status_code == 403
    unknown = rclient.get("/api/v1/live/code/ZZZZZZ")
    assert unknown.status_code == 404 and "code" in unknown.json()["detail"]


def _interview_of(engine: Engine, recording_id: int) -> Interview | None:
    with Session(engine) as session:
        return session.exec(
            select(Interview)
            .join(InterviewRecording)
            .where(InterviewRecording.recording_id == recording_id)
        ).first()


def _sessions_on(engine: Engine, recording_id: int) -> list[LiveSession]:
    with Session(engine) as session:
        query = select(LiveSession).where(LiveSession.recording_id == recording_id)
        return list(session.exec(query).all())


def test_a_recording_in_no_interview_gets_one_for_its_counsellor(
    rclient: TestClient,
    study: dict,
    engine: Engine,
    app,  # type: ignore[no-untyped-def]
) -> None:
    sid = study["id"]
    counsellor, counsellor_id = factories.counsellor_member(engine, rclient, sid, "c3", "C3")
    first = factories.upload(rclient, sid, "C3 - 1", counsellor_id=counsellor_id).json()
    started = rclient.post(f"/api/v1/recordings/{first['id']}/live")
    assert started.status_code == 201, started.text
    made = _interview_of(engine, first["id"])
    assert made is not None and made.code == "C3 - 1" and made.counsellor_id == counsellor_id
    assert rclient.get(f"/api/v1/interviews/{made.id}/report").json()["rows"] == []
    # The counsellor's own interview: they join with the code.
    them = factories.PageClient(app)
    factories.login(them, counsellor)
    assert them.get(f"/api/v1/live/code/{started.json()['code']}").status_code == 200
    # The recording's code is taken by another interview: the counsellor's code.
    taken = rclient.post(
        f"/api/v1/studies/{sid}/interviews", json={"code": "C3 - 2", "recording_ids": []}
    )
    assert taken.status_code == 201, taken.text
    second = factories.upload(rclient, sid, "C3 - 2", counsellor_id=counsellor_id).json()
    assert rclient.post(f"/api/v1/recordings/{second['id']}/live").status_code == 201
    made = _interview_of(engine, second["id"])
    assert made is not None and made.code == "C3"
    # Both taken, and the study's pattern refuses a numbered code: it says so, before any
    # code is given, and the page leads to where interviews are made.
    settings = rclient.patch(
        f"/api/v1/studies/{sid}", json={"code_pattern": r"C\d+( - \d+)?", "code_example": "C3"}
    )
    assert settings.status_code == 200, settings.text
    rclient.post(f"/api/v1/studies/{sid}/interviews", json={"code": "C3 - 3", "recording_ids": []})
    third = factories.upload(rclient, sid, "C3 - 3", counsellor_id=counsellor_id).json()
    refused = rclient.post(f"/api/v1/recordings/{third['id']}/live")
    assert refused.status_code == 422
    assert "motif des codes" in refused.json()["detail"]
    assert "Aucun code de séance n'a été donné" in refused.json()["detail"]
    page = rclient.post(
        f"/recordings/{third['id']}/live", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 422
    assert f'href="/studies/{sid}/admin#entretiens"' in page.text
    assert _sessions_on(engine, third["id"]) == [] and _interview_of(engine, third["id"]) is None
    # Without the pattern, a numbered code.
    rclient.patch(f"/api/v1/studies/{sid}", json={"code_pattern": ""})
    assert rclient.post(f"/api/v1/recordings/{third['id']}/live").status_code == 201
    made = _interview_of(engine, third["id"])
    assert made is not None and made.code == "C3 - 3 (2)"


def test_a_recording_without_counsellor_is_refused_before_any_code(
    rclient: TestClient, study: dict, engine: Engine
) -> None:
    sid = study["id"]
    rec = factories.upload(rclient, sid, "D1").json()
    refused = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "« D1 » n'a pas de conseiller" in detail and "administration de l'étude" in detail
    assert "code" not in refused.json() and "id" not in refused.json()
    # The page: the message, and a link to where the counsellor is set.
    page = rclient.post(
        f"/recordings/{rec['id']}/live", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "La séance en direct ne peut pas commencer" in text
    assert "« D1 » n'a pas de conseiller" in text
    assert f'href="/recordings/{rec["id"]}#conseiller"' in text
    assert "Indiquer le conseiller de l'enregistrement" in text
    # Nothing was made: no session, no code, no interview.
    assert _sessions_on(engine, rec["id"]) == [] and _interview_of(engine, rec["id"]) is None

    # The recording's page is where its counsellor is chosen (they are added in the
    # administration); then the session starts, its interview made for that counsellor.
    recording_page = html.unescape(rclient.get(f"/recordings/{rec['id']}").text)
    assert 'id="conseiller"' in recording_page and f'href="/studies/{sid}/admin#conseillers"' in (
        recording_page
    )
    assert "Sans conseiller, pas d'auto-confrontation en direct." in recording_page
    _, counsellor_id = factories.counsellor_member(engine, rclient, sid, "d1", "D1")
    assert (
        f'<option value="{counsellor_id}">D1</option>'
        in rclient.get(f"/recordings/{rec['id']}").text
    )
    wrong = rclient.post(
        f"/recordings/{rec['id']}/counsellor",
        data={"counsellor_id": "abc"},
        headers={"accept": "text/html"},
    )
    assert wrong.status_code == 422 and "Conseiller inconnu" in html.unescape(wrong.text)
    chosen = rclient.post(
        f"/recordings/{rec['id']}/counsellor",
        data={"counsellor_id": str(counsellor_id)},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/recordings/{rec['id']}#conseiller"
    assert rclient.get(f"/api/v1/recordings/{rec['id']}").json()["counsellor_id"] == counsellor_id
    started = rclient.post(f"/recordings/{rec['id']}/live", follow_redirects=False)
    assert started.status_code == 303
    interview = _interview_of(engine, rec["id"])
    assert interview is not None and interview.counsellor_id == counsellor_id
    # Now in an interview, its counsellor is the interview's: no choice on the page any more.
    later = html.unescape(rclient.get(f"/recordings/{rec['id']}").text)
    assert "data-counsellor-form" not in later
    assert f"(celui de l'entretien {interview.code})" in later
    moved = rclient.post(
        f"/recordings/{rec['id']}/counsellor",
        data={"counsellor_id": ""},
        headers={"accept": "text/html"},
    )
    assert moved.status_code == 409 and "fait partie de l'entretien" in html.unescape(moved.text)
