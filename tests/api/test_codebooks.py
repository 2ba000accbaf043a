from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.schemes.defaults import SCHEMES, SCHEMES_EN
from tests import factories


def _books(client: TestClient, sid: int) -> dict[str, dict]:
    response = client.get(f"/api/v1/studies/{sid}/codebooks")
    assert response.status_code == 200
    return {b["kind"]: b for b in response.json()}


def test_a_new_study_has_the_default_vocabularies(rclient: TestClient, study: dict) -> None:
    books = _books(rclient, study["id"])
    assert set(books) == {"schemes", "phases", "principles", "categories"}
    schemes = books["schemes"]["codes"]
    assert [c["label"] for c in schemes] == list(SCHEMES)
    assert [c["label_en"] for c in schemes] == list(SCHEMES_EN)
    assert schemes[0]["hotkey"] == "1" and schemes[0]["color"].startswith("#")
    first = schemes[0]
    assert set(first) == {
        "id",
        "codebook_id",
        "path",
        "label",
        "parent_id",
        "position",
        "description",
        "label_en",
        "description_en",
        "color",
        "hotkey",
        "archived",
    }
    categories = {c["path"]: c for c in books["categories"]["codes"]}
    cv = categories["ACCOMPAGNEMENT/Actions/CV"]
    assert cv["parent_id"] == categories["ACCOMPAGNEMENT/Actions"]["id"]
    assert cv["description"] == "Faire son CV, valoriser ses compétences"
    assert cv["description_en"] == "Writing one's CV, highlighting one's skills"
    assert categories["ACCOMPAGNEMENT"]["label_en"] == "SUPPORT"
    assert categories["AUTONOMIE/Motivation"]["id"] != categories["BENEFICIAIRES/Motivation"]["id"]
    assert [c["label_en"] for c in books["phases"]["codes"]] == [
        "Diagnosis",
        "Part 1",
        "Part 2",
        "Part 3",
    ]


