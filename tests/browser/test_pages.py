"""A newcomer's first minutes, in Chromium: log in, open the demo study and its recording."""

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer


def _login(
    page: Page, server: LiveServer, password: str | None = None, username: str | None = None
) -> None:
    page.goto(f"{server.url}/studies")
    expect(page).to_have_url(f"{server.url}/login?next=/studies")
    page.get_by_label("Nom d'utilisateur").fill(username or server.username)
    page.get_by_label("Mot de passe").fill(password or server.password)
    page.get_by_role("button", name="Se connecter").click()


def test_wrong_password_says_so_and_keeps_the_username(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server, password="pas-le-bon")
    expect(page.get_by_role("alert")).to_contain_text("incorrect")
    expect(page.get_by_label("Nom d'utilisateur")).to_have_value(live_server.username)


def test_demo_study_recording_and_codebooks(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    expect(page).to_have_url(f"{live_server.url}/studies")
    expect(page.get_by_role("heading", name="Études", exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "studies.png", full_page=True)

    page.get_by_role("link", name="Démo — conseil en évolution professionnelle").click()
    expect(page).to_have_url(f"{live_server.url}/studies/{live_server.study_id}")
    recordings = page.locator("section", has=page.get_by_role("heading", name="Enregistrements"))
    expect(recordings.get_by_role("link", name="A8 - 1")).to_be_visible()
    expect(recordings).to_contain_text("2’15")
    schemes = page.locator("details.codebook", has_text="Schèmes d'action")
    expect(schemes.locator("li")).to_have_count(12)
    expect(schemes.locator("li").first).to_contain_text("Se présenter")
    interviews = page.locator(
        "section", has=page.get_by_role("heading", name="Entretiens d'auto-confrontation")
    )
    expect(interviews.locator("tbody tr")).to_have_count(1)
    expect(interviews).to_contain_text("A8")
    page.screenshot(path=screenshots / "study.png", full_page=True)

    recordings.get_by_role("link", name="A8 - 1").click()
    expect(page.get_by_role("heading", name="Situation A8 - 1")).to_be_visible()
    annotations = page.locator("[data-list] li")
    page.locator('[data-filter="origin"]').select_option("prepared")
    expect(annotations).to_have_count(4)
    expect(annotations.first).to_contain_text("0’34")
    expect(annotations.first).to_contain_text("Elle reformule sans vérifier")
    page.locator('[data-filter="origin"]').select_option("coding")
    expect(annotations.filter(has_text="Écouter / reformuler")).to_contain_text("0’34 – 0’41")
    page.get_by_role("tab", name="Transcription").click()
    expect(page.locator("[data-transcript] li")).to_have_count(20)
    page.screenshot(path=screenshots / "recording.png", full_page=True)

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()


def test_a_researcher_creates_a_study_from_the_page(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server)
    page.get_by_label("Nom", exact=True).fill("Étude Mission Locale")
    page.get_by_role("button", name="Créer l'étude").click()
    expect(page.get_by_role("heading", name="Étude Mission Locale")).to_be_visible()
    expect(page.locator("details.codebook")).to_have_count(4)
    page.goto(f"{live_server.url}/studies/99999")
    expect(page.get_by_role("heading", name="Introuvable")).to_be_visible()
