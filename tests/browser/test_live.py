"""A live auto-confrontation in two Chromium contexts against the real server: the
researcher starts it on the demo session and gives the code, the counsellor joins with her
own account; the researcher plays, the counsellor's player follows; she presses "Arrêter
ici": both pause on the same frame and the stop appears on both screens with its author; the
researcher types a comment; the counsellor's page is reloaded and catches up; the session
report lists the stop with its comment. Then the server restarts mid-session and both
screens reconnect by themselves."""

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _login
from tests.support import cli, start_server, stop_server, wait_for

MEDIA = "document.querySelector('[data-player-media]')"
SHARED = "Séance partagée"


def _new_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR").new_page()


def _time(page: Page) -> float:
    return float(page.evaluate(f"{MEDIA}.currentTime"))


def _demo_recording(page: Page, server: LiveServer) -> int:
    listed = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/recordings").json()
    return next(r["id"] for r in listed if r["code"] == "A8 - 1")


def _start(researcher: Page, server: LiveServer) -> str:
    """The researcher starts a live session from the demo recording's page: its code."""
    researcher.goto(f"{server.url}/recordings/{_demo_recording(researcher, server)}")
    researcher.get_by_role("button", name="Démarrer l'auto-confrontation en direct").click()
    expect(researcher.locator("[data-live-status]")).to_contain_text(SHARED)
    code = researcher.locator("[data-live-code]").inner_text().strip()
    assert len(code) == 6
    return code


def _join(counsellor: Page, server: LiveServer, code: str) -> None:
    counsellor.goto(f"{server.url}/live")
    counsellor.get_by_label("Code de la séance").fill(code.lower())
    counsellor.get_by_role("button", name="Rejoindre").click()
    expect(counsellor.locator("[data-live-status]")).to_contain_text(SHARED)
    counsellor.evaluate(f"{MEDIA}.muted = true")