def test_a_code_in_english_too(rclient: TestClient, study: dict) -> None:
    """The English label and description: optional, trimmed, limited like the French ones;
    changed alone, emptied with ""; null is refused (omit the field instead)."""
    book = _books(rclient, study["id"])["phases"]
    url = f"/api/v1/codebooks/{book['id']}/codes"
    plain = rclient.post(url, json={"label": "Clôture"})
    assert plain.status_code == 201, plain.text
    assert (plain.json()["label_en"], plain.json()["description_en"]) == ("", "")
    made = rclient.post(
        url,
        json={
            "label": "Bilan",
            "label_en": "  Review  ",
            "description_en": " What was done, what comes next ",
        },
    )
    assert made.status_code == 201, made.text
    code = made.json()
    assert (code["label_en"], code["description_en"]) == (
        "Review",
        "What was done, what comes next",
    )
    patched = rclient.patch(f"/api/v1/codes/{code['id']}", json={"label_en": "Wrap-up"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["label_en"] == "Wrap-up"
    assert patched.json()["description_en"] == "What was done, what comes next"
    assert patched.json()["label"] == "Bilan"
    emptied = rclient.patch(
        f"/api/v1/codes/{code['id']}", json={"label_en": "   ", "description_en": ""}
    )
    assert emptied.status_code == 200, emptied.text
    assert (emptied.json()["label_en"], emptied.json()["description_en"]) == ("", "")
    for body in ({"label_en": None}, {"description_en": None}, {"label_en": "x" * 301}):
        refused = rclient.patch(f"/api/v1/codes/{code['id']}", json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert rclient.post(url, json={"label": "Autre", "label_en": "x" * 301}).status_code == 422
    listed = {c["id"]: c for c in _books(rclient, study["id"])["phases"]["codes"]}
    assert listed[code["id"]]["label_en"] == ""


def test_create_nested_code_reorder_and_move(rclient: TestClient, study: dict) -> None:
    book = _books(rclient, study["id"])["categories"]
    paths = {c["path"]: c["id"] for c in book["codes"]}
    url = f"/api/v1/codebooks/{book['id']}/codes"
    new = rclient.post(
        url,
        json={
            "label": "Bilan",
            "parent_id": paths["ACCOMPAGNEMENT/Actions"],
            "position": 0,
            "color": "#112233",
        },
    )
    assert new.status_code == 201, new.text
    code = new.json()
    assert code["path"] == "ACCOMPAGNEMENT/Actions/Bilan" and code["position"] == 0
    siblings = [
        c
        for c in _books(rclient, study["id"])["categories"]["codes"]
        if c["parent_id"] == paths["ACCOMPAGNEMENT/Actions"]
    ]
    assert [c["label"] for c in siblings][:2] == ["Bilan", "CV"]
    assert [c["position"] for c in siblings] == list(range(len(siblings)))

    moved = rclient.patch(f"/api/v1/codes/{code['id']}", json={"parent_id": paths["AUTONOMIE"]})
    assert moved.status_code == 200 and moved.json()["path"] == "AUTONOMIE/Bilan"
    renamed = rclient.patch(f"/api/v1/codes/{code['id']}", json={"label": "Bilan de compétences"})
    assert renamed.json()["path"] == "AUTONOMIE/Bilan de compétences"
    to_root = rclient.patch(f"/api/v1/codes/{code['id']}", json={"parent_id": None, "position": 0})
    assert to_root.json()["path"] == "Bilan de compétences"
    roots = [
        c["label"]
        for c in _books(rclient, study["id"])["categories"]["codes"]
        if c["parent_id"] is None
    ]
    assert roots[0] == "Bilan de compétences"


def test_code_rules_give_clear_errors(rclient: TestClient, study: dict) -> None:
    books = _books(rclient, study["id"])
    cats = {c["path"]: c["id"] for c in books["categories"]["codes"]}
    schemes = books["schemes"]
    url = f"/api/v1/codebooks/{books['categories']['id']}/codes"
    dup = rclient.post(url, json={"label": "motivation", "parent_id": cats["AUTONOMIE"]})
    assert dup.status_code == 409 and "existe déjà" in dup.json()["detail"]
    hotkey = rclient.post(url, json={"label": "Neuf", "hotkey": "1"})
    assert hotkey.status_code == 409 and "Se présenter" in hotkey.json()["detail"]
    foreign_parent = rclient.post(url, json={"label": "X", "parent_id": schemes["codes"][0]["id"]})
    assert foreign_parent.status_code == 422
    cycle = rclient.patch(
        f"/api/v1/codes/{cats['ACCOMPAGNEMENT']}",
        json={"parent_id": cats["ACCOMPAGNEMENT/Actions/CV"]},
    )
    assert cycle.status_code == 422 and "lui-même" in cycle.json()["detail"]
    for body in (
        {"label": ""},
        {"label": "x", "color": "red"},
        {"label": "x", "hotkey": "ab"},
        {"label": "x", "position": -1},
        {"label": "x", "bogus": 1},
    ):
        assert rclient.post(url, json=body).status_code == 422, body
    assert rclient.post("/api/v1/codebooks/999/codes", json={"label": "x"}).status_code == 404
    assert rclient.patch("/api/v1/codes/999999", json={"label": "x"}).status_code == 404


def test_archiving_frees_the_hotkey_and_unarchiving_checks_it(
    rclient: TestClient, study: dict
) -> None:
    schemes = _books(rclient, study["id"])["schemes"]
    first = schemes["codes"][0]
    assert rclient.patch(f"/api/v1/codes/{first['id']}", json={"archived": True}).json()["archived"]
    reuse = rclient.post(
        f"/api/v1/codebooks/{schemes['id']}/codes", json={"label": "Accueillir", "hotkey": "1"}
    )
    assert reuse.status_code == 201
    back = rclient.patch(f"/api/v1/codes/{first['id']}", json={"archived": False})
    assert back.status_code == 409
    cleared = rclient.patch(
        f"/api/v1/codes/{first['id']}", json={"archived": False, "hotkey": None}
    )
    assert cleared.status_code == 200 and cleared.json()["hotkey"] is None


def test_delete_refuses_while_used_unless_forced(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    cats = factories.codes_by_path(rclient, sid, "categories")
    rec = factories.upload(rclient, sid, "A1").json()
    annotation = rclient.post(
        f"/api/v1/recordings/{rec['id']}/annotations",
        json={"start_ms": 0, "end_ms": 1000, "code_ids": [cats["ACCOMPAGNEMENT/Actions/CV"]]},
    ).json()
    refused = rclient.delete(f"/api/v1/codes/{cats['ACCOMPAGNEMENT']}")
    assert refused.status_code == 409 and "1 annotation" in refused.json()["detail"]
    unused = rclient.delete(f"/api/v1/codes/{cats['TRAVAIL']}")
    assert unused.status_code == 204
    forced = rclient.delete(f"/api/v1/codes/{cats['ACCOMPAGNEMENT']}?force=true")
    assert forced.status_code == 204
    left = factories.codes_by_path(rclient, sid, "categories")
    assert not any(p.startswith(("ACCOMPAGNEMENT", "TRAVAIL")) for p in left)
    assert "AUTONOMIE/Motivation" in left
    kept = rclient.get(f"/api/v1/recordings/{rec['id']}/annotations").json()
    assert [(a["id"], a["code_ids"]) for a in kept] == [(annotation["id"], [])]


def test_counsellors_and_strangers_cannot_edit_codebooks(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    factories.account(engine, "a8", "counsellor")
    rclient.post(
        f"/api/v1/studies/{study['id']}/members", json={"username": "a8", "role": "counsellor"}
    )
    book = _books(rclient, study["id"])["schemes"]
    counsellor = factories.token(engine, factories.Account(0, "a8", "", "counsellor"))
    stranger = factories.token(engine, factories.account(engine, "marc", "researcher"))
    readable = client.get(f"/api/v1/studies/{study['id']}/codebooks", headers=counsellor)
    assert readable.status_code == 200
    # A counsellor may read but not edit; for a stranger the codebook does not exist.
    for headers, status in ((counsellor, 403), (stranger, 404)):
        post = client.post(
            f"/api/v1/codebooks/{book['id']}/codes", json={"label": "x"}, headers=headers
        )
        assert post.status_code == status
        patch = client.patch(
            f"/api/v1/codes/{book['codes'][0]['id']}", json={"label": "x"}, headers=headers
        )
        assert patch.status_code == status
