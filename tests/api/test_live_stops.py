"""A live session's stops as data, the comments typed there, the agenda of prepared moments,
presence, and the session report of the interview (with its own recording)."""

import csv
import html
import io
import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.websockets import WebSocketDisconnect

from autoconf.db import session_scope
from autoconf.models import Annotation, Interview, LiveStop
from autoconf.schemes.subtitles import read_cues
from autoconf.transcribe.drafts import replace_draft
from autoconf.transcribe.turns import Turn
from tests import factories

DEMO = Path(__file__).resolve().parents[2] / "autoconf" / "demo"
AC_AUDIO = Path(__file__).resolve().parents[1] / "data" / "autoconfrontation-demo.m4a"


def _csv(content: bytes) -> list[list[str]]:
    """The report's CSV as a spreadsheet reads it (a BOM, `;` or `,`, a `sep=` line)."""
    text = content.decode("utf-8-sig")
    if text.startswith("sep="):
        text = text.split("\n", 1)[1]
    dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=";,")
    return list(csv.reader(io.StringIO(text), dialect))


def _receive(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = socket.receive_json()
        if message["type"] == kind:
            return message


@pytest.fixture
def live(rclient: TestClient, study: dict, engine: Engine, app: Any) -> dict[str, Any]:
    """A live session on A8 - 1 (in interview A8), with the researcher's prepared moments at
    0'34 (shared) and 1'00 (private), the counsellor's shared one at 1'25, a private one of
    another researcher at 0'50, a scheme segment and the transcript."""
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    rec = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    factories.consent_all(rclient, rec["id"])  # the session report quotes it
    interview = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A8", "counsellor_id": counsellor_id, "recording_ids": [rec["id"]]},
    )
    assert interview.status_code == 201, interview.text
    url = factories.annotations_url(rec)
    ours = rclient.post(url, json={"start_ms": 34_000, "origin": "prepared", "note": "Reformule"})
    rclient.patch(f"/api/v1/annotations/{ours.json()['id']}", json={"version": 1, "shared": True})
    private = rclient.post(url, json={"start_ms": 60_000, "origin": "prepared", "note": "Pistes"})
    them = factories.PageClient(app)
    factories.login(them, counsellor)
    theirs = them.post(url, json={"start_ms": 85_000, "origin": "prepared", "note": "Le cadre"})
    them.patch(f"/api/v1/annotations/{theirs.json()['id']}", json={"version": 1, "shared": True})
    colleague = factories.PageClient(app)
    factories.login(colleague, factories.account(engine, "autre", "researcher"))
    rclient.post(
        f"/api/v1/studies/{study['id']}/members", json={"username": "autre", "role": "researcher"}
    )
    hidden = colleague.post(url, json={"start_ms": 50_000, "origin": "prepared", "note": "Caché"})
    assert hidden.status_code == 201
    schemes = factories.codes_by_path(rclient, study["id"], "schemes")
    scheme = schemes["Écouter / reformuler"]
    coded = rclient.post(url, json={"start_ms": 30_000, "end_ms": 41_000, "code_ids": [scheme]})
    assert coded.status_code == 201
    vtt = (DEMO / "seance-demo.vtt").read_bytes()
    imported = rclient.post(
        f"/api/v1/recordings/{rec['id']}/transcript", files={"file": ("s.vtt", vtt, "text/vtt")}
    )
    assert imported.status_code == 200, imported.text
    started = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert started.status_code == 201, started.text
    return {
        **started.json(),
        "counsellor": counsellor,
        "counsellor_client": them,
        "colleague": colleague,
        "recording": rec,
        "interview_id": interview.json()["id"],
        "prepared": {
            "ours": ours.json()["id"],
            "private": private.json()["id"],
            "theirs": theirs.json()["id"],
            "hidden": hidden.json()["id"],
        },
    }


