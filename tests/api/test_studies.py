from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories


def test_create_and_list_studies(rclient: TestClient) -> None:
    response = rclient.post("/api/v1/studies", json={"name": "  CEP 2026 ", "description": "x"})
    assert response.status_code == 201
    study = response.json()
    assert study["name"] == "CEP 2026" and study["my_role"] == "researcher"
    assert study["created_at"].endswith("Z")
    assert [s["id"] for s in rclient.get("/api/v1/studies").json()] == [study["id"]]
    assert rclient.get(f"/api/v1/studies/{study['id']}").json()["name"] == "CEP 2026"


def test_bad_study_input(rclient: TestClient) -> None:
    assert rclient.post("/api/v1/studies", json={"name": "   "}).status_code == 422
    assert rclient.post("/api/v1/studies", json={"name": "x", "owner": 3}).status_code == 422
    assert rclient.post("/api/v1/studies", json=["x"]).status_code == 422
    assert rclient.get("/api/v1/studies/999").status_code == 404
    assert rclient.get("/api/v1/studies/abc").status_code == 422


def test_non_members_and_counsellors(
    client: TestClient, engine: Engine, study: dict[str, object]
) -> None:
    other = factories.account(engine, "marc", "researcher")
    counsellor = factories.account(engine, "a8", "counsellor")
    other_h = factories.token(engine, other)
    couns_h = factories.token(engine, counsellor)
    # For someone outside, the study does not exist: the body of an unknown id.
    response = client.get(f"/api/v1/studies/{study['id']}", headers=other_h)
    unknown = client.get("/api/v1/studies/424242", headers=other_h)
    assert response.status_code == unknown.status_code == 404
    assert response.json()["detail"] == unknown.json()["detail"].replace("424242", str(study["id"]))
    assert client.get("/api/v1/studies", headers=other_h).json() == []
    denied = client.post("/api/v1/studies", json={"name": "x"}, headers=couns_h)
    assert denied.status_code == 403


def test_admin_sees_every_study(client: TestClient, engine: Engine, study: dict) -> None:
    admin = factories.token(engine, factories.account(engine, "root", "admin"))
    listed = client.get("/api/v1/studies", headers=admin).json()
    assert [(s["id"], s["my_role"]) for s in listed] == [(study["id"], "admin")]


def test_members(rclient: TestClient, engine: Engine, study: dict) -> None:
    factories.account(engine, "a8", "counsellor")
    sid = study["id"]
    added = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "a8", "role": "counsellor"}
    )
    assert added.status_code == 201 and added.json()["role"] == "counsellor"
    roles = {m["username"]: m["role"] for m in rclient.get(f"/api/v1/studies/{sid}/members").json()}
    assert roles == {"claire": "researcher", "a8": "counsellor"}
    missing = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "zz", "role": "researcher"}
    )
    assert missing.status_code == 404
    bad_role = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "a8", "role": "boss"}
    )
    assert bad_role.status_code == 422


def test_structures_counsellors_interviews(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    structure = rclient.post(
        f"/api/v1/studies/{sid}/structures",
        json={"code": "APEC-LY", "name": "APEC", "city": "Lyon", "centre": "Part-Dieu"},
    )
    assert structure.status_code == 201
    st = structure.json()
    assert st["city"] == "Lyon"
    dup = rclient.post(f"/api/v1/studies/{sid}/structures", json={"code": "APEC-LY"})
    assert dup.status_code == 409 and "déjà" in dup.json()["detail"]

    counsellor = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A8", "structure_id": st["id"]}
    )
    assert counsellor.status_code == 201
    cid = counsellor.json()["id"]
    wrong = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A9", "structure_id": 999}
    )
    assert wrong.status_code == 422 and "structure" in wrong.json()["detail"]
    no_user = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A9", "username": "nobody"}
    )
    assert no_user.status_code == 404

    r1 = factories.upload(rclient, sid, "A8 - 1", counsellor_id=cid).json()
    r2 = factories.upload(rclient, sid, "A8 - 2", counsellor_id=cid).json()
    interview = rclient.post(
        f"/api/v1/studies/{sid}/interviews",
        json={"code": "A8", "counsellor_id": cid, "recording_ids": [r2["id"], r1["id"]]},
    )
    assert interview.status_code == 201
    assert interview.json()["recording_ids"] == [r2["id"], r1["id"]]
    assert rclient.get(f"/api/v1/interviews/{interview.json()['id']}").json()["recording_ids"] == [
        r2["id"],
        r1["id"],
    ]
    listed = rclient.get(f"/api/v1/studies/{sid}/interviews").json()
    assert [i["code"] for i in listed] == ["A8"]
    unknown = rclient.post(
        f"/api/v1/studies/{sid}/interviews", json={"code": "A9", "recording_ids": [r1["id"], 999]}
    )
    assert unknown.status_code == 422 and "999" in unknown.json()["detail"]
    twice = rclient.post(
        f"/api/v1/studies/{sid}/interviews", json={"code": "A9", "recording_ids": [r1["id"]] * 2}
    )
    assert twice.status_code == 422


def test_recordings_of_another_study_cannot_join_an_interview(
    rclient: TestClient, study: dict
) -> None:
    other = rclient.post("/api/v1/studies", json={"name": "Autre"}).json()
    foreign = factories.upload(rclient, other["id"], "B1").json()
    response = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A1", "recording_ids": [foreign["id"]]},
    )
    assert response.status_code == 422
