"""Agreement between two coders on a recording through the API: the figures, the consensus
as a coder, the refusals."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories


def _url(recording_id: int, coders: str, **query: Any) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"/api/v1/recordings/{recording_id}/agreement?coders={coders}{extra}"


@pytest.fixture
def pair(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> dict[str, Any]:
    """Claire (the researcher) and Inès code the same 10-second recording."""
    ines = factories.researcher_member(engine, rclient, recording["study_id"], "ines")
    factories.set_duration(engine, recording["id"], 10_000)
    schemes = factories.codes_by_path(rclient, recording["study_id"], "schemes")
    listen, ask = schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]
    url = factories.annotations_url(recording)
    as_ines = factories.token(engine, ines)
    for who, body in (
        (None, {"start_ms": 0, "end_ms": 4_000, "code_ids": [listen]}),
        (None, {"start_ms": 4_000, "end_ms": 8_000, "code_ids": [ask]}),
        (as_ines, {"start_ms": 0, "end_ms": 3_000, "code_ids": [listen]}),
        (as_ines, {"start_ms": 3_000, "end_ms": 10_000, "code_ids": [ask]}),
        (None, {"start_ms": 0, "end_ms": 4_000, "code_ids": [listen], "layer": "consensus"}),
        (None, {"start_ms": 4_000, "end_ms": 8_000, "code_ids": [ask], "layer": "consensus"}),
    ):
        made = (client if who else rclient).post(url, json=body, headers=who or {})
        assert made.status_code == 201, made.text
    me = rclient.get("/api/v1/me").json()["id"]
    return {"claire": me, "ines": ines.id}


def test_two_coders_agree_on_seven_slices_out_of_ten(
    rclient: TestClient, recording: dict[str, Any], pair: dict[str, Any]
) -> None:
    answer = rclient.get(_url(recording["id"], f"{pair['claire']},{pair['ines']}"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["slices"], result["slice_ms"], result["layer"]) == (10, 1_000, "schemes")
    assert result["percent"] == {
        "method": "percent",
        "value": pytest.approx(70.0),
        "reason": None,
        "parameters": {"slice_ms": 1_000, "no_code": "(aucun code)"},
    }
    assert 0 < result["kappa"]["value"] < 1 and 0 < result["alpha"]["value"] < 1
    assert result["confusion"] == {
        "(aucun code)": {"Questionner / vérifier": 2},
        "Questionner / vérifier": {"Questionner / vérifier": 4},
        "Écouter / reformuler": {"Questionner / vérifier": 1, "Écouter / reformuler": 3},
    }
    # Half-second slices: the same figure, finer.
    fine = rclient.get(_url(recording["id"], f"{pair['claire']},{pair['ines']}", slice_ms=500))
    assert fine.json()["slices"] == 20 and fine.json()["percent"]["value"] == pytest.approx(70.0)
    # Claire against the consensus (her coding): full agreement.
    consensus = rclient.get(_url(recording["id"], f"{pair['claire']},consensus")).json()
    assert consensus["percent"]["value"] == 100.0
    assert consensus["kappa"]["value"] == pytest.approx(1.0)


def test_a_silent_coder_gives_null_figures_with_a_reason(
    rclient: TestClient, recording: dict[str, Any], engine: Engine, pair: dict[str, Any]
) -> None:
    # Nobody coded the phases layer: "no code" everywhere for both.
    answer = rclient.get(_url(recording["id"], f"{pair['claire']},{pair['ines']}", layer="phases"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["percent"]["value"] == 100.0
    assert (result["kappa"]["value"], result["kappa"]["reason"]) == (None, "single_category")
    assert (result["alpha"]["value"], result["alpha"]["reason"]) == (None, "single_category")


@pytest.mark.parametrize(
    ("coders", "query", "status", "message"),
    [
        ("{claire}", {}, 422, "deux codeurs différents"),
        ("{claire},{claire}", {}, 422, "deux codeurs différents"),
        ("{claire},999999", {}, 422, "n'est pas chercheur de cette étude"),
        ("{claire},tous", {}, 422, "ni un numéro d'utilisateur ni « consensus »"),
        ("{claire},{ines}", {"layer": "transcript"}, 422, "n'est pas une couche de codage"),
    ],
)
def test_wrong_requests_are_refused_in_french(
    rclient: TestClient,
    recording: dict[str, Any],
    pair: dict[str, Any],
    coders: str,
    query: dict[str, str],
    status: int,
    message: str,
) -> None:
    answer = rclient.get(_url(recording["id"], coders.format(**pair), **query))
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]


def test_no_figure_before_processing_and_none_for_counsellors(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> None:
    me = rclient.get("/api/v1/me").json()["id"]
    early = rclient.get(_url(recording["id"], f"{me},consensus"))
    assert early.status_code == 409 and "pas encore de durée" in early.json()["detail"]
    who, counsellor = factories.counsellor_member(
        engine, rclient, recording["study_id"], "yann", "C1"
    )
    linked = rclient.patch(
        f"/api/v1/recordings/{recording['id']}", json={"counsellor_id": counsellor}
    )
    assert linked.status_code == 200
    refused = client.get(
        _url(recording["id"], f"{me},consensus"), headers=factories.token(engine, who)
    )
    assert refused.status_code == 403  # a counsellor never sees figures about themselves


def test_segments_unitizing_per_code_and_disagreements(
    rclient: TestClient, recording: dict[str, Any], pair: dict[str, Any]
) -> None:
    """Claire: listen [0, 4 s), ask [4, 8 s); Inès: listen [0, 3 s), ask [3, 10 s)."""
    result = rclient.get(_url(recording["id"], f"{pair['claire']},{pair['ines']}")).json()
    listen, ask = "Écouter / reformuler", "Questionner / vérifier"
    # Listen: overlap 3 s of 4 s (0.75) matches; ask: 4 s of 7 s (0.57) is under 0.6.
    segments = result["segments"]
    assert (segments["matched"], segments["same_code"], segments["only_a"], segments["only_b"]) == (
        1,
        1,
        1,
        1,
    )
    assert segments["percent"]["value"] == pytest.approx(100 / 3)
    assert segments["percent"]["parameters"] == {"overlap_threshold": 0.6}
    looser = rclient.get(
        _url(recording["id"], f"{pair['claire']},{pair['ines']}", threshold=0.5)
    ).json()["segments"]
    assert (looser["matched"], looser["same_code"], looser["percent"]["value"]) == (2, 2, 100.0)
    for name in ("u_alpha", "binary_u_alpha", "cu_alpha"):
        figure = result[name]
        assert figure["method"] == name and -1 <= figure["value"] < 1, figure
    codes = {row["code"]: row for row in result["per_code"]}
    assert (codes[listen]["ms_a"], codes[listen]["ms_b"], codes[listen]["matched"]) == (
        4_000,
        3_000,
        1,
    )
    assert (codes[ask]["ms_a"], codes[ask]["ms_b"]) == (4_000, 7_000)
    assert (codes[ask]["matched"], codes[ask]["only_a"], codes[ask]["only_b"]) == (0, 1, 1)
    assert codes[listen]["u_alpha"]["parameters"]["code"] == listen
    stretches = [
        (d["start_ms"], d["end_ms"], d["codes_a"], d["codes_b"]) for d in result["disagreements"]
    ]
    assert stretches == [
        (3_000, 4_000, [listen], [ask]),
        (8_000, 10_000, ["(aucun code)"], [ask]),
    ]
    first = result["disagreements"][0]
    assert len(first["segments_a"]) == 1 and len(first["segments_b"]) == 1
    assert result["disagreements"][1]["segments_a"] == []


def test_a_study_lays_its_recordings_end_to_end(
    rclient: TestClient,
    client: TestClient,
    recording: dict[str, Any],
    pair: dict[str, Any],
    engine: Engine,
) -> None:
    study = recording["study_id"]
    coders = f"{pair['claire']},{pair['ines']}"
    alone = rclient.get(f"/api/v1/studies/{study}/agreement?coders={coders}")
    assert alone.status_code == 200, alone.text
    one = rclient.get(_url(recording["id"], coders)).json()
    assert alone.json()["percent"] == one["percent"] and alone.json()["recording_ids"] == [
        recording["id"]
    ]
    # A second recording of 10 s, where both coded "listen" over [0, 10 s): 17 of 20 slices.
    second = factories.upload(rclient, study, "Z2", b"x").json()["id"]
    factories.set_duration(engine, second, 10_000)
    listen = factories.codes_by_path(rclient, study, "schemes")["Écouter / reformuler"]
    url = f"/api/v1/recordings/{second}/annotations"
    as_ines = factories.token(engine, factories.Account(pair["ines"], "ines", "", "researcher"))
    body = {"start_ms": 0, "end_ms": 10_000, "code_ids": [listen]}
    assert rclient.post(url, json=body).status_code == 201
    assert client.post(url, json=body, headers=as_ines).status_code == 201
    both = rclient.get(f"/api/v1/studies/{study}/agreement?coders={coders}").json()
    assert both["recording_ids"] == [recording["id"], second] and both["slices"] == 20
    assert both["percent"]["value"] == pytest.approx(85.0)
    assert [d["recording_id"] for d in both["disagreements"]] == [recording["id"]] * 2
    picked = rclient.get(f"/api/v1/studies/{study}/agreement?coders={coders}&recordings={second}")
    assert picked.json()["percent"]["value"] == 100.0
    wrong = rclient.get(f"/api/v1/studies/{study}/agreement?coders={coders}&recordings=999999")
    assert wrong.status_code == 422 and "pas dans cette étude" in wrong.json()["detail"]


def test_a_scheme_segment_s_categories_are_compared_on_their_own_layer(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> None:
    """A scheme segment often carries a category as well ("Écouter / reformuler" about
    Motivation): the schemes are compared on the schemes layer, the category never takes a
    slice's place (it sorted first, and did, until a researcher saw it)."""
    ines = factories.researcher_member(engine, rclient, recording["study_id"], "ines")
    factories.set_duration(engine, recording["id"], 4_000)
    schemes = factories.codes_by_path(rclient, recording["study_id"], "schemes")
    categories = factories.codes_by_path(rclient, recording["study_id"], "categories")
    theme = sorted(categories)[0]  # sorts before every scheme
    assert theme < "Écouter / reformuler"
    listen = schemes["Écouter / reformuler"]
    url = factories.annotations_url(recording)
    mine = {"start_ms": 0, "end_ms": 4_000, "code_ids": [listen, categories[theme]]}
    hers = {"start_ms": 0, "end_ms": 4_000, "code_ids": [listen]}
    assert rclient.post(url, json=mine).status_code == 201
    assert client.post(url, json=hers, headers=factories.token(engine, ines)).status_code == 201
    me = rclient.get("/api/v1/me").json()["id"]
    result = rclient.get(_url(recording["id"], f"{me},{ines.id}")).json()
    assert result["percent"]["value"] == 100.0
    assert result["confusion"] == {"Écouter / reformuler": {"Écouter / reformuler": 4}}
    assert result["disagreements"] == []
