"""Erasure of a recording or a study through the API and the pages: what goes (rows, files,
live sessions and their events), who may, the one audit entry, a second erasure refused."""

import html
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.audit import log as audit_log
from autoconf.media.store import store_for
from autoconf.models import (
    AuditEvent,
    Consent,
    Interview,
    LiveEvent,
    LiveSession,
    Recording,
    Study,
)
from autoconf.settings import Settings
from autoconf.studies import disposal
from tests import factories

NOTE = "SECRET-NOTE-7f3a"
COMMENT = "SECRET-COMMENT-52be"


def erase_entries(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        actions = (audit_log.ERASE_RECORDING, audit_log.ERASE_STUDY)
        query = select(AuditEvent).where(col(AuditEvent.action).in_(actions))
        return list(session.exec(query.order_by(col(AuditEvent.id))).all())


def storage_key(engine: Engine, recording_id: int) -> str:
    with Session(engine) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        return recording.storage_key


def add_consents(engine: Engine, recording_id: int) -> None:
    with Session(engine) as session:
        for party in ("counsellor", "beneficiary"):
            session.add(
                Consent(
                    recording_id=recording_id,
                    party=party,
                    scopes=["research"],
                    given_on=date.today(),
                )
            )
        session.commit()


@pytest.fixture
def filled(rclient: TestClient, study: dict, engine: Engine, app: FastAPI) -> dict[str, Any]:
    """A8 - 1 with coding, private marks (the researcher's and a colleague's), the
    transcript, consents, and a live session of interview A8 (A8 - 1 and A8 - 2) with a stop
    and a comment on A8 - 1."""
    sid = study["id"]
    counsellor, counsellor_id = factories.counsellor_member(engine, rclient, sid, "a8", "A8")
    rec = factories.upload(rclient, sid, "A8 - 1", counsellor_id=counsellor_id).json()
    other = factories.upload(rclient, sid, "A8 - 2", counsellor_id=counsellor_id).json()
    url = factories.annotations_url(rec)
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    scheme = schemes["Écouter / reformuler"]
    coded = rclient.post(
        url, json={"start_ms": 1_000, "end_ms": 4_000, "code_ids": [scheme], "note": NOTE}
    )
    assert coded.status_code == 201, coded.text
    assert rclient.post(url, json={"start_ms": 2_000, "origin": "prepared"}).status_code == 201
    colleague = factories.PageClient(app)
    factories.login(colleague, factories.account(engine, "autre", "researcher"))
    added = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "autre", "role": "researcher"}
    )
    assert added.status_code == 201, added.text
    hidden = colleague.post(url, json={"start_ms": 3_000, "origin": "prepared", "note": NOTE})
    assert hidden.status_code == 201, hidden.text
    vtt = factories.DEMO_TRANSCRIPT.read_bytes()
    cues = rclient.post(
        f"/api/v1/recordings/{rec['id']}/transcript", files={"file": ("s.vtt", vtt, "text/vtt")}
    )
    assert cues.status_code == 200, cues.text
    add_consents(engine, rec["id"])
    interview = rclient.post(
        f"/api/v1/studies/{sid}/interviews",
        json={
            "code": "A8",
            "counsellor_id": counsellor_id,
            "recording_ids": [rec["id"], other["id"]],
        },
    )
    assert interview.status_code == 201, interview.text
    live = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert live.status_code == 201, live.text
    stop = rclient.post(f"/api/v1/live/{live.json()['id']}/stops", json={"position_ms": 1_500})
    assert stop.status_code == 201, stop.text
    comment = rclient.post(
        f"/api/v1/live/stops/{stop.json()['id']}/comments",
        json={"speaker": "counsellor", "text": COMMENT},
    )
    assert comment.status_code == 201, comment.text
    them = factories.PageClient(app)
    factories.login(them, counsellor)
    return {
        "recording": rec,
        "other": other,
        "cues": cues.json()["cues"],
        "live_id": live.json()["id"],
        "interview_id": interview.json()["id"],
        "counsellor_client": them,
    }


