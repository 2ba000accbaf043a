"""The pages as a browser gets them (HTML), with the errors a researcher may meet."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories

HTML = {"accept": "text/html"}


def test_study_page_lists_recordings_interviews_codebooks(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    rec = factories.upload(rclient, sid, "A4").json()
    rclient.post(
        f"/api/v1/studies/{sid}/interviews", json={"code": "A4", "recording_ids": [rec["id"]]}
    )
    page = rclient.get(f"/studies/{sid}", headers=HTML)
    assert page.status_code == 200
    for text in (
        "Enregistrements",
        "A4",
        "auto-confrontation",
        "Se présenter",
        "ACCOMPAGNEMENT",
        "Déposer un enregistrement",
    ):
        assert text in page.text, text


def test_upload_form_stores_and_redirects(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    response = rclient.post(
        f"/studies/{sid}/recordings",
        data={"code": "A8 - 1", "counsellor_id": ""},
        files={"file": ("séance.mp4", factories.DEMO_MEDIA.read_bytes(), "video/mp4")},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"/studies/{sid}"
    assert [r["code"] for r in rclient.get(f"/api/v1/studies/{sid}/recordings").json()] == [
        "A8 - 1"
    ]
    refused = rclient.post(
        f"/studies/{sid}/recordings",
        data={"code": "A9"},
        files={"file": ("notes.docx", b"PK", "application/octet-stream")},
        headers={**HTML, "referer": f"http://testserver/studies/{sid}"},
    )
    assert refused.status_code == 415
    assert "Fichier refusé" in refused.text
    assert f'href="/studies/{sid}"' in refused.text  # back to the study, not a dead end
    assert "text/html" in refused.headers["content-type"]
    assert "notes.docx" in refused.text and "Études" in refused.text


def test_error_pages_for_a_logged_in_user(rclient: TestClient, engine: Engine, study: dict) -> None:
    missing = rclient.get("/studies/424242", headers=HTML)
    assert missing.status_code == 404 and "Introuvable" in missing.text
    assert "claire" in missing.text  # the header still shows who is logged in
    other = factories.account(engine, "marc", "researcher")
    factories.login(rclient, other)
    hidden = rclient.get(f"/studies/{study['id']}", headers=HTML)
    assert hidden.status_code == 404 and "Introuvable" in hidden.text
    unknown = rclient.get("/nowhere", headers=HTML)
    assert unknown.status_code == 404 and "<html" in unknown.text


def test_counsellor_sees_no_study_creation_form(client: TestClient, engine: Engine) -> None:
    factories.login(client, factories.account(engine, "a8", "counsellor"))
    page = client.get("/studies", headers=HTML)
    assert "Nouvelle étude" not in page.text
    assert "Demandez au chercheur" in page.text
    assert client.post("/studies", data={"name": "x"}, headers=HTML).status_code == 403


def test_recording_page_groups_annotations(rclient: TestClient, study: dict) -> None:
    rec = factories.upload(rclient, study["id"], "A1").json()
    url = f"/api/v1/recordings/{rec['id']}/annotations"
    rclient.post(url, json={"start_ms": 602_000, "origin": "prepared", "note": "<b>ici</b>"})
    page = rclient.get(f"/recordings/{rec['id']}", headers=HTML)
    assert "10’02" in page.text
    assert "&lt;b&gt;ici&lt;/b&gt;" in page.text  # escaped, never rendered as HTML
    assert "Moments préparés" in page.text


def test_invalid_forms_and_requests_are_explained_in_french(
    rclient: TestClient, study: dict
) -> None:
    page = rclient.get(f"/studies/{study['id']}/synthesis?phase=abc", headers=HTML)
    assert page.status_code == 422
    api = rclient.post("/api/v1/studies", json={"name": ""})
    assert api.status_code == 422
    assert api.json()["detail"][0]["msg"] == "au moins 1 caractère(s)"
    number = rclient.get(f"/api/v1/studies/{study['id']}/synthesis?phase=x")
    assert number.json()["detail"][0]["msg"] == "un nombre entier est attendu"
    choice = rclient.get(f"/api/v1/studies/{study['id']}/synthesis?value=mean")
    assert choice.json()["detail"][0]["msg"].startswith("valeurs possibles : 'mark'")


def test_the_back_link_of_an_error_page_stays_on_this_site(rclient: TestClient) -> None:
    for referer, back in (
        ("http://testserver/studies/1", 'href="/studies/1"'),
        ("http://testserver//evil.example/x", 'href="/studies"'),
        ("http://evil.example/studies/1", 'href="/studies"'),
    ):
        page = rclient.get("/studies/999999", headers={**HTML, "referer": referer})
        assert page.status_code == 404 and back in page.text, referer
