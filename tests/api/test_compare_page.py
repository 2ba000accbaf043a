"""The disagreement view of a recording and the bulk adoption of agreements: two coders'
segments side by side, the stretches where they differ listed with what each put there,
settled ones marked; agreements adopted at once, never twice; nothing while a blind round
hides a coder; researchers only."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories

LISTEN, ASK = "Écouter / reformuler", "Questionner / vérifier"


@pytest.fixture
def coded(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> dict[str, Any]:
    """On 20 s: Claire listen [0, 4 s) and ask [10, 15 s); Inès ask [0, 6 s) and ask
    [10.5, 15 s). One agreement (the two asks, overlap 4.5 / 5 = 0.9), one disagreement."""
    factories.set_duration(engine, recording["id"], 20_000)
    study = recording["study_id"]
    ines = factories.researcher_member(engine, rclient, study, "ines")
    codes = factories.codes_by_path(rclient, study, "schemes")
    url = factories.annotations_url(recording)
    as_ines = factories.token(engine, ines)

    def mine(start: int, end: int, code: str) -> dict[str, Any]:
        body = {"start_ms": start, "end_ms": end, "code_ids": [codes[code]]}
        answer = rclient.post(url, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def theirs(start: int, end: int, code: str) -> dict[str, Any]:
        body = {"start_ms": start, "end_ms": end, "code_ids": [codes[code]]}
        answer = client.post(url, json=body, headers=as_ines)
        assert answer.status_code == 201, answer.text
        return answer.json()

    return {
        "a": [mine(0, 4_000, LISTEN), mine(10_000, 15_000, ASK)],
        "b": [theirs(0, 6_000, ASK), theirs(10_500, 15_000, ASK)],
        "me": rclient.get("/api/v1/me").json()["id"],
        "ines": ines.id,
        "as_ines": as_ines,
        "study": study,
    }


def _page(client: TestClient, recording: dict[str, Any], query: str = "") -> Any:
    return client.get(f"/recordings/{recording['id']}/compare{query}")


def test_the_page_lists_each_disagreement_with_what_each_coder_put_there(
    rclient: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    page = _page(rclient, recording, f"?coders={coded['me']},{coded['ines']}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "A · claire" in html and "B · ines" in html
    # [0, 6 s) disagrees (listen vs ask, then nothing vs ask); [10, 11 s) too (ask vs nothing).
    assert html.count('data-index="0" data-start-ms="0" data-end-ms="6000"') == 2  # gap + item
    assert 'data-start-ms="10000" data-end-ms="11000"' in html
    assert f'data-segments-a="{coded["a"][0]["id"]}" data-segments-b="{coded["b"][0]["id"]}"' in (
        html
    )
    assert "0’00 – 0’06" in html and "Garder A" in html
    assert "2 désaccords à trancher sur 2" in html
    assert "Adopter les accords (1)" in html
    # "Autre…": the stretch's times written as on the rest of the page, how to pick codes.
    assert 'value="0’00" data-new-start' in html and 'value="0’06" data-new-end' in html
    assert "Ctrl/⌘ + clic pour en choisir plusieurs" in html
    # The figures and the layer named as the agreement report names them.
    assert "α<sub>cu</sub>" in html and "cu-α" not in html
    assert ">Schèmes d'action</option>" in html
    # Without a choice, the two who coded most are compared.
    assert "A · " in _page(rclient, recording).text
    # The recording page leads there.
    assert (
        f"/recordings/{recording['id']}/compare"
        in rclient.get(f"/recordings/{recording['id']}").text
    )


def test_settled_stretches_show_the_decision_and_agreements_are_adopted_once(
    rclient: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    url = f"/api/v1/recordings/{recording['id']}/consensus"
    kept = rclient.post(url, json={"kind": "accept", "source_ids": [coded["b"][0]["id"]]})
    assert kept.status_code == 201, kept.text
    pair = [coded["me"], coded["ines"]]
    adopted = rclient.post(f"{url}/agreements", json={"coder_ids": pair})
    assert adopted.status_code == 201, adopted.text
    [merge] = adopted.json()
    assert merge["kind"] == "merge" and (merge["start_ms"], merge["end_ms"]) == (10_000, 15_000)
    assert sorted(s["coder"] for s in merge["sources"]) == ["claire", "ines"]
    # Adopting again adds nothing: the pair is decided on already.
    assert rclient.post(f"{url}/agreements", json={"coder_ids": pair}).json() == []
    html = _page(rclient, recording, f"?coders={coded['me']},{coded['ines']}").text
    assert "0 désaccords à trancher sur 2" in html
    assert "Adopter les accords" not in html
    assert "Segment d&#39;ines gardé par claire" in html  # "d'ines", never "de ines"
    assert "Segments fusionnés par claire" in html
    # The consensus agrees with Inès where she was kept, and on the adopted ask but for its
    # first second (the merge spans Claire's start, 10 s, Inès started at 10.5 s): 19 / 20.
    figures = rclient.get(
        f"/api/v1/recordings/{recording['id']}/agreement?coders={coded['ines']},consensus"
    ).json()
    assert figures["percent"]["value"] == pytest.approx(95.0)
    # Erasing the recording says it takes the two decisions with it.
    erase = rclient.get(f"/recordings/{recording['id']}/erase").text
    assert "Décisions de consensus</dt><dd>2</dd>" in erase


def test_nothing_is_shown_or_adopted_while_a_blind_round_hides_a_coder(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    started = rclient.post(
        f"/api/v1/studies/{coded['study']}/rounds",
        json={
            "name": "Double codage",
            "recording_ids": [recording["id"]],
            "coder_ids": [coded["me"], coded["ines"]],
        },
    )
    assert started.status_code == 201, started.text
    html = _page(rclient, recording, f"?coders={coded['me']},{coded['ines']}").text
    # A warning, not a result: no count of disagreements, no empty comparison.
    assert 'class="card warning"' in html and "notice" not in html
    assert "n&#39;est pas terminé" in html or "n'est pas terminé" in html
    assert "quand chaque codeur aura marqué son codage comme terminé" in html
    assert "Garder A" not in html and "data-compare-body" not in html
    assert "désaccords à trancher" not in html and "<h2>Désaccords" not in html
    adopt = rclient.post(
        f"/api/v1/recordings/{recording['id']}/consensus/agreements",
        json={"coder_ids": [coded["me"], coded["ines"]]},
    )
    assert adopt.status_code == 409
    assert "pas terminé" in adopt.json()["detail"]


def test_what_the_page_refuses(
    rclient: TestClient,
    client: TestClient,
    recording: dict[str, Any],
    coded: dict[str, Any],
    engine: Engine,
) -> None:
    bad = _page(rclient, recording, "?coders=abc")
    assert bad.status_code == 422 and "deux codeurs différents" in bad.text
    consensus = _page(rclient, recording, f"?coders={coded['me']},consensus")
    assert consensus.status_code == 422 and "deux chercheurs" in consensus.text
    layer = _page(rclient, recording, "?layer=transcript")
    assert layer.status_code == 422 and "schèmes, phases ou catégories" in layer.text
    same = rclient.post(
        f"/api/v1/recordings/{recording['id']}/consensus/agreements",
        json={"coder_ids": [coded["me"], coded["me"]]},
    )
    assert same.status_code == 422
    carla, _ = factories.counsellor_member(engine, rclient, coded["study"], "carla", "C1")
    # A counsellor is no coder: the comparison names researchers (or the consensus).
    counsellor = _page(rclient, recording, f"?coders={coded['me']},{carla.id}")
    assert counsellor.status_code == 422 and "pas chercheur de cette étude" in counsellor.text
    factories.login(client, carla)
    assert _page(client, recording).status_code in (403, 404)


def test_keeping_a_side_where_the_other_put_nothing_leaves_the_agreement_to_adopt(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    """Claire asks on [16, 19 s), Inès on [16, 20 s): they agree, but for [19, 20 s), where
    « Garder A » says no code belongs. The agreement is still adopted, without that second."""
    url = factories.annotations_url(recording)
    mine = rclient.post(
        url, json={"start_ms": 16_000, "end_ms": 19_000, "code_ids": coded["a"][1]["code_ids"]}
    ).json()
    theirs = client.post(
        url,
        json={"start_ms": 16_000, "end_ms": 20_000, "code_ids": coded["b"][1]["code_ids"]},
        headers=coded["as_ines"],
    ).json()
    decisions = f"/api/v1/recordings/{recording['id']}/consensus"
    none = rclient.post(
        decisions,
        json={"kind": "none", "source_ids": [theirs["id"]], "start_ms": 19_000, "end_ms": 20_000},
    )
    assert none.status_code == 201, none.text
    adopted = rclient.post(
        f"{decisions}/agreements", json={"coder_ids": [coded["me"], coded["ines"]]}
    ).json()
    spans = {tuple(sorted(d["source_ids"])): (d["start_ms"], d["end_ms"]) for d in adopted}
    assert spans[tuple(sorted([mine["id"], theirs["id"]]))] == (16_000, 19_000)
    assert len(adopted) == 2  # and the asks at 10 s
