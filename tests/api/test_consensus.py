"""Consensus decisions through the API: keep one side, merge, write a new segment, no code;
each with who, when and from which segments; taken back; the synthesis from the consensus."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories


@pytest.fixture
def coded(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> dict[str, Any]:
    """Claire: listen [0, 4 s); Inès: ask [0, 6 s), on a 10-second recording."""
    factories.set_duration(engine, recording["id"], 10_000)
    study = recording["study_id"]
    ines = factories.researcher_member(engine, rclient, study, "ines")
    codes = factories.codes_by_path(rclient, study, "schemes")
    url = factories.annotations_url(recording)
    mine = rclient.post(
        url, json={"start_ms": 0, "end_ms": 4_000, "code_ids": [codes["Écouter / reformuler"]]}
    ).json()
    theirs = client.post(
        url,
        json={"start_ms": 0, "end_ms": 6_000, "code_ids": [codes["Questionner / vérifier"]]},
        headers=factories.token(engine, ines),
    ).json()
    return {"mine": mine, "theirs": theirs, "codes": codes, "ines": ines.id, "study": study}


def _decide(client: TestClient, recording: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/api/v1/recordings/{recording['id']}/consensus", json=body)


def test_keeping_one_side_writes_its_segment_on_the_consensus_layer_with_provenance(
    rclient: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    answer = _decide(rclient, recording, kind="accept", source_ids=[coded["theirs"]["id"]])
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert (decision["kind"], decision["start_ms"], decision["end_ms"]) == ("accept", 0, 6_000)
    assert decision["decided_by_name"] == "claire" and decision["decided_at"]
    assert decision["sources"] == [
        {"coder": "ines", "start_ms": 0, "end_ms": 6_000, "codes": ["Questionner / vérifier"]}
    ]
    segment = rclient.get(f"/api/v1/annotations/{decision['annotation_id']}").json()
    assert segment["layer"] == "consensus"
    assert segment["code_ids"] == [coded["codes"]["Questionner / vérifier"]]
    # The synthesis from the consensus counts it; Claire's own coding does not.
    me = rclient.get("/api/v1/me").json()["id"]
    agreement = rclient.get(
        f"/api/v1/recordings/{recording['id']}/agreement?coders={coded['ines']},consensus"
    ).json()
    assert agreement["percent"]["value"] == 100.0
    mine = rclient.get(f"/api/v1/recordings/{recording['id']}/agreement?coders={me},consensus")
    assert mine.json()["percent"]["value"] == pytest.approx(40.0)


def test_merge_new_and_none(
    rclient: TestClient, recording: dict[str, Any], coded: dict[str, Any]
) -> None:
    both = [coded["mine"]["id"], coded["theirs"]["id"]]
    merged = _decide(rclient, recording, kind="merge", source_ids=both).json()
    assert (merged["start_ms"], merged["end_ms"]) == (0, 6_000)
    segment = rclient.get(f"/api/v1/annotations/{merged['annotation_id']}").json()
    assert sorted(segment["code_ids"]) == sorted(
        [coded["codes"]["Écouter / reformuler"], coded["codes"]["Questionner / vérifier"]]
    )
    assert [s["coder"] for s in merged["sources"]] == ["claire", "ines"]
    new = _decide(
        rclient,
        recording,
        kind="new",
        source_ids=both,
        start_ms=1_000,
        end_ms=5_000,
        code_ids=[coded["codes"]["Écouter / reformuler"]],
        note="Reformule puis vérifie",
    ).json()
    assert rclient.get(f"/api/v1/annotations/{new['annotation_id']}").json()["note"] == (
        "Reformule puis vérifie"
    )
    none = _decide(rclient, recording, kind="none", start_ms=6_000, end_ms=8_000).json()
    assert none["annotation_id"] is None
    listed = rclient.get(f"/api/v1/recordings/{recording['id']}/consensus").json()
    assert [d["kind"] for d in listed] == ["merge", "new", "none"]
    # Taken back: the decision and its segment.
    gone = rclient.delete(f"/api/v1/recordings/{recording['id']}/consensus/{new['id']}")
    assert gone.status_code == 204
    assert rclient.get(f"/api/v1/annotations/{new['annotation_id']}").status_code == 404
    assert len(rclient.get(f"/api/v1/recordings/{recording['id']}/consensus").json()) == 2
    # A coder's segment edited later: the decision still says what it was.
    edited = rclient.patch(
        f"/api/v1/annotations/{coded['mine']['id']}", json={"version": 1, "end_ms": 9_000}
    )
    assert edited.status_code == 200
    again = rclient.get(f"/api/v1/recordings/{recording['id']}/consensus").json()
    assert again[0]["sources"][0]["end_ms"] == 4_000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "accept", "source_ids": []}, "exactement un segment"),
        ({"kind": "merge", "source_ids": ["mine"]}, "au moins deux segments"),
        ({"kind": "new", "start_ms": 0, "end_ms": 1_000}, "au moins un code"),
        ({"kind": "none", "start_ms": 5_000, "end_ms": 1_000}, "un début avant une fin"),
        ({"kind": "accept", "source_ids": [999_999]}, "Aucun segment n° 999999"),
    ],
)
def test_decisions_that_do_not_hold_together_are_refused_in_french(
    rclient: TestClient,
    recording: dict[str, Any],
    coded: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    body = {
        **body,
        "source_ids": [coded[i]["id"] if i == "mine" else i for i in body.get("source_ids", [])],
    }
    answer = _decide(rclient, recording, **body)
    assert answer.status_code == 422 and message in answer.json()["detail"], answer.text