def test_a_stop_is_an_annotation_with_who_when_and_how_long(
    rclient: TestClient, live: dict[str, Any], engine: Engine
) -> None:
    url = f"/api/v1/live/{live['id']}/ws"
    them = live["counsellor_client"]
    with rclient.websocket_connect(url) as researcher, them.websocket_connect(url) as counsellor:
        state = researcher.receive_json()
        assert state["role"] == "researcher" and state["log"]["stops"] == []
        agenda = {m["prepared_id"]: m for m in state["log"]["agenda"]}
        # Theirs (shared) and ours (shared or not) are there; a colleague's private one is not.
        prepared = live["prepared"]
        assert set(agenda) == {prepared["ours"], prepared["private"], prepared["theirs"]}
        assert [m["position_ms"] for m in state["log"]["agenda"]] == [34_000, 60_000, 85_000]
        assert all(m["status"] == "planned" for m in agenda.values())
        assert counsellor.receive_json()["role"] == "counsellor"
        # Bring up the moment at 0'34: playing from 0'29.
        researcher.send_json({"type": "goto", "prepared_id": prepared["ours"]})
        play = _receive(counsellor, "play")
        assert play["playing"] is True and play["position_ms"] == 29_000
        assert "agenda" not in play  # the counsellor's screen shows no agenda
        brought = _receive(researcher, "play")
        assert brought["agenda"] == {"prepared_id": prepared["ours"], "status": "brought_up"}
        time.sleep(0.2)
        counsellor.send_json({"type": "stop", "position_ms": 31_500})
        stopped = _receive(researcher, "stop")
        assert stopped["playing"] is False and stopped["position_ms"] == 31_500
        stop = stopped["stop"]
        assert stop["role"] == "counsellor" and stop["author"] == "a8"
        assert stop["prepared_id"] == prepared["ours"] and stop["pause_ms"] is None
        assert stopped["agenda"] == {"prepared_id": prepared["ours"], "status": "discussed"}
        assert _receive(counsellor, "stop")["stop"]["id"] == stop["id"]
        # Pressed again while stopped: the same stop.
        counsellor.send_json({"type": "stop"})
        assert _receive(researcher, "stop")["stop"]["id"] == stop["id"]
        time.sleep(0.3)
        researcher.send_json({"type": "play"})
        resumed = _receive(counsellor, "play")
        assert resumed["resumed"] == [stop["id"]]
        # A stop far from any prepared moment was added live.
        researcher.send_json({"type": "stop", "position_ms": 110_000})
        added = _receive(counsellor, "stop")["stop"]
        assert added["role"] == "researcher" and added["prepared_id"] is None
    with Session(engine) as session:
        annotation = session.get(Annotation, stop["id"])
        assert annotation is not None
        assert (annotation.layer, annotation.origin, annotation.start_ms) == (
            "stops",
            "stop",
            31_500,
        )
        row = session.get(LiveStop, stop["id"])
        assert row is not None and row.resumed_at is not None
        assert row.resumed_at - row.stopped_at >= timedelta(milliseconds=250)
    # The stop is an annotation of the recording, on the stops layer, by the counsellor.
    listed = rclient.get(factories.annotations_url(live["recording"])).json()
    mine = next(a for a in listed if a["id"] == stop["id"])
    assert mine["layer"] == "stops" and mine["author_id"] == live["counsellor"].id
    log = rclient.get(f"/api/v1/live/{live['id']}/log").json()
    assert [s["id"] for s in log["stops"]] == [stop["id"], added["id"]]
    assert log["stops"][0]["pause_ms"] >= 250


