"""The pages as a browser gets them (HTML), with the errors a researcher may meet."""

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from autoconf.models import Recording
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


def _row_cells(page: str, recording_id: int) -> list[str]:
    """The cells of the study page's row of a recording."""
    for row in re.findall(r"<tr>.*?</tr>", page, re.S):
        if f'href="/recordings/{recording_id}"' in row:
            return [
                re.sub(r"<[^>]+>", "", cell).strip()
                for cell in re.findall(r"<td.*?</td>", row, re.S)
            ]
    raise AssertionError(f"no row for recording {recording_id}")


def test_the_study_counts_annotations_as_the_annotator_lists_them(
    rclient: TestClient, study: dict
) -> None:
    rec = factories.upload(rclient, study["id"], "A4").json()
    url = f"/api/v1/recordings/{rec['id']}/annotations"
    rclient.post(url, json={"start_ms": 1_000, "origin": "prepared", "note": "le mien, privé"})
    rclient.post(url, json={"start_ms": 2_000, "end_ms": 3_000})
    vtt = b"WEBVTT\n\n00:00.000 --> 00:01.000\n<v A>Bonjour\n\n00:01.000 --> 00:02.000\n<v B>Oui\n"
    imported = rclient.post(
        f"/api/v1/recordings/{rec['id']}/transcript", files={"file": ("t.vtt", vtt, "text/vtt")}
    )
    assert imported.status_code == 200, imported.text
    page = rclient.get(f"/studies/{study['id']}", headers=HTML).text
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th>.*?</th>", page)]
    assert _row_cells(page, rec["id"])[headers.index("Annotations")] == "2"  # not the 2 cues


def test_recording_page_heading_erase_zone_and_consent_actions(
    rclient: TestClient, study: dict, engine: Engine
) -> None:
    rec = factories.upload(rclient, study["id"], "A8 - 1").json()
    page = rclient.get(f"/recordings/{rec['id']}", headers=HTML).text
    assert "<h1>Situation A8 - 1</h1>" in page
    # Erasing sits in a section of its own, after the consents.
    assert page.index("Zone de suppression") > page.index("Consentements")
    assert page.index("Effacer l'enregistrement…") > page.index("Zone de suppression")
    # The consent's training box says what ticking it does; a withdrawal says what it takes.
    assert "Autoriser aussi les extraits pour la formation" in page
    factories.consent_all(rclient, rec["id"], scopes=("research",))
    page = rclient.get(f"/recordings/{rec['id']}", headers=HTML).text
    assert "Retirer ce consentement" in page
    with Session(engine) as session:
        recording = session.get(Recording, rec["id"])
        assert recording is not None
        recording.category = "autoconfrontation"
        session.add(recording)
        session.commit()
    page = rclient.get(f"/recordings/{rec['id']}", headers=HTML).text
    assert "<h1>Entretien d'auto-confrontation A8 - 1</h1>" in page
    assert "Situation A8 - 1" not in page


def test_the_favicon_answers_without_signing_in(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    page = client.get("/login", headers=HTML).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert client.get("/static/favicon.svg").status_code == 200
