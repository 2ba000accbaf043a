"""Inputs that once reached a 500 or slipped past a rule; each must get a clear 4xx."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from autoconf.errors import Conflict
from autoconf.models import Annotation, Recording
from autoconf.schemes import annotations
from tests import factories

HUGE = 10**20


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/studies/{h}",
        "/api/v1/recordings/{h}",
        "/api/v1/annotations/{h}",
        "/api/v1/interviews/{h}",
        "/api/v1/recordings/{h}/annotations",
        "/api/v1/studies/0",
    ],
)
def test_ids_out_of_range_are_422(rclient: TestClient, path: str) -> None:
    assert rclient.get(path.format(h=HUGE)).status_code == 422
    assert rclient.get(path.format(h=2**40)).status_code == 422


def test_ids_out_of_range_in_bodies(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    rec = factories.upload(rclient, sid, "A1").json()
    bodies = [
        (f"/api/v1/recordings/{rec['id']}/annotations", {"start_ms": 0, "code_ids": [HUGE]}),
        (f"/api/v1/studies/{sid}/counsellors", {"code": "X", "structure_id": HUGE}),
        (f"/api/v1/studies/{sid}/interviews", {"code": "X", "recording_ids": [HUGE]}),
        (f"/api/v1/studies/{sid}/interviews", {"code": "X", "counsellor_id": 2**40}),
    ]
    for url, body in bodies:
        assert rclient.post(url, json=body).status_code == 422, body
    upload = factories.upload(rclient, sid, "A2", counsellor_id=HUGE)
    assert upload.status_code == 422
    assert rclient.delete(f"/api/v1/me/tokens/{HUGE}").status_code == 422


def test_nul_characters_are_refused(rclient: TestClient, study: dict) -> None:
    assert rclient.post("/api/v1/studies", json={"name": "a\u0000b"}).status_code == 422
    rec = factories.upload(rclient, study["id"], "A1").json()
    url = f"/api/v1/recordings/{rec['id']}/annotations"
    assert rclient.post(url, json={"start_ms": 0, "note": "a\u0000"}).status_code == 422
    assert rclient.post(url, json={"start_ms": 0, "fields": {"but": "\u0000"}}).status_code == 422
    assert factories.upload(rclient, study["id"], "A\u00002").status_code == 422


def test_explicit_null_for_a_required_field_is_refused(rclient: TestClient, study: dict) -> None:
    code = next(iter(factories.codes_by_path(rclient, study["id"], "schemes").values()))
    for body in ({"label": None}, {"color": None}, {"archived": None}, {"position": None}):
        response = rclient.patch(f"/api/v1/codes/{code}", json=body)
        assert response.status_code == 422, body
        assert "null" in str(response.json()["detail"])
    assert rclient.patch(f"/api/v1/codes/{code}", json={"hotkey": None}).status_code == 200
    rec = factories.upload(rclient, study["id"], "A1").json()
    made = rclient.post(f"/api/v1/recordings/{rec['id']}/annotations", json={"start_ms": 5}).json()
    for body in ({"note": None}, {"code_ids": None}, {"fields": None}, {"start_ms": None}):
        response = rclient.patch(f"/api/v1/annotations/{made['id']}", json={"version": 1, **body})
        assert response.status_code == 422, body
    ok = rclient.patch(f"/api/v1/annotations/{made['id']}", json={"version": 1, "speaker": None})
    assert ok.status_code == 200


def test_paths_stay_unique_and_delete_takes_only_the_subtree(
    rclient: TestClient, study: dict
) -> None:
    books = {b["kind"]: b for b in rclient.get(f"/api/v1/studies/{study['id']}/codebooks").json()}
    url = f"/api/v1/codebooks/{books['principles']['id']}/codes"
    parent = rclient.post(url, json={"label": "Motivation"}).json()
    child = rclient.post(url, json={"label": "Freins", "parent_id": parent["id"]}).json()
    assert child["path"] == "Motivation/Freins"
    clash = rclient.post(url, json={"label": "Motivation/Freins"})
    assert clash.status_code == 409 and "chemin" in clash.json()["detail"]
    lookalike = rclient.post(url, json={"label": "Motivation/Autres"}).json()
    assert rclient.delete(f"/api/v1/codes/{parent['id']}").status_code == 204
    left = factories.codes_by_path(rclient, study["id"], "principles")
    assert "Motivation/Autres" in left and lookalike["id"] in left.values()
    assert "Motivation" not in left and "Motivation/Freins" not in left


def test_delete_with_a_stale_version_deletes_nothing(
    engine: Engine, rclient: TestClient, study: dict
) -> None:
    rec = factories.upload(rclient, study["id"], "A1").json()
    made = rclient.post(f"/api/v1/recordings/{rec['id']}/annotations", json={"start_ms": 5}).json()
    with Session(engine) as reader:
        stale = reader.get(Annotation, made["id"])  # read at version 1
        assert stale is not None
        changed = rclient.patch(
            f"/api/v1/annotations/{made['id']}", json={"version": 1, "note": "x"}
        )
        assert changed.json()["version"] == 2
        with pytest.raises(Conflict):
            annotations.delete_annotation(reader, stale, version=1)
        reader.rollback()
    assert rclient.get(f"/api/v1/annotations/{made['id']}").json()["note"] == "x"
    with Session(engine) as reader:
        recording = reader.get(Recording, rec["id"])
        assert recording is not None


def test_study_form_refuses_a_blank_name(rclient: TestClient) -> None:
    response = rclient.post("/studies", data={"name": "   "}, headers={"accept": "text/html"})
    assert response.status_code == 422
    assert rclient.get("/api/v1/studies").json() == []


def test_counsellors_see_researchers_not_other_counsellors(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    sid = study["id"]
    for name in ("a8", "a4"):
        factories.account(engine, name, "counsellor")
        rclient.post(
            f"/api/v1/studies/{sid}/members", json={"username": name, "role": "counsellor"}
        )
    headers = factories.token(engine, factories.Account(0, "a8", "", "counsellor"))
    seen = {
        m["username"] for m in client.get(f"/api/v1/studies/{sid}/members", headers=headers).json()
    }
    assert seen == {"claire", "a8"}
    everyone = {m["username"] for m in rclient.get(f"/api/v1/studies/{sid}/members").json()}
    assert everyone == {"claire", "a8", "a4"}


def test_member_roles_are_guarded(rclient: TestClient, engine: Engine, study: dict) -> None:
    sid = study["id"]
    factories.account(engine, "a8", "counsellor")
    promote = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "a8", "role": "researcher"}
    )
    assert promote.status_code == 422 and "conseiller" in promote.json()["detail"]
    demote = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "claire", "role": "counsellor"}
    )
    assert demote.status_code == 409 and "au moins un chercheur" in demote.json()["detail"]


def test_an_interview_holds_only_its_counsellors_recordings(
    rclient: TestClient, study: dict
) -> None:
    sid = study["id"]
    a8 = rclient.post(f"/api/v1/studies/{sid}/counsellors", json={"code": "A8"}).json()["id"]
    a4 = rclient.post(f"/api/v1/studies/{sid}/counsellors", json={"code": "A4"}).json()["id"]
    mine = factories.upload(rclient, sid, "A8 - 1", counsellor_id=a8).json()["id"]
    theirs = factories.upload(rclient, sid, "A4", counsellor_id=a4).json()["id"]
    response = rclient.post(
        f"/api/v1/studies/{sid}/interviews",
        json={"code": "A8", "counsellor_id": a8, "recording_ids": [mine, theirs]},
    )
    assert response.status_code == 422 and "A4" in response.json()["detail"]


def test_uploads_without_credentials_are_refused_before_reading(client: TestClient) -> None:
    def body():  # a chunked body: no Content-Length to check
        for _ in range(64):
            yield b"x" * 1024 * 1024
            raise AssertionError("the server read the body of an anonymous upload")

    response = client.post(
        "/api/v1/studies/1/recordings",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 401


def test_small_bodies_are_capped_even_when_chunked(rclient: TestClient) -> None:
    def body():
        yield b'{"name": "'
        for _ in range(3):
            yield b"x" * 1024 * 1024
        yield b'"}'

    response = rclient.post(
        "/api/v1/studies", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert rclient.get("/api/v1/studies").json() == []