def test_comments_have_author_and_speaker_and_never_overwrite(
    rclient: TestClient, live: dict[str, Any], app: Any
) -> None:
    stop = rclient.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 12_000})
    assert stop.status_code == 201, stop.text
    stop_id = stop.json()["id"]
    comments = f"/api/v1/live/stops/{stop_id}/comments"
    url = f"/api/v1/live/{live['id']}/ws"
    them = live["counsellor_client"]
    with them.websocket_connect(url) as counsellor, rclient.websocket_connect(url) as researcher:
        assert counsellor.receive_json()["log"]["stops"][0]["comments"] == []
        researcher.receive_json()
        quote = rclient.post(
            comments, json={"speaker": "counsellor", "text": "Là, j'entends « fatigué »."}
        )
        assert quote.status_code == 201, quote.text
        event = _receive(researcher, "comment")["comment"]
        assert event["text"] == "Là, j'entends « fatigué »." and event["speaker"] == "counsellor"
        assert event["author"] == "claire"
        # The counsellor's screen gets their own words, never the researchers' notes…
        assert _receive(counsellor, "comment")["comment"]["id"] == event["id"]
        rclient.post(comments, json={"speaker": "researcher", "text": "Note"})
        counsellor.send_json({"type": "pause"})
        while (message := counsellor.receive_json())["type"] != "pause":
            assert message["type"] != "comment", message
    # …and a counsellor types only their own words.
    refused = them.post(comments, json={"speaker": "researcher", "text": "Moi"})
    assert refused.status_code == 403
    own = them.post(comments, json={"speaker": "counsellor", "text": "Moi"})
    assert own.status_code == 201 and own.json()["author_id"] is not None
    assert rclient.post(comments, json={"speaker": "chef", "text": "x"}).status_code == 422
    assert rclient.post(comments, json={"speaker": "researcher", "text": "  "}).status_code == 422
    comment = quote.json()
    # Two researchers edit the same comment: the second one is told, with the first's text.
    colleague = live["colleague"]
    first = colleague.patch(
        f"/api/v1/live/comments/{comment['id']}", json={"version": 1, "text": "Version A"}
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    second = rclient.patch(
        f"/api/v1/live/comments/{comment['id']}", json={"version": 1, "text": "Version B"}
    )
    assert second.status_code == 409
    assert second.json()["current"]["text"] == "Version A"
    stale = rclient.delete(f"/api/v1/live/comments/{comment['id']}?version=1")
    assert stale.status_code == 409
    log = rclient.get(f"/api/v1/live/{live['id']}/log").json()
    assert [c["text"] for c in log["stops"][0]["comments"]] == ["Version A", "Note", "Moi"]
    gone = rclient.delete(f"/api/v1/live/comments/{comment['id']}?version=2")
    assert gone.status_code == 204
    # The counsellor's log: their own words only (the researcher's note is not there).
    theirs = them.get(f"/api/v1/live/{live['id']}/log").json()["stops"][0]["comments"]
    assert [c["text"] for c in theirs] == ["Moi"]


def test_agenda_statuses_and_links(rclient: TestClient, live: dict[str, Any]) -> None:
    prepared = live["prepared"]
    base = f"/api/v1/live/{live['id']}"
    assert rclient.put(
        f"{base}/agenda/{prepared['theirs']}", json={"status": "skipped"}
    ).json() == {
        "prepared_id": prepared["theirs"],
        "status": "skipped",
    }
    unknown = rclient.put(f"{base}/agenda/{prepared['hidden']}", json={"status": "skipped"})
    assert unknown.status_code == 404
    assert rclient.put(f"{base}/agenda/{prepared['ours']}", json={"status": "x"}).status_code == 422
    counsellor = live["counsellor_client"]
    refused = counsellor.put(f"{base}/agenda/{prepared['ours']}", json={"status": "skipped"})
    assert refused.status_code == 403
    # A stop close to a planned moment answers it; the researcher may say otherwise.
    stop = rclient.post(f"{base}/stops", json={"position_ms": 62_000}).json()
    assert stop["prepared_id"] == prepared["private"]
    relinked = rclient.patch(f"/api/v1/live/stops/{stop['id']}", json={"prepared_id": None})
    assert relinked.status_code == 200 and relinked.json()["prepared_id"] is None
    agenda = {m["prepared_id"]: m["status"] for m in rclient.get(f"{base}/log").json()["agenda"]}
    assert agenda == {
        prepared["ours"]: "planned",
        prepared["private"]: "discussed",
        prepared["theirs"]: "skipped",
    }
    # The counsellor's log holds only their own prepared moments, without statuses.
    theirs = counsellor.get(f"{base}/log").json()["agenda"]
    assert [(m["prepared_id"], m["status"]) for m in theirs] == [(prepared["theirs"], "planned")]
    # …which they may bring up; not the researcher's.
    url = f"/api/v1/live/{live['id']}/ws"
    with counsellor.websocket_connect(url) as socket:
        socket.receive_json()
        socket.send_json({"type": "goto", "prepared_id": prepared["ours"]})
        refused = _receive(socket, "error")["detail"]
        socket.send_json({"type": "goto", "prepared_id": 999_999})
        unknown = _receive(socket, "error")["detail"]
        # As unknown as a wrong id: nothing tells the researcher's moment exists.
        assert refused.replace(str(prepared["ours"]), "999999") == unknown
        socket.send_json({"type": "goto", "prepared_id": prepared["theirs"]})
        assert _receive(socket, "play")["position_ms"] == 80_000


def test_presence_and_ending(rclient: TestClient, live: dict[str, Any]) -> None:
    url = f"/api/v1/live/{live['id']}/ws"
    them = live["counsellor_client"]
    # The counsellor's recording page leads to the session going on (no code to type).
    page = f"/recordings/{live['recording']['id']}"
    assert f'href="/live/{live["id"]}"' in them.get(page).text
    with rclient.websocket_connect(url) as researcher:
        researcher.receive_json()
        with them.websocket_connect(url) as counsellor:
            counsellor.receive_json()
            present = _receive(researcher, "presence")["presence"]
            while len(present) < 2:
                present = _receive(researcher, "presence")["presence"]
            assert {(p["name"], p["role"]) for p in present} == {
                ("claire", "researcher"),
                ("a8", "counsellor"),
            }
        # The counsellor left: the researcher sees it.
        left = _receive(researcher, "presence")["presence"]
        assert [p["role"] for p in left] == ["researcher"]
        ended = rclient.post(f"/api/v1/live/{live['id']}/end")
        assert ended.status_code == 200
        end = _receive(researcher, "end")
        assert end["ended"] is True and end["playing"] is False
        researcher.send_json({"type": "play"})
        assert "terminée" in _receive(researcher, "error")["detail"]
    assert rclient.get(f"/api/v1/live/code/{live['code']}").status_code == 404
    assert them.post(f"/api/v1/live/{live['id']}/end").status_code == 403
    assert f'href="/live/{live["id"]}"' not in them.get(page).text


def test_switching_to_another_recording_of_the_interview(
    rclient: TestClient, study: dict, live: dict[str, Any]
) -> None:
    second = factories.upload(rclient, study["id"], "A8 - 2").json()
    factories.consent_all(rclient, second["id"])  # the report quotes it
    outside = factories.upload(rclient, study["id"], "B1").json()
    created = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A8 bis", "recording_ids": [live["recording"]["id"], second["id"]]},
    ).json()
    started = rclient.post(f"/api/v1/recordings/{second['id']}/live").json()
    url = f"/api/v1/live/{started['id']}/ws"
    with rclient.websocket_connect(url) as socket:
        assert socket.receive_json()["recording_id"] == second["id"]
        socket.send_json({"type": "stop", "position_ms": 5_000})  # on A8 - 2
        _receive(socket, "stop")
        socket.send_json({"type": "switch", "recording_id": live["recording"]["id"]})
        switched = _receive(socket, "switch")
        assert switched["recording_id"] == live["recording"]["id"] and switched["position_ms"] == 0
        socket.send_json({"type": "stop", "position_ms": 50_000})  # on A8 - 1, later
        _receive(socket, "stop")
        socket.send_json({"type": "switch", "recording_id": outside["id"]})
        assert "entretien" in _receive(socket, "error")["detail"]
    assert created["recording_ids"] == [live["recording"]["id"], second["id"]]
    # The report follows the recordings: A8 - 1 (first in the interview) before A8 - 2.
    rows = rclient.get(f"/api/v1/interviews/{created['id']}/report").json()["rows"]
    assert [(r["recording"], r["time"]) for r in rows] == [("A8 - 1", "0’50"), ("A8 - 2", "0’05")]


