"""A researcher's first day, from an empty instance, only through the browser (apart from the
first account, made on the command line as the README says): create a study, add a
colleague and a counsellor with an account, create an interview, upload a session for it,
record the consents, prepare moments and code a segment in the annotator, run a live session
with the counsellor in a second browser context (who signs in with her one-time password and
chooses her own), read the report, export the synthesis as CSV and read it as a French
spreadsheet would. Screenshots of each admin page at 1366×768 (AUTOCONF_SCREENSHOTS)."""

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CONTEXT
from tests.factories import DEMO_MEDIA
from tests.support import cli, serve

MEDIA = "document.querySelector('[data-player-media]')"
APP = "document.querySelector('[data-annotator]').annotator"
PASSWORD = "premier jour de terrain"
SHARED = "Séance partagée"


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("empty")
    cli(data, "migrate")
    cli(data, "user", "add", "lea", "--role", "researcher", "--display-name", "Léa Martin",
        stdin=f"{PASSWORD}\n")  # fmt: skip
    with serve(data) as url:
        yield url


def new_page(browser: Browser) -> Page:
    context = browser.new_context(**CONTEXT)
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Nom d'utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def one_time_password(page: Page) -> str:
    shown = page.locator("[data-one-time-password]")
    expect(shown).to_be_visible()
    return shown.inner_text().strip()


