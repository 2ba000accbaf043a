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

    column = recordings.locator("thead th").all_inner_texts().index("Annotations")
    counted = recordings.locator("tr", has_text="A8 - 1").locator("td").nth(column).inner_text()
    recordings.get_by_role("link", name="A8 - 1").click()
    expect(page.get_by_role("heading", name="Situation A8 - 1")).to_be_visible()
    # The study counts what the annotator lists (the transcript's cues are not annotations).
    expect(page.locator("[data-list-count]")).to_have_text(counted)
    # Erasing is apart from the live session's button, in a section of its own at the bottom.
    danger = page.locator("section", has=page.get_by_role("heading", name="Zone de suppression"))
    expect(danger.get_by_role("link", name="Effacer l'enregistrement…")).to_be_visible()
    live_start = page.locator("form.live-start")
    expect(live_start).to_be_visible()
    expect(live_start.locator("xpath=..")).not_to_contain_text("Effacer l'enregistrement")
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
    # The interview's own recording is headed as such, not as a counselling session.
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    page.get_by_role("link", name="A8 - AC").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Entretien d'auto-confrontation A8 - AC"
    )
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    expect(recordings.locator("tr", has_text="A8 - AC").locator("td").nth(column)).to_have_text("0")

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


def test_every_page_has_its_icon_and_no_request_fails(page: Page, live_server: LiveServer) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    _login(page, live_server)
    for path in ("/studies", f"/studies/{live_server.study_id}", "/live"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    page.get_by_role("link", name="A8 - 1").first.click()
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    page.wait_for_load_state("networkidle")
    assert failed == []
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon == "/static/favicon.svg"
    for url in (live_server.url + icon, f"{live_server.url}/favicon.ico"):
        answer = page.request.get(url)
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
        assert answer.text().startswith("<svg")