def test_session_report_with_the_interviews_own_recording(
    rclient: TestClient, study: dict, live: dict[str, Any], engine: Engine
) -> None:
    base = f"/api/v1/live/{live['id']}"
    stop = rclient.post(f"{base}/stops", json={"position_ms": 38_000}).json()
    comments = f"/api/v1/live/stops/{stop['id']}/comments"
    rclient.post(comments, json={"speaker": "counsellor", "text": "C'est un mot déclencheur."})
    rclient.post(comments, json={"speaker": "researcher", "text": "Reformule pour vérifier."})
    report_url = f"/api/v1/interviews/{live['interview_id']}/report"
    report = rclient.get(report_url).json()
    [row] = report["rows"]
    assert row["time"] == "0’38" and row["recording"] == "A8 - 1"
    assert row["prepared"] == "0’34 — Reformule"
    assert row["schemes"] == ["Écouter / reformuler"]
    assert any("fatigué" in said["text"] for said in row["excerpt"])
    assert [(c["speaker"], c["text"]) for c in row["comments"]] == [
        ("counsellor", "C'est un mot déclencheur."),
        ("researcher", "Reformule pour vérifier."),
    ]
    assert row["ac_ms"] is None  # no recording of the interview yet
    # The interview's own recording, uploaded after, aligned on the stop at 0'13.
    ac = factories.upload(
        rclient, study["id"], "A8 - AC", AC_AUDIO.read_bytes(), filename="ac.m4a"
    ).json()
    factories.consent_all(rclient, ac["id"])
    vtt = (DEMO / "autoconfrontation-demo.vtt").read_bytes()
    rclient.post(
        f"/api/v1/recordings/{ac['id']}/transcript", files={"file": ("a.vtt", vtt, "text/vtt")}
    )
    replayed = rclient.patch(
        f"/api/v1/interviews/{live['interview_id']}/recording",
        json={"recording_id": live["recording"]["id"]},
    )
    assert replayed.status_code == 422  # the session replayed is not the interview's recording
    chosen = rclient.patch(
        f"/api/v1/interviews/{live['interview_id']}/recording",
        json={"recording_id": ac["id"], "stop_id": stop["id"], "stop_at_ms": 13_556},
    )
    assert chosen.status_code == 200, chosen.text
    [row] = chosen.json()["rows"]
    assert row["ac_ms"] == 13_556 and row["ac_time"] == "0’13" and chosen.json()["aligned"]
    assert row["ac_excerpt"][0]["text"].startswith("Et quand vous lui demandez")
    with Session(engine) as session:
        interview = session.get(Interview, live["interview_id"])
        assert interview is not None and interview.ac_recording_id == ac["id"]
    # The interview's recording leaves the synthesis's columns.
    synthesis = rclient.get(f"/api/v1/studies/{study['id']}/synthesis").json()
    assert "A8 - AC" not in [c["code"] for c in synthesis["columns"]]
    # Exports: CSV, DOCX, HTML.
    exported = rclient.get(f"{report_url}?format=csv")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    lines = _csv(exported.content)
    assert lines[0][0] == "Séance" and lines[1][:2] == ["A8 - 1", "0’38"]
    assert "Conseiller·e : C'est un mot déclencheur." in lines[1][8] and lines[1][9] == "0’13"
    document = Document(io.BytesIO(rclient.get(f"{report_url}?format=docx").content))
    [table] = document.tables
    assert "0’38" in table.rows[1].cells[0].text
    assert "C'est un mot déclencheur." in table.rows[1].cells[1].text
    html = rclient.get(f"{report_url}?format=html").text
    assert f"/recordings/{ac['id']}#t=13556" in html and "Reformule pour vérifier." in html
    assert live["counsellor_client"].get(report_url).status_code == 403
    page = rclient.get(f"/interviews/{live['interview_id']}/report")
    assert page.status_code == 200 and "C&#39;est un mot déclencheur." in page.text
    with Session(engine) as session:
        stops = session.exec(select(LiveStop)).all()
        assert len(stops) == 1