def test_the_first_day_of_a_study(browser: Browser, empty_server: str, screenshots: Path) -> None:
    url = empty_server
    page = new_page(browser)
    sign_in(page, url, "lea", PASSWORD)

    # 1. The study.
    expect(page.get_by_text("Vous n'êtes membre d'aucune étude")).to_be_visible()
    page.get_by_label("Nom", exact=True).fill("CEP Lyon 2027")
    page.get_by_role("button", name="Créer l'étude").click()
    expect(page.get_by_role("heading", name="CEP Lyon 2027")).to_be_visible()
    study_url = page.url
    expect(page.get_by_text("Pour commencer")).to_be_visible()
    page.screenshot(path=str(screenshots / "first-day-1-study.png"), full_page=True)
    page.get_by_role("link", name="Administrer l'étude").click()
    expect(page.get_by_role("heading", name="Administration de l'étude")).to_be_visible()
    page.screenshot(path=str(screenshots / "first-day-2-admin-empty.png"), full_page=True)

    # 2. A colleague, with a new account: a one-time password, shown once.
    members = page.locator("form[action$='/members']")
    members.get_by_label("un nouveau compte").check()
    members.get_by_label("Identifiant").fill("m.durand")
    members.get_by_label("Nom affiché").fill("Marie Durand")
    members.get_by_label("Accord des libellés").select_option("feminine")
    members.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_role("heading", name="Compte créé pour Marie Durand")).to_be_visible()
    assert re.fullmatch(r"\w{4}-\w{4}-\w{4}", one_time_password(page))
    expect(page.locator("#membres tr", has_text="Marie Durand")).to_contain_text("chercheuse")
    page.screenshot(path=str(screenshots / "first-day-3-colleague.png"), full_page=True)

    # A mistake: the same username again is refused, what was typed stays.
    members = page.locator("form[action$='/members']")
    members.get_by_label("un nouveau compte").check()
    members.get_by_label("Identifiant").fill("m.durand")
    members.get_by_label("Nom affiché").fill("Marie D.")
    members.get_by_role("button", name="Ajouter").click()
    expect(members.get_by_role("alert")).to_contain_text("existe déjà")
    expect(members.get_by_label("Nom affiché")).to_have_value("Marie D.")

    # 3. A structure, then the counsellor and her account in one step.
    structures = page.locator("form[action$='/structures']")
    structures.get_by_label("Code").fill("APEC")
    structures.get_by_label("Nom").fill("Apec Lyon")
    structures.get_by_role("button", name="Ajouter la structure").click()
    expect(page.locator("#conseillers")).to_contain_text("Apec Lyon")
    counsellors = page.locator("form[action$='/counsellors']")
    counsellors.get_by_label("Code pseudonyme").fill("A8")
    counsellors.get_by_label("Structure").select_option(label="Apec Lyon")
    counsellors.get_by_label("créer son compte maintenant").check()
    counsellors.get_by_label("Identifiant").fill("a8")
    counsellors.get_by_label("Nom affiché").fill("Conseillère A8")
    counsellors.get_by_label("Accord des libellés").select_option("feminine")
    counsellors.get_by_role("button", name="Ajouter le conseiller").click()
    counsellor_password = one_time_password(page)
    expect(page.locator("#conseillers tr", has_text="A8")).to_contain_text("Conseillère A8")
    page.screenshot(path=str(screenshots / "first-day-4-counsellor.png"), full_page=True)

    # 4. The interview, for her; its session comes with the upload.
    interviews = page.locator("form[action$='/interviews']")
    interviews.get_by_label("Code de l'entretien").fill("E-A8")
    interviews.get_by_label("Conseiller").select_option(label="A8")
    interviews.get_by_role("button", name="Créer l'entretien").click()
    expect(page.get_by_role("status")).to_contain_text("Entretien créé")
    page.screenshot(path=str(screenshots / "first-day-5-interview.png"), full_page=True)

    # 5. The upload asks for the counsellor and the interview.
    page.goto(study_url)
    page.get_by_text("Déposer un enregistrement").click()
    upload = page.locator("form[data-tus-endpoint]")
    upload.get_by_label("Code de la situation").fill("A8 - 1")
    upload.get_by_label("Conseiller").select_option(label="A8")
    upload.get_by_label("Entretien d'auto-confrontation").select_option(label="E-A8 (A8)")
    upload.locator("input[type=file]").set_input_files(DEMO_MEDIA)
    page.screenshot(path=str(screenshots / "first-day-6-upload.png"), full_page=True)
    upload.get_by_role("button", name="Déposer").click()
    page.wait_for_url(re.compile(r"/recordings/\d+"), timeout=60_000)
    recording_url = page.url.split("#")[0]

    # 6. Both consents, then the recording plays once processed.
    for party in ("Conseiller", "Bénéficiaire"):
        consents = page.locator("form.consent-add")
        consents.get_by_label("Partie").select_option(label=party)
        consents.get_by_role("button", name="Enregistrer le consentement").click()
    page.goto(recording_url)
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'",
                           timeout=60_000)  # fmt: skip
    page.wait_for_function(f"{MEDIA} && {MEDIA}.readyState >= 1", timeout=60_000)

    # 7. Prepare two moments (M while playing) and code one segment (key 2, twice).
    page.evaluate(f"{MEDIA}.muted = true")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("k")
    page.wait_for_function(f"!{MEDIA}.paused")
    for _ in range(2):
        page.wait_for_timeout(800)
        page.keyboard.press("m")
    page.keyboard.press("Escape")  # the new moment is let go (playback goes on)
    page.wait_for_timeout(300)
    page.keyboard.press("Digit2")
    page.wait_for_timeout(1500)
    page.keyboard.press("Digit2")
    page.keyboard.press("k")
    recording_id = int(recording_url.rstrip("/").rsplit("/", 1)[1])
    api = f"{url}/api/v1/recordings/{recording_id}/annotations"

    def stored() -> list[dict[str, object]]:
        listed: list[dict[str, object]] = page.request.get(api).json()
        return listed

    page.wait_for_function(f"{APP}.store.pendingCount() === 0 && {APP}.store.state === 'saved'")
    assert len([a for a in stored() if a["origin"] == "prepared"]) == 2
    assert len([a for a in stored() if a["layer"] == "schemes"]) == 1

    # 8. The live session, with the counsellor in a second browser.
    page.get_by_role("button", name="Démarrer l'auto-confrontation en direct").click()
    expect(page.locator("[data-live-status]")).to_contain_text(SHARED)
    code = page.locator("[data-live-code]").inner_text().strip()
    page.evaluate(f"{MEDIA}.muted = true")

    counsellor = new_page(browser)
    sign_in(counsellor, url, "a8", counsellor_password)
    expect(counsellor).to_have_url(re.compile(r"/account\?first=1"))
    counsellor.get_by_label("Mot de passe reçu").fill(counsellor_password)
    counsellor.get_by_label("Nouveau mot de passe (8 caractères au moins)").fill("mon mot de passe")
    counsellor.get_by_label("Nouveau mot de passe, encore").fill("mon mot de passe")
    counsellor.get_by_role("button", name="Changer le mot de passe").click()
    expect(counsellor.get_by_role("status")).to_contain_text("Mot de passe changé")
    counsellor.goto(f"{url}/live")
    counsellor.get_by_label("Code de la séance").fill(code)
    counsellor.get_by_role("button", name="Rejoindre").click()
    expect(counsellor.locator("[data-live-status]")).to_contain_text(SHARED)
    counsellor.evaluate(f"{MEDIA}.muted = true")
    expect(page.locator("[data-live-presence]")).to_contain_text("Conseillère A8")

    # The big button reads "Lecture" before anything played; it plays for both.
    big = page.locator("[data-live-stop]")
    expect(big).to_have_text("Lecture")
    big.click()
    counsellor.wait_for_function(f"!{MEDIA}.paused", timeout=5000)
    counsellor.wait_for_timeout(1200)
    counsellor.get_by_role("button", name="Arrêter ici").click()
    page.wait_for_function(f"{MEDIA}.paused", timeout=5000)
    stop = page.locator(".stop").first
    expect(stop).to_contain_text("Conseillère A8")
    box = stop.get_by_role("textbox")
    box.fill("Elle hésite avant de reformuler.")
    box.press("Enter")
    expect(stop.locator(".comment")).to_contain_text("Elle hésite avant de reformuler.")
    page.screenshot(path=str(screenshots / "first-day-7-live.png"), full_page=True)
    counsellor.context.close()

    # 9. The report.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Terminer la séance").click()
    expect(page).to_have_url(re.compile(r"/interviews/\d+/report$"))
    expect(page.locator("body")).to_contain_text("Elle hésite avant de reformuler.")
    page.screenshot(path=str(screenshots / "first-day-8-report.png"), full_page=True)

    # 10. The synthesis as CSV, read the way a French spreadsheet reads it.
    page.goto(study_url + "/synthesis")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).first.click()
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "no BOM: a French spreadsheet would garble accents"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert "A8 - 1" in ";".join(header), header
    listen = next(row for row in rows if row and "Écouter" in row[0])
    assert any(cell.strip() not in ("", "0") for cell in listen[1:]), listen
    assert not any(re.fullmatch(r"\d+\.\d+", cell) for row in rows for cell in row), rows
    page.context.close()