def test_erasing_a_recording_leaves_nothing_but_one_audit_entry(
    rclient: TestClient, filled: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    rid = filled["recording"]["id"]
    folder = settings.media_dir / Path(storage_key(engine, rid)).parent
    assert folder.is_dir()
    erased = rclient.post(f"/api/v1/recordings/{rid}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "recording_id": rid,
        "study_id": filled["recording"]["study_id"],
        "code": "A8 - 1",
        "annotations": 3,
        "stops": 1,
        "comments": 1,
        "transcript_cues": filled["cues"],
        "consensus_decisions": 0,
        "covalidations": 0,
        "consents": 2,
        "interviews": 1,
        "live_sessions_moved": 1,
        "live_sessions_erased": 0,
        "files": 1,
        "bytes": factories.DEMO_MEDIA.stat().st_size,
    }
    assert factories.references(engine, "recording", rid) == {}
    assert not folder.exists()
    assert not any((settings.media_dir / disposal.ERASING).iterdir())
    # The live session goes on on A8 - 2; its events about A8 - 1 (the comment's text
    # among them) are gone, its switch is there.
    state = rclient.get(f"/api/v1/live/{filled['live_id']}")
    assert state.json()["recording_id"] == filled["other"]["id"]
    with Session(engine) as session:
        events = session.exec(
            select(LiveEvent).where(LiveEvent.session_id == filled["live_id"])
        ).all()
    assert [e.kind for e in events] == ["switch"]
    assert COMMENT not in json.dumps([e.payload for e in events])
    # One audit entry: who, which recording, its code and counts; no content.
    [entry] = erase_entries(engine)
    assert (entry.action, entry.recording_id, entry.object_id) == ("erase_recording", rid, rid)
    assert entry.username == "claire" and entry.detail["code"] == "A8 - 1"
    assert entry.detail["annotations"] == 3 and NOTE not in json.dumps(entry.detail)
    # Erased already: the answer of an unknown id, and nothing changes.
    again = rclient.post(f"/api/v1/recordings/{rid}/erase")
    assert again.status_code == 404
    assert again.json() == {"detail": f"Aucun enregistrement n° {rid}."}
    assert again.json() == rclient.get(f"/api/v1/recordings/{rid}").json()
    assert rclient.delete(f"/api/v1/recordings/{rid}").status_code == 404
    assert len(erase_entries(engine)) == 1
    assert rclient.get(f"/api/v1/recordings/{filled['other']['id']}").status_code == 200


def test_who_may_erase(
    rclient: TestClient,
    filled: dict[str, Any],
    study: dict,
    engine: Engine,
    app: FastAPI,
) -> None:
    rid = filled["recording"]["id"]
    # The counsellor sees their recording but may not erase it; an outsider does not see it.
    them = filled["counsellor_client"]
    assert them.get(f"/api/v1/recordings/{rid}").status_code == 200
    refused = them.post(f"/api/v1/recordings/{rid}/erase")
    assert refused.status_code == 403 and "chercheurs" in refused.json()["detail"]
    assert them.get(f"/recordings/{rid}/erase").status_code == 403
    outsider = factories.PageClient(app)
    factories.login(outsider, factories.account(engine, "dehors", "researcher"))
    unknown = outsider.post(f"/api/v1/recordings/{rid}/erase")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": f"Aucun enregistrement n° {rid}."}
    # A study: administrators only.
    sid = study["id"]
    assert rclient.post(f"/api/v1/studies/{sid}/erase").status_code == 403
    assert rclient.get(f"/studies/{sid}/erase").status_code == 403
    assert outsider.post(f"/api/v1/studies/{sid}/erase").status_code == 404
    assert erase_entries(engine) == []
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 200
    assert rclient.post(f"/api/v1/recordings/{2**31}/erase").status_code == 422


def test_the_delete_route_and_form_are_the_same_erasure(
    rclient: TestClient, study: dict, engine: Engine
) -> None:
    first = factories.upload(rclient, study["id"], "A1").json()
    second = factories.upload(rclient, study["id"], "A2").json()
    assert rclient.delete(f"/api/v1/recordings/{first['id']}").status_code == 204
    form = rclient.post(f"/recordings/{second['id']}/delete", follow_redirects=False)
    assert form.status_code == 303
    entries = erase_entries(engine)
    assert [(e.action, e.recording_id) for e in entries] == [
        ("erase_recording", first["id"]),
        ("erase_recording", second["id"]),
    ]


def test_an_interview_loses_its_own_recording_and_a_lone_session_goes(
    rclient: TestClient, study: dict, engine: Engine
) -> None:
    sid = study["id"]
    session_rec = factories.upload(rclient, sid, "A9 - 1").json()
    own = factories.upload(rclient, sid, "A9 AC").json()
    interview = {"code": "E-A9", "recording_ids": [session_rec["id"]]}
    assert rclient.post(f"/api/v1/studies/{sid}/interviews", json=interview).status_code == 201
    live = rclient.post(f"/api/v1/recordings/{session_rec['id']}/live").json()
    with Session(engine) as session:
        interview = session.exec(select(Interview).where(Interview.study_id == sid)).one()
        interview.ac_recording_id, interview.ac_started_at = own["id"], datetime.now(UTC)
        session.add(interview)
        session.commit()
        interview_id = interview.id
    assert rclient.post(f"/api/v1/recordings/{own['id']}/erase").status_code == 200
    erased = rclient.post(f"/api/v1/recordings/{session_rec['id']}/erase")
    assert erased.json()["live_sessions_erased"] == 1
    with Session(engine) as session:
        interview = session.get(Interview, interview_id)
        assert interview is not None
        assert (interview.ac_recording_id, interview.ac_started_at) == (None, None)
        assert session.get(LiveSession, live["id"]) is None


def test_erasing_a_study(
    client: TestClient, rclient: TestClient, study: dict, engine: Engine, settings: Settings
) -> None:
    sid = study["id"]
    rec = factories.upload(rclient, sid, "A8 - 1").json()
    rclient.post(factories.annotations_url(rec), json={"start_ms": 0, "note": NOTE})
    rclient.post(f"/api/v1/studies/{sid}/structures", json={"code": "S1"})
    folder = settings.media_dir / Path(storage_key(engine, rec["id"])).parent
    admin = factories.account(engine, "root", "admin")
    headers = factories.token(engine, admin)
    erased = client.post(f"/api/v1/studies/{sid}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["name"] == "Étude CEP" and body["recordings"] == 1 and body["annotations"] == 1
    assert body["members"] == 1 and body["structures"] == 1 and body["codebooks"] == 4
    assert body["files"] == 1
    assert factories.references(engine, "study", sid) == {}
    assert factories.references(engine, "recording", rec["id"]) == {}
    assert not folder.exists()
    with Session(engine) as session:
        assert session.get(Study, sid) is None
    [entry] = erase_entries(engine)
    assert (entry.action, entry.study_id, entry.object_type) == ("erase_study", sid, "study")
    assert entry.username == "root" and "name" not in entry.detail
    assert "Étude CEP" not in json.dumps(entry.detail, ensure_ascii=False)
    again = client.post(f"/api/v1/studies/{sid}/erase", headers=headers)
    assert again.status_code == 404 and again.json() == {"detail": f"Aucune étude n° {sid}."}
    assert len(erase_entries(engine)) == 1


def test_an_interrupted_erasure_is_finished_by_the_next(
    rclient: TestClient, study: dict, engine: Engine, settings: Settings
) -> None:
    """A crash before the commit leaves a folder set aside that a recording still names:
    it goes back. After the commit, one nobody names: it goes. A recording's clips go."""
    kept = factories.upload(rclient, study["id"], "A1").json()
    erased = factories.upload(rclient, study["id"], "A2").json()
    media = settings.media_dir
    kept_name = Path(storage_key(engine, kept["id"])).parent.name
    erased_name = Path(storage_key(engine, erased["id"])).parent.name
    (media / disposal.ERASING).mkdir()
    (media / disposal.RECORDINGS / kept_name).rename(media / disposal.ERASING / kept_name)
    orphan = media / disposal.ERASING / "0123abcd"
    orphan.mkdir()
    (orphan / "original.mp4").write_bytes(b"bytes nobody names")
    clips = settings.data_dir / "clips"
    clips.mkdir()
    (clips / f"clip-{erased_name}-x1.mp4").write_bytes(b"clip")
    (clips / f"clip-{kept_name}-x2.mp4").write_bytes(b"clip")
    assert rclient.post(f"/api/v1/recordings/{erased['id']}/erase").status_code == 200
    assert (media / disposal.RECORDINGS / kept_name / "original.mp4").is_file()
    assert list((media / disposal.ERASING).iterdir()) == []
    assert [p.name for p in clips.iterdir()] == [f"clip-{kept_name}-x2.mp4"]


def test_a_failed_erasure_puts_the_files_back(
    rclient: TestClient, recording: dict, engine: Engine, settings: Settings
) -> None:
    name = Path(storage_key(engine, recording["id"])).parent.name
    files = disposal.Disposal(store_for(settings), settings.data_dir / "clips")
    files.set_aside(name)
    assert not (settings.media_dir / disposal.RECORDINGS / name).exists()
    with Session(engine) as session:  # the transaction failed: the row is still there
        files.settle(session)
    assert (settings.media_dir / disposal.RECORDINGS / name / "original.mp4").is_file()
    assert rclient.get(f"/api/v1/recordings/{recording['id']}").status_code == 200


def test_the_confirmation_page_names_what_goes_and_wants_the_code(
    rclient: TestClient, filled: dict[str, Any], engine: Engine
) -> None:
    rid = filled["recording"]["id"]
    page = rclient.get(f"/recordings/{rid}")
    assert f'href="/recordings/{rid}/erase"' in page.text
    confirm = rclient.get(f"/recordings/{rid}/erase")
    assert confirm.status_code == 200
    text = html.unescape(confirm.text)
    assert "Effacer l'enregistrement « A8 - 1 »" in text
    assert "<dd>3</dd>" in text and f"<dd>{filled['cues']}</dd>" in text
    assert "tapez le code de l'enregistrement : A8 - 1" in text
    assert "<script>" not in text
    wrong = rclient.post(f"/recordings/{rid}/erase", data={"confirmation": "A8 - 2"})
    assert wrong.status_code == 422
    assert "Le code tapé n'est pas celui de l'enregistrement" in html.unescape(wrong.text)
    assert rclient.post(f"/recordings/{rid}/erase", data={}).status_code == 422
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 200
    assert erase_entries(engine) == []
    done = rclient.post(
        f"/recordings/{rid}/erase", data={"confirmation": " a8  - 1 "}, follow_redirects=False
    )
    assert done.status_code == 303
    study_id = filled["recording"]["study_id"]
    assert done.headers["location"] == f"/studies/{study_id}?erased=recording"
    notice = html.unescape(rclient.get(done.headers["location"]).text)
    assert "L'enregistrement a été effacé" in notice
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 404
    assert rclient.get(f"/recordings/{rid}/erase").status_code == 404


def test_the_study_confirmation_page(client: TestClient, study: dict, engine: Engine) -> None:
    sid = study["id"]
    admin = factories.account(engine, "root", "admin")
    factories.login(client, admin)  # the same client: now the administrator
    assert f'href="/studies/{sid}/erase"' in client.get(f"/studies/{sid}").text
    page = client.get(f"/studies/{sid}/erase")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Effacer l'étude « Étude CEP »" in text and "<dd>4</dd>" in text  # codebooks
    assert "tapez le nom de l'étude : Étude CEP" in text
    wrong = client.post(f"/studies/{sid}/erase", data={"confirmation": "Étude"})
    assert wrong.status_code == 422 and "rien n'a été effacé" in html.unescape(wrong.text)
    assert erase_entries(engine) == []
    done = client.post(
        f"/studies/{sid}/erase", data={"confirmation": "étude cep"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/studies?erased=study"
    assert "L'étude a été effacée" in html.unescape(client.get("/studies?erased=study").text)
    assert client.get(f"/studies/{sid}").status_code == 404