def test_the_report_fills_its_right_column_from_the_automatic_draft(
    rclient: TestClient, study: dict, live: dict[str, Any], engine: Engine
) -> None:
    """The interview's recording transcribed automatically, not validated yet: its words
    fill the right column, marked as a draft on the page and in the files, until the draft
    is validated into the transcript."""
    stop = rclient.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 38_000}).json()
    ac = factories.upload(
        rclient, study["id"], "A8 - AC", AC_AUDIO.read_bytes(), filename="ac.m4a"
    ).json()
    factories.consent_all(rclient, ac["id"])
    cues = read_cues((DEMO / "autoconfrontation-demo.vtt").read_bytes(), "vtt", "ac.vtt")
    turns = [Turn(c.start_ms, c.end_ms, c.speaker or "", c.text, ()) for c in cues]
    with session_scope(engine) as session:  # as the transcription job writes it
        replace_draft(session, ac["id"], turns)
    report_url = f"/api/v1/interviews/{live['interview_id']}/report"
    chosen = rclient.patch(
        f"/api/v1/interviews/{live['interview_id']}/recording",
        json={"recording_id": ac["id"], "stop_id": stop["id"], "stop_at_ms": 13_556},
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["ac_draft"] is True
    [row] = chosen.json()["rows"]
    assert row["ac_excerpt"][0] == {
        "speaker": "Chercheur",
        "text": "Et quand vous lui demandez s'il a déjà programmé, quel est votre but ?",
        "ms": 13_556,
    }
    page = rclient.get(f"/interviews/{live['interview_id']}/report").text
    assert 'class="chip draft"' in page and "Et quand vous lui demandez" in page
    lines = _csv(rclient.get(f"{report_url}?format=csv").content)
    assert "brouillon de transcription automatique" in lines[0][10]
    assert lines[1][10].startswith("Chercheur : Et quand vous lui demandez")
    html = rclient.get(f"{report_url}?format=html").text
    assert "(brouillon de transcription automatique non validé)" in html

    validated = rclient.post(f"/api/v1/recordings/{ac['id']}/draft/validate")
    assert validated.status_code == 200, validated.text
    after = rclient.get(report_url).json()
    assert after["ac_draft"] is False
    assert after["rows"][0]["ac_excerpt"] == chosen.json()["rows"][0]["ac_excerpt"]
    assert (
        'class="chip draft"' not in rclient.get(f"/interviews/{live['interview_id']}/report").text
    )


def test_a_connection_nobody_refreshes_is_forgotten(
    rclient: TestClient, live: dict[str, Any], engine: Engine
) -> None:
    """A process that died leaves its presence rows: after 30 s without a refresh they go,
    and the screens are told."""
    from autoconf.live import presence
    from autoconf.models import LiveEvent, LivePresence, User, utcnow

    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "a8")).one()
        ghost = presence.join(session, live["id"], user, "counsellor")
        fresh = presence.join(session, live["id"], user, "counsellor")
        row = session.get(LivePresence, ghost)
        assert row is not None
        row.seen_at = utcnow() - presence.STALE - timedelta(seconds=1)
        session.add(row)
        session.commit()
        assert presence.present(session, live["id"])[0]["connections"] == 1
        presence.touch(session, [fresh])
        session.commit()
        assert session.get(LivePresence, ghost) is None
        assert session.get(LivePresence, fresh) is not None
        last = session.exec(
            select(LiveEvent)
            .where(LiveEvent.session_id == live["id"])
            .order_by(LiveEvent.id.desc())  # type: ignore[union-attr]
        ).first()
        assert last is not None and last.kind == "presence"
        assert [p["name"] for p in last.payload["presence"]] == ["a8"]


