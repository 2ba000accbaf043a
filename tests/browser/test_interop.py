"""The ELAN import page in Chromium: a file's tiers and vocabulary shown, mapped by the user,
imported; what was created and what was not said on the page."""

import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer

EAF = Path(__file__).parents[1] / "data/eaf/features-3.0.eaf"


def _login(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Nom d'utilisateur").fill(server.username)
    page.get_by_label("Mot de passe").fill(server.password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{server.url}/studies")


def _recording(page: Page, server: LiveServer) -> dict[str, Any]:
    answer = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/recordings")
    assert answer.ok, answer.text()
    found: dict[str, Any] = next(r for r in answer.json() if r["category"] == "session")
    return found


def test_a_researcher_maps_tiers_and_imports_an_elan_file(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    recording = _recording(page, live_server)
    before = page.request.get(f"{live_server.url}/api/v1/recordings/{recording['id']}/annotations")
    count_before = len(before.json())

    page.goto(f"{live_server.url}/recordings/{recording['id']}")
    page.get_by_role("link", name="Importer un fichier ELAN…").click()
    expect(page).to_have_url(f"{live_server.url}/recordings/{recording['id']}/import/eaf")
    page.get_by_label("Fichier ELAN (.eaf)").set_input_files(str(EAF))

    rows = page.locator("[data-tiers] tr")
    expect(rows).to_have_count(9)
    # What the server proposes: the coded tier to the schemes, speakers to the transcript.
    schemes = page.locator('select[data-tier-choice="Schèmes"]')
    expect(schemes).to_have_value("schemes")
    expect(page.locator('select[data-tier-choice="Conseillère"]')).to_have_value("transcript")
    expect(page.locator('tr[data-tier="Conseillère-gloses"] td.values')).to_have_text(
        "vous · apporté · avez · CV"
    )
    # Only a dependent tier may fill its parent's note or a field.
    assert page.locator('select[data-tier-choice="Schèmes"] option[value="note"]').count() == 0
    comment = page.locator('select[data-tier-choice="Schèmes-commentaire"]')
    comment.select_option("note")
    page.locator('select[data-tier-choice="Schèmes-gestes"]').select_option("field:indicateurs")
    page.locator('select[data-tier-choice="Moments à revoir"]').select_option("prepared")
    for skipped in ("Conseillère-mots", "Conseillère-gloses", "Conseillère-en"):
        page.locator(f'select[data-tier-choice="{skipped}"]').select_option("")
    vocabulary = page.locator("select[data-vocabulary-choice]")
    expect(vocabulary).to_have_count(1)
    expect(vocabulary.locator("option:checked")).to_have_text("Schèmes d'action")
    page.screenshot(path=str(screenshots / "import-eaf-preview.png"), full_page=True)

    page.get_by_role("button", name="Importer").click()
    result = page.locator("[data-result]")
    expect(result).to_be_visible()
    expect(result.locator('[data-count="annotations"]')).to_have_text("7")
    expect(result.locator('[data-count="attached"]')).to_have_text("2")
    # "Accueillir" is not a code of the study (codes were not created): said, kept as a note.
    expect(result.locator("[data-unmatched] li")).to_have_text(
        ["Accueillir (piste « Schèmes », 1 fois) : absente du livre de codes, gardée en note"]
    )
    expect(result.locator("[data-skipped]")).to_contain_text("Conseillère-en : laissée de côté")
    # The file's annotator is not a member of the demo study: said, and the importer is the author.
    expect(result.locator("[data-authors] li")).to_have_text(["claire"])
    page.screenshot(path=str(screenshots / "import-eaf-result.png"), full_page=True)

    after = page.request.get(
        f"{live_server.url}/api/v1/recordings/{recording['id']}/annotations"
    ).json()
    assert len(after) == count_before + 7
    scheme = next(a for a in after if a["note"].startswith("reformule la demande"))
    assert (scheme["start_ms"], scheme["end_ms"], scheme["layer"]) == (1_000, 4_000, "schemes")
    assert scheme["fields"] == {"indicateurs": "hoche la tête"}
    assert [a["start_ms"] for a in after if a["note"] == "elle hésite ici"] == [9_500]


def test_a_file_that_is_not_elan_is_refused_on_the_page(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    _login(page, live_server)
    recording = _recording(page, live_server)
    page.goto(f"{live_server.url}/recordings/{recording['id']}/import/eaf")
    hostile = tmp_path / "piege.eaf"
    hostile.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<ANNOTATION_DOCUMENT>&x;</ANNOTATION_DOCUMENT>"
    )
    page.get_by_label("Fichier ELAN (.eaf)").set_input_files(str(hostile))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("« piege.eaf » déclare une DTD ou des entités")
    expect(page.locator("[data-preview]")).to_be_hidden()


def test_a_researcher_imports_a_refi_qda_project_from_the_study_page(
    page: Page, live_server: LiveServer, tmp_path: Path, screenshots: Path
) -> None:
    _login(page, live_server)
    recording = _recording(page, live_server)
    project = (Path(__file__).parents[1] / "data/qdpx/foreign-project.qde").read_bytes()
    project = project.replace(b'name="A8 - 1"', f'name="{recording["code"]}"'.encode())
    archive = tmp_path / "these.qdpx"
    with zipfile.ZipFile(archive, "w") as target:
        target.writestr("project.qde", project)
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    section = page.locator("#echanges")
    expect(
        section.get_by_role("link", name="Exporter le projet REFI-QDA (.qdpx), médias à côté")
    ).to_be_visible()
    section.get_by_label("Importer un projet REFI-QDA (.qdpx)").set_input_files(str(archive))
    section.get_by_role("button", name="Importer", exact=True).click()
    expect(page.get_by_role("heading", name="Import du projet « these.qdpx »")).to_be_visible()
    rows = page.locator("table.data tbody tr")
    expect(rows.filter(has_text="Journal de terrain")).to_contain_text(
        "autoconf ne reprend que les sources audio et vidéo"
    )
    expect(page.get_by_role("link", name=recording["code"])).to_be_visible()
    page.screenshot(path=str(screenshots / "import-qdpx-result.png"), full_page=True)
