"""Coding rounds: a blind round hides each coder's segments of the round from everyone but
their author (lists, exports, the study's table, the agreement) until every coder is done;
the refusals; the forms of the study and recording pages."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.models import AuditEvent
from tests import factories


@pytest.fixture
def team(rclient: TestClient, recording: dict[str, Any], engine: Engine) -> dict[str, Any]:
    """Claire (signed in) and Inès, researchers of the study; Claire already coded a
    segment of the recording before any round."""
    study = recording["study_id"]
    factories.set_duration(engine, recording["id"], 10_000)  # as if processed
    ines = factories.researcher_member(engine, rclient, study, "ines")
    schemes = factories.codes_by_path(rclient, study, "schemes")
    url = factories.annotations_url(recording)
    before = rclient.post(
        url,
        json={
            "start_ms": 0,
            "end_ms": 4_000,
            "code_ids": [schemes["Écouter / reformuler"]],
            "note": "CLAIRE-AVANT",
        },
    )
    assert before.status_code == 201, before.text
    return {
        "claire": rclient.get("/api/v1/me").json()["id"],
        "ines": ines.id,
        "as_ines": factories.token(engine, ines),
        "codes": schemes,
        "url": url,
        "study": study,
        "before": before.json()["id"],
    }


def _notes(client: TestClient, url: str, headers: dict[str, str] | None = None) -> set[str]:
    answer = client.get(url, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return {a["note"] for a in answer.json()}


def _start(
    client: TestClient, team: dict[str, Any], recording: dict[str, Any], **extra: Any
) -> Any:
    body = {
        "name": "Double codage A1",
        "recording_ids": [recording["id"]],
        "coder_ids": [team["claire"], team["ines"]],
        **extra,
    }
    return client.post(f"/api/v1/studies/{team['study']}/rounds", json=body)


def test_a_blind_round_hides_each_coder_from_the_other_until_both_are_done(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], team: dict[str, Any]
) -> None:
    url, as_ines = team["url"], team["as_ines"]
    assert "CLAIRE-AVANT" in _notes(client, url, as_ines)  # shared, before the round

    started = _start(rclient, team, recording)
    assert started.status_code == 201, started.text
    round_ = started.json()
    assert round_["blind"] and round_["open"] and round_["layer"] == "schemes"
    assert [c["done_at"] for c in round_["coders"]] == [None, None]

    # What Claire had coded is held from the start; what Inès codes now is held too.
    assert "CLAIRE-AVANT" not in _notes(client, url, as_ines)
    body = {
        "start_ms": 0,
        "end_ms": 6_000,
        "code_ids": [team["codes"]["Questionner / vérifier"]],
        "note": "INES-TOUR",
    }
    made = client.post(url, json=body, headers=as_ines)
    assert made.status_code == 201, made.text
    assert made.json()["coding_round_id"] == round_["id"] and made.json()["shared"] is False
    assert _notes(rclient, url) >= {"CLAIRE-AVANT"} and "INES-TOUR" not in _notes(rclient, url)
    assert "INES-TOUR" in _notes(client, url, as_ines)  # her own

    # Nor through one annotation, the ELAN file, the study's table, the segments track.
    assert rclient.get(f"/api/v1/annotations/{made.json()['id']}").status_code == 404
    rid = recording["id"]
    for path in (
        f"/api/v1/recordings/{rid}/export.eaf",
        f"/api/v1/studies/{team['study']}/annotations?format=csv",
        f"/api/v1/recordings/{rid}/segments.vtt",
    ):
        answer = rclient.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert "INES-TOUR" not in answer.text, path
    # Editing her held segment keeps it held; sharing it by hand is refused.
    edited = client.patch(
        f"/api/v1/annotations/{made.json()['id']}",
        json={"version": 1, "note": "INES-TOUR-2"},
        headers=as_ines,
    )
    assert edited.status_code == 200 and edited.json()["shared"] is False, edited.text
    shared = client.patch(
        f"/api/v1/annotations/{made.json()['id']}",
        json={"version": 2, "shared": True},
        headers=as_ines,
    )
    assert shared.status_code == 409 and "aveugle" in shared.json()["detail"]

    # No figures while blind: they would tell one coder what the other did.
    pair = f"{team['claire']},{team['ines']}"
    refused = rclient.get(f"/api/v1/recordings/{rid}/agreement?coders={pair}")
    assert refused.status_code == 409 and "aveugle" in refused.json()["detail"], refused.text

    done = rclient.post(f"/api/v1/rounds/{round_['id']}/done", json={})
    assert done.status_code == 200 and done.json()["open"], done.text
    assert "INES-TOUR-2" not in _notes(rclient, url)  # Inès is still coding
    last = client.post(f"/api/v1/rounds/{round_['id']}/done", json={}, headers=as_ines)
    assert last.status_code == 200, last.text
    assert not last.json()["open"] and last.json()["revealed_at"]

    assert {"CLAIRE-AVANT", "INES-TOUR-2"} <= _notes(rclient, url)
    assert {"CLAIRE-AVANT", "INES-TOUR-2"} <= _notes(client, url, as_ines)
    listed = rclient.get(url).json()
    assert all(a["shared"] for a in listed)
    assert {a["coding_round_id"] for a in listed if a["note"] != ""} == {round_["id"]}
    figures = rclient.get(f"/api/v1/recordings/{rid}/agreement?coders={pair}")
    assert figures.status_code == 200, figures.text
    assert figures.json()["percent"]["value"] == pytest.approx(40.0)  # only [6 s, 10 s): none
    again = client.post(f"/api/v1/rounds/{round_['id']}/done", json={}, headers=as_ines)
    assert again.status_code == 409


def test_a_coder_may_take_back_done_before_the_reveal(
    rclient: TestClient, recording: dict[str, Any], team: dict[str, Any]
) -> None:
    round_id = _start(rclient, team, recording).json()["id"]
    assert rclient.post(f"/api/v1/rounds/{round_id}/done", json={}).status_code == 200
    back = rclient.post(f"/api/v1/rounds/{round_id}/done", json={"done": False})
    assert back.status_code == 200
    assert [c["done_at"] for c in back.json()["coders"]] == [None, None]


def test_an_open_round_shares_its_segments_and_keeps_their_round(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], team: dict[str, Any]
) -> None:
    started = _start(rclient, team, recording, blind=False)
    assert started.status_code == 201 and not started.json()["blind"]
    body = {"start_ms": 0, "end_ms": 2_000, "note": "INES-OUVERT"}
    made = client.post(team["url"], json=body, headers=team["as_ines"])
    assert made.json()["shared"] and made.json()["coding_round_id"] == started.json()["id"]
    assert "INES-OUVERT" in _notes(rclient, team["url"])
    assert "CLAIRE-AVANT" in _notes(client, team["url"], team["as_ines"])


def test_what_a_round_refuses(
    rclient: TestClient,
    client: TestClient,
    recording: dict[str, Any],
    team: dict[str, Any],
    engine: Engine,
) -> None:
    url = f"/api/v1/studies/{team['study']}/rounds"
    base = {"name": "T", "recording_ids": [recording["id"]]}
    one = rclient.post(url, json={**base, "coder_ids": [team["claire"], team["claire"]]})
    assert one.status_code == 422 and "deux codeurs" in one.json()["detail"]
    outsider = factories.account(engine, "zoe", "researcher")
    stranger = rclient.post(url, json={**base, "coder_ids": [team["claire"], outsider.id]})
    assert stranger.status_code == 422 and "chercheurs de l'étude" in stranger.json()["detail"]
    consensus = rclient.post(
        url, json={**base, "coder_ids": [team["claire"], team["ines"]], "layer": "consensus"}
    )
    assert consensus.status_code == 422
    other_study = rclient.post("/api/v1/studies", json={"name": "Autre"}).json()["id"]
    elsewhere = factories.upload(rclient, other_study, "B1", b"x").json()["id"]
    far = rclient.post(
        url,
        json={**base, "recording_ids": [elsewhere], "coder_ids": [team["claire"], team["ines"]]},
    )
    assert far.status_code == 422 and "pas dans cette étude" in far.json()["detail"]

    first = _start(rclient, team, recording)
    assert first.status_code == 201
    twice = _start(rclient, team, recording)
    assert twice.status_code == 409 and "Double codage A1" in twice.json()["detail"]

    round_id = first.json()["id"]
    zoe_member = rclient.post(
        f"/api/v1/studies/{team['study']}/members", json={"username": "zoe", "role": "researcher"}
    )
    assert zoe_member.status_code == 201
    as_zoe = factories.token(engine, outsider)
    not_coder = client.post(f"/api/v1/rounds/{round_id}/done", json={}, headers=as_zoe)
    assert not_coder.status_code == 403
    not_creator = client.post(f"/api/v1/rounds/{round_id}/end", headers=team["as_ines"])
    assert not_creator.status_code == 403 and "commencé" in not_creator.json()["detail"]
    # A counsellor of the study does not know rounds exist.
    counsellor, _ = factories.counsellor_member(engine, rclient, team["study"], "carla", "A1")
    as_carla = factories.token(engine, counsellor)
    assert client.get(f"/api/v1/rounds/{round_id}", headers=as_carla).status_code == 404

    ended = rclient.post(f"/api/v1/rounds/{round_id}/end")
    assert ended.status_code == 200 and not ended.json()["open"], ended.text
    assert "CLAIRE-AVANT" in _notes(client, team["url"], team["as_ines"])
    with Session(engine) as session:
        entry = session.exec(
            select(AuditEvent).where(AuditEvent.action == "coding_round_ended")
        ).one()
    assert entry.object_id == round_id and entry.detail["waiting"] == [team["claire"], team["ines"]]


def test_the_study_and_recording_pages_run_a_round(
    rclient: TestClient,
    client: TestClient,
    recording: dict[str, Any],
    team: dict[str, Any],
    engine: Engine,
) -> None:
    page = rclient.get(f"/studies/{team['study']}")
    assert "Tours de codage" in page.text and "Commencer un tour de codage" in page.text
    form = {
        "name": "Tour de la page <img src=x onerror=alert(1)>",
        "layer": "schemes",
        "blind": "true",
        "recording_ids": [str(recording["id"])],
        "coder_ids": [str(team["claire"]), str(team["ines"])],
    }
    sent = rclient.post(f"/studies/{team['study']}/rounds", data=form, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].endswith("#tours"), sent.text
    page = rclient.get(f"/studies/{team['study']}")
    assert "Tour de la page &lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<img src=x" not in page.text and "terminé mon codage" in page.text
    shown = rclient.get(f"/recordings/{recording['id']}")
    assert (
        "Tour de codage « Tour de la page &lt;img" in shown.text and "<img src=x" not in shown.text
    )
    assert "couche « Schèmes d'action » restent masqués" in shown.text
    round_id = rclient.get(f"/api/v1/studies/{team['study']}/rounds").json()[0]["id"]
    done = rclient.post(
        f"/rounds/{round_id}/done",
        data={"done": "true", "recording_id": str(recording["id"])},
        follow_redirects=False,
    )
    assert (
        done.status_code == 303
        and done.headers["location"] == f"/recordings/{recording['id']}#tour"
    )
    assert "Reprendre mon codage" in rclient.get(f"/recordings/{recording['id']}").text
    empty = rclient.post(f"/studies/{team['study']}/rounds", data={"name": "x"})
    assert empty.status_code == 422 and "deux codeurs" in empty.text
    # A superscript two is a digit to Python, not a number: refused, not a crash.
    odd = rclient.post(
        f"/studies/{team['study']}/rounds",
        data={**form, "coder_ids": ["²", str(team["ines"])]},
    )
    assert odd.status_code == 422 and "« ² » n'est pas un numéro" in odd.text