def test_a_stop_keeps_what_was_typed_there(
    rclient: TestClient, live: dict[str, Any], study: dict
) -> None:
    """Deleting a stop in the annotator: researchers only, and not while it holds comments;
    erasing the recording a session shows moves the session to another of the interview."""
    base = f"/api/v1/live/{live['id']}"
    them = live["counsellor_client"]
    mine = them.post(f"{base}/stops", json={"position_ms": 20_000}).json()
    assert them.delete(f"/api/v1/annotations/{mine['id']}").status_code == 403
    moved = them.patch(f"/api/v1/annotations/{mine['id']}", json={"version": 1, "note": "x"})
    assert moved.status_code == 403
    rclient.post(
        f"/api/v1/live/stops/{mine['id']}/comments", json={"speaker": "counsellor", "text": "Dit"}
    )
    refused = rclient.delete(f"/api/v1/annotations/{mine['id']}")
    assert refused.status_code == 409 and "commentaire" in refused.json()["detail"]
    assert rclient.get(f"{base}/log").json()["stops"][0]["comments"][0]["text"] == "Dit"
    rclient.post(f"{base}/stops", json={"position_ms": 90_000})  # stopped: the same stop
    rclient.post(f"{base}/end")
    # A stop without comments goes, and the screens are told.
    other = rclient.post(f"/api/v1/recordings/{live['recording']['id']}/live").json()
    empty = rclient.post(f"/api/v1/live/{other['id']}/stops", json={"position_ms": 5_000}).json()
    with rclient.websocket_connect(f"/api/v1/live/{other['id']}/ws") as socket:
        socket.receive_json()
        assert rclient.delete(f"/api/v1/annotations/{empty['id']}").status_code == 204
        assert _receive(socket, "stop_deleted")["stop_deleted"]["id"] == empty["id"]
    # The session shows A8 - 2 of its interview; A8 - 2 is erased: it goes back to A8 - 1.
    second = factories.upload(rclient, study["id"], "A8 - 2").json()
    both = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A8 ter", "recording_ids": [live["recording"]["id"], second["id"]]},
    ).json()
    started = rclient.post(f"/api/v1/recordings/{second['id']}/live").json()
    stop = rclient.post(f"/api/v1/live/{started['id']}/stops", json={"position_ms": 1_000})
    assert stop.status_code == 201
    assert rclient.delete(f"/api/v1/recordings/{second['id']}").status_code == 204
    state = rclient.get(f"/api/v1/live/{started['id']}").json()
    assert state["recording_id"] == live["recording"]["id"] and both["id"]


def test_what_the_review_broke(
    rclient: TestClient, live: dict[str, Any], study: dict, engine: Engine
) -> None:
    base = f"/api/v1/live/{live['id']}"
    prepared = live["prepared"]
    colleague = live["colleague"]
    # A colleague's agenda is their own view: not the creator's private mark.
    hidden_to_them = colleague.put(
        f"{base}/agenda/{prepared['private']}", json={"status": "skipped"}
    )
    assert hidden_to_them.status_code == 404
    theirs = colleague.put(f"{base}/agenda/{prepared['hidden']}", json={"status": "skipped"})
    assert theirs.status_code == 200
    # Numbers out of range are refused, not a server error.
    stop = rclient.post(f"{base}/stops", json={"position_ms": 3_000}).json()
    comment = rclient.post(
        f"/api/v1/live/stops/{stop['id']}/comments", json={"speaker": "researcher", "text": "n"}
    ).json()
    huge = rclient.patch(
        f"/api/v1/live/comments/{comment['id']}", json={"version": 10**30, "text": "x"}
    )
    assert huge.status_code == 422
    assert rclient.delete(f"/api/v1/live/comments/{comment['id']}?version=1e20").status_code == 422
    far = rclient.patch(
        f"/api/v1/interviews/{live['interview_id']}/recording",
        json={"recording_id": None, "stop_at_ms": 10**15},
    )
    assert far.status_code == 422
    # Bad messages on the socket get an answer; the socket stays open.
    with rclient.websocket_connect(f"{base}/ws") as socket:
        socket.receive_json()
        socket.send_text("{not json")
        assert _receive(socket, "error")["detail"] == "Message illisible."
        socket.send_text('{"type": "seek", "position_ms": NaN}')
        assert "position_ms" in _receive(socket, "error")["detail"]
        socket.send_json({"type": "seek", "position_ms": "abc"})
        assert "position_ms" in _receive(socket, "error")["detail"]
        socket.send_json({"type": "rate", "rate": True})
        assert "Vitesse" in _receive(socket, "error")["detail"]
        socket.send_json({"type": "seek", "position_ms": 4_000})
        assert _receive(socket, "seek")["position_ms"] == 4_000
    with (
        pytest.raises(WebSocketDisconnect),
        rclient.websocket_connect("/api/v1/live/99999999999999999999/ws") as socket,
    ):
        socket.receive_json()
    # A page with no origin of this site (`null`) cannot use the cookie.
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rclient.websocket_connect(f"{base}/ws", headers={"origin": "null"}) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 4403
    # An interview's own recording is not a session to replay.
    ac = factories.upload(rclient, study["id"], "A8 - AC", AC_AUDIO.read_bytes(), filename="a.m4a")
    chosen = rclient.patch(
        f"/api/v1/interviews/{live['interview_id']}/recording",
        json={"recording_id": ac.json()["id"]},
    )
    assert chosen.status_code == 200
    replay = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "X", "recording_ids": [ac.json()["id"]]},
    )
    assert replay.status_code == 422 and "auto-confrontation" in replay.json()["detail"]
    # The report names no one: the counsellor's code, researchers by their role.
    them = live["counsellor_client"]
    rclient.post(f"{base}/stops", json={"position_ms": 9_000})  # the same open stop
    rclient.get(f"{base}/log")
    with them.websocket_connect(f"{base}/ws") as socket:
        socket.receive_json()
        socket.send_json({"type": "play"})
        _receive(socket, "play")
        socket.send_json({"type": "stop", "position_ms": 12_000})
        _receive(socket, "stop")
    rows = rclient.get(f"/api/v1/interviews/{live['interview_id']}/report").json()["rows"]
    assert [(r["role"], r["stopped_by"]) for r in rows] == [
        ("researcher", ""),
        ("counsellor", "A8"),
    ]
    csv_text = rclient.get(f"/api/v1/interviews/{live['interview_id']}/report?format=csv").text
    assert "claire" not in csv_text and "conseiller·e (A8)" in csv_text  # no gender said