def test_the_counsellors_stops_become_data(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    researcher = _new_page(browser)
    _login(researcher, live_server)
    code = _start(researcher, live_server)
    researcher.evaluate(f"{MEDIA}.muted = true")
    counsellor = _new_page(browser)
    _login(counsellor, live_server, live_server.counsellor_password, live_server.counsellor)
    _join(counsellor, live_server, code)

    # Roles: the counsellor's screen is calm (no code, no statuses, no comments to type).
    expect(counsellor.get_by_role("heading", name="Moments déjà discutés")).to_be_visible()
    expect(counsellor.get_by_role("heading", name="Vos moments préparés")).to_be_visible()
    for calm in ("[data-live-code]", "[data-agenda-status]", "[data-comment-form]"):
        expect(counsellor.locator(calm)).to_have_count(0)
    expect(researcher.get_by_role("heading", name="Moments préparés")).to_be_visible()
    # Who is connected, on both screens.
    expect(researcher.locator("[data-live-presence]")).to_contain_text("Conseillère A8")
    expect(counsellor.locator("[data-live-presence]")).to_contain_text("Chercheuse démo")

    # The researcher brings up the prepared moment at 0'34: both play from 0'29.
    moment = researcher.locator(".agenda-item", has_text="Elle reformule sans vérifier")
    moment.get_by_role("button", name="0’34").click()
    counsellor.wait_for_function(f"!{MEDIA}.paused && {MEDIA}.currentTime > 28.5", timeout=5000)
    expect(moment).to_have_attribute("data-status", "brought_up")
    counsellor.wait_for_timeout(1500)
    wait_for(lambda: abs(_time(researcher) - _time(counsellor)) < 0.5, 5, "playing together")

    # The counsellor presses "Arrêter ici": both pause on the same frame.
    counsellor.get_by_role("button", name="Arrêter ici").click()
    researcher.wait_for_function(f"{MEDIA}.paused", timeout=2000)
    wait_for(lambda: abs(_time(researcher) - _time(counsellor)) < 0.1, 5, "the same frame")
    stopped_at = _time(researcher)
    # The stop, with its author, on both screens; it answers the moment brought up.
    stop = researcher.locator(".stop").first
    expect(stop).to_contain_text("Arrêt du conseiller")
    expect(stop).to_contain_text("Conseillère A8")
    expect(counsellor.locator(".stop").first).to_contain_text("Arrêt du conseiller par vous")
    expect(moment).to_have_attribute("data-status", "discussed")

    # The researcher types what the counsellor says (the box has the focus already).
    box = stop.get_by_role("textbox")
    expect(box).to_be_focused()
    researcher.keyboard.type("Là, j'entends le mot fatigué.")
    researcher.keyboard.press("Enter")
    expect(stop.locator(".comment")).to_contain_text("Propos du conseiller : Là, j'entends")
    # The counsellor sees their own words; a researcher's note never reaches their screen.
    expect(counsellor.locator(".comment")).to_have_count(1)
    expect(counsellor.locator(".comment")).to_contain_text("Là, j'entends le mot fatigué.")
    stop.get_by_role("radio", name="Note du chercheur").check()
    box.fill("Hésite avant de répondre.")
    box.press("Enter")
    expect(stop.locator(".comment")).to_have_count(2)
    # The counsellor adds their own words, in their own box (no choice of speaker).
    theirs = counsellor.locator(".stop").first
    expect(theirs.get_by_role("radio")).to_have_count(0)
    theirs.get_by_role("textbox").fill("Je voulais qu'il le dise lui-même.")
    theirs.get_by_role("textbox").press("Enter")
    expect(stop.locator(".comment")).to_have_count(3)
    expect(stop.locator(".comment").last).to_contain_text("Je voulais qu'il le dise lui-même.")
    expect(counsellor.locator(".comment")).to_have_count(2)
    expect(counsellor.locator(".stop").first).not_to_contain_text("Hésite")
    researcher.screenshot(path=str(screenshots / "live-researcher.png"), full_page=True)
    counsellor.screenshot(path=str(screenshots / "live-counsellor.png"), full_page=True)

    # The counsellor's page is reloaded: same frame, same stops.
    counsellor.reload()
    expect(counsellor.locator("[data-live-status]")).to_contain_text(SHARED)
    counsellor.wait_for_function(
        f"Math.abs({MEDIA}.currentTime - {stopped_at}) < 0.1 && {MEDIA}.paused", timeout=5000
    )
    expect(counsellor.locator(".stop")).to_have_count(1)
    # The space bar plays on, for everyone; the pause's length is then known.
    counsellor.evaluate(f"{MEDIA}.muted = true")
    counsellor.locator("body").press("Space")
    researcher.wait_for_function(f"!{MEDIA}.paused", timeout=5000)
    expect(stop).to_contain_text(re.compile(r"pause \d+ s"))
    counsellor.locator("body").press("Space")
    researcher.wait_for_function(f"{MEDIA}.paused", timeout=5000)
    expect(researcher.locator(".stop")).to_have_count(2)

    # The counsellor leaves: the researcher sees it.
    counsellor.context.close()
    expect(researcher.locator("[data-live-left]")).to_contain_text("Conseillère A8")

    # The session ends; the report lists the stop with its comment.
    researcher.once("dialog", lambda dialog: dialog.accept())
    researcher.get_by_role("button", name="Terminer la séance").click()
    expect(researcher).to_have_url(re.compile(r"/interviews/\d+/report$"))
    row = researcher.locator("tr", has_text="Là, j'entends le mot fatigué.")
    expect(row).to_contain_text("Arrêt du conseiller (A8)")  # the code, not the name
    expect(row).to_contain_text("Conseiller : Là, j'entends le mot fatigué.")
    researcher.screenshot(path=str(screenshots / "live-report.png"), full_page=True)
    researcher.context.close()


def test_both_screens_reconnect_after_a_server_restart(
    browser: Browser, tmp_path: Path, live_server: LiveServer
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    printed = cli(data, "demo")
    lines = dict(line.strip().split(" : ", 1) for line in printed.splitlines() if " : " in line)
    server = start_server(data)
    port = int(server.url.rsplit(":", 1)[1])
    local = LiveServer(server.url, lines["Identifiant"], lines["Mot de passe"], 1)
    try:
        researcher = _new_page(browser)
        _login(researcher, local)
        code = _start(researcher, local)
        other = _new_page(browser)
        _login(other, local, lines["Mot de passe conseillère"], lines["Identifiant conseillère"])
        _join(other, local, code)
        researcher.evaluate(f"{MEDIA}.currentTime = 50")
        other.wait_for_function(f"Math.abs({MEDIA}.currentTime - 50) < 0.2", timeout=5000)

        stop_server(server)
        for page in (researcher, other):
            expect(page.locator("[data-live-status]")).to_contain_text("Connexion perdue")
        server = start_server(data, port=port)
        for page in (researcher, other):
            expect(page.locator("[data-live-status]")).to_contain_text(SHARED, timeout=15000)
        # Still one playhead: a seek on one screen moves the other.
        researcher.evaluate(f"{MEDIA}.currentTime = 70")
        other.wait_for_function(f"Math.abs({MEDIA}.currentTime - 70) < 0.2", timeout=5000)
        researcher.context.close()
        other.context.close()
    finally:
        stop_server(server)


def test_a_consent_withdrawn_mid_session_stops_the_media(
    browser: Browser, live_server: LiveServer
) -> None:
    researcher = _new_page(browser)
    _login(researcher, live_server)
    _start(researcher, live_server)
    researcher.wait_for_function(f"{MEDIA}.readyState >= 1")
    api = f"{live_server.url}/api/v1/recordings/{_demo_recording(researcher, live_server)}"
    beneficiary = next(
        c
        for c in researcher.request.get(f"{api}/consents").json()
        if c["party"] == "beneficiary" and c["active"]
    )
    try:
        withdrawn = researcher.request.post(
            f"{live_server.url}/api/v1/consents/{beneficiary['id']}/withdraw"
        )
        assert withdrawn.status == 200, withdrawn.text()
        # The next check of the media is refused: the reason instead of the player.
        error = researcher.locator("[data-live-error]")
        expect(error).to_contain_text("consentement du bénéficiaire", timeout=20_000)
        expect(researcher.locator("[data-player-media]")).to_be_hidden()
    finally:  # the other tests play the demo session
        given = researcher.request.post(
            f"{api}/consents",
            data={
                "party": "beneficiary",
                "scopes": ["research", "training"],
                "given_on": "2025-01-15",
            },
        )
        assert given.status == 201, given.text()