def test_a_new_follower_does_not_get_old_events(rclient: TestClient, live: dict[str, Any]) -> None:
    base = f"/api/v1/live/{live['id']}"
    with rclient.websocket_connect(f"{base}/ws") as socket:
        socket.receive_json()
    stop = rclient.post(f"{base}/stops", json={"position_ms": 2_000}).json()
    rclient.post(
        f"/api/v1/live/stops/{stop['id']}/comments", json={"speaker": "researcher", "text": "vieux"}
    )
    time.sleep(0.2)
    with rclient.websocket_connect(f"{base}/ws") as socket:
        state = socket.receive_json()
        assert state["log"]["stops"][0]["comments"][0]["text"] == "vieux"
        socket.send_json({"type": "seek", "position_ms": 3_000})
        seen = []
        while (message := socket.receive_json())["type"] != "seek":
            seen.append(message["type"])
        assert "comment" not in seen and "stop" not in seen


def test_the_playhead_stops_at_the_end() -> None:
    from autoconf.live.sessions import LiveState
    from autoconf.models import utcnow

    now = utcnow()
    state = LiveState(1, 1, 3, True, 130_000, 1.0, now - timedelta(seconds=30), False, 136_000)
    assert state.now_ms(now) == 136_000


def test_the_annotator_leads_from_a_stop_to_its_row_in_the_report(
    rclient: TestClient, live: dict[str, Any]
) -> None:
    stop = rclient.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 7_000}).json()
    found = rclient.get(f"/stops/{stop['id']}", follow_redirects=False)
    assert found.status_code == 303
    assert (
        found.headers["location"] == f"/interviews/{live['interview_id']}/report#stop-{stop['id']}"
    )
    assert f'id="stop-{stop["id"]}"' in rclient.get(found.headers["location"]).text
    assert rclient.get("/stops/999999", follow_redirects=False).status_code == 404
    them = live["counsellor_client"]
    assert them.get(f"/stops/{stop['id']}", follow_redirects=False).status_code == 403


def _play(client: TestClient, session_id: int) -> None:
    with client.websocket_connect(f"/api/v1/live/{session_id}/ws") as socket:
        socket.receive_json()
        socket.send_json({"type": "play"})
        _receive(socket, "play")


def test_the_report_follows_the_recording_and_labels_follow_the_person(
    rclient: TestClient, live: dict[str, Any]
) -> None:
    """Stops made at 0'50, 0'20, 0'35 are reported at 0'20, 0'35, 0'50; the counsellor (she)
    is "la conseillère", the researcher who said he is masculine "le chercheur", the
    colleague who said nothing "chercheur·e"."""
    them, colleague = live["counsellor_client"], live["colleague"]
    assert them.patch("/api/v1/me", json={"gender": "feminine"}).status_code == 200
    assert rclient.patch("/api/v1/me", json={"gender": "masculine"}).status_code == 200
    base = f"/api/v1/live/{live['id']}"
    late = rclient.post(f"{base}/stops", json={"position_ms": 50_000}).json()
    _play(rclient, live["id"])
    theirs = them.post(f"{base}/stops", json={"position_ms": 20_000}).json()
    _play(rclient, live["id"])
    middle = colleague.post(f"{base}/stops", json={"position_ms": 35_000}).json()
    assert (theirs["author_gender"], late["author_gender"]) == ("feminine", "masculine")
    comments = f"/api/v1/live/stops/{theirs['id']}/comments"
    rclient.post(comments, json={"speaker": "counsellor", "text": "Je voulais vérifier."})
    rclient.post(comments, json={"speaker": "researcher", "text": "Elle hésite."})
    colleague.post(comments, json={"speaker": "researcher", "text": "Regard vers lui."})

    url = f"/api/v1/interviews/{live['interview_id']}/report"
    rows = rclient.get(url).json()["rows"]
    assert [r["stop_id"] for r in rows] == [theirs["id"], middle["id"], late["id"]]
    assert [(r["role"], r["gender"]) for r in rows] == [
        ("counsellor", "feminine"),
        ("researcher", ""),
        ("researcher", "masculine"),
    ]
    assert [(c["speaker"], c["gender"]) for c in rows[0]["comments"]] == [
        ("counsellor", "feminine"),
        ("researcher", "masculine"),
        ("researcher", ""),
    ]
    lines = _csv(rclient.get(f"{url}?format=csv").content)
    assert [line[2] for line in lines[1:]] == ["conseillère (A8)", "chercheur·e", "chercheur"]
    assert lines[1][8].split("\n") == [
        "Conseillère : Je voulais vérifier.",
        "Chercheur : Elle hésite.",
        "Chercheur·e : Regard vers lui.",
    ]
    exported = rclient.get(f"{url}?format=html").text
    assert exported.index("Arrêt de la conseillère (A8)") < exported.index(
        "Arrêt du·de la chercheur·e"
    )
    assert exported.index("Arrêt du·de la chercheur·e") < exported.index("Arrêt du chercheur")
    [table] = Document(io.BytesIO(rclient.get(f"{url}?format=docx").content)).tables
    assert "Arrêt de la conseillère (A8)" in table.rows[1].cells[0].text
    assert "Conseillère : Je voulais vérifier." in table.rows[1].cells[1].text
    assert "Arrêt du chercheur" in table.rows[3].cells[0].text
    # The page, in French and in English.
    page = rclient.get(f"/interviews/{live['interview_id']}/report").text
    order = [page.index(f'data-stop-id="{s["id"]}"') for s in (theirs, middle, late)]
    assert order == sorted(order)
    for label in ("Arrêt de la conseillère", "Arrêt du·de la chercheur·e", "Conseillère :"):
        assert label in page
    rclient.patch("/api/v1/me", json={"language": "en"})
    english = rclient.get(f"/interviews/{live['interview_id']}/report").text
    assert "Counsellor’s stop" in english and "Researcher’s stop" in english
    assert "Counsellor :" in english and "Arrêt de la" not in english
    rclient.patch("/api/v1/me", json={"language": None})

    # The live page and the socket: the same rule, for each person.
    live_page = rclient.get(f"/live/{live['id']}").text
    assert "Code à donner à la conseillère :" in live_page
    assert 'data-counsellor-gender="feminine"' in live_page
    assert 'data-user-gender="masculine"' in live_page
    found = re.search(r'data-wording="([^"]*)"', live_page)
    assert found is not None
    wording = json.loads(html.unescape(found.group(1)))
    assert wording["said"]["counsellor"]["feminine"] == "Propos de la conseillère"
    with rclient.websocket_connect(f"{base}/ws") as socket:
        state = socket.receive_json()
        by_id = {stop["id"]: stop for stop in state["log"]["stops"]}
        assert by_id[middle["id"]]["author_gender"] == ""
        said = by_id[theirs["id"]]["comments"]
        assert [c["author_gender"] for c in said] == ["masculine", "masculine", ""]
        present = [p for p in state["log"]["presence"] if p["role"] == "researcher"]
        assert present == [] or present[0]["gender"] == "masculine"
        with them.websocket_connect(f"{base}/ws") as counsellor:
            counsellor.receive_json()
            people = _receive(socket, "presence")["presence"]
            while len(people) < 2:
                people = _receive(socket, "presence")["presence"]
            genders = {p["role"]: p["gender"] for p in people}
            assert genders == {"researcher": "masculine", "counsellor": "feminine"}


def test_the_wording_rule() -> None:
    from autoconf.live.wording import label, table

    assert [label("counsellor", g, "fr") for g in ("masculine", "feminine", "")] == [
        "conseiller",
        "conseillère",
        "conseiller·e",
    ]
    assert [label("researcher", g, "fr") for g in ("masculine", "feminine", "unknown")] == [
        "chercheur",
        "chercheuse",
        "chercheur·e",
    ]
    assert label("counsellor", "feminine", "fr", "stop") == "Arrêt de la conseillère"
    assert label("researcher", "masculine", "fr", "said") == "Note du chercheur"
    assert label("counsellor", "", "fr", "said") == "Propos du·de la conseiller·e"
    assert label("counsellor", "masculine", "fr", "to") == "au conseiller"
    assert label("counsellor", "feminine", "en") == "counsellor"
    assert label("researcher", "feminine", "en", "said") == "Researcher’s note"
    assert table("fr")["stop"]["researcher"]["feminine"] == "Arrêt de la chercheuse"
    with pytest.raises(ValueError):
        label("admin", "", "fr")
