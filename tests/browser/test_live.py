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

from tests.browser.conftest import CONTEXT, LiveServer, copy_of, form_headers
from tests.browser.test_pages import _login
from tests.support import start_server, stop_server, wait_for

MEDIA = "document.querySelector('[data-player-media]')"
DEMO_MEDIA = Path(__file__).resolve().parents[2] / "autoconf" / "demo" / "seance-demo.mp4"
SHARED = "Séance partagée"


def _new_page(browser: Browser) -> Page:
    return browser.new_context(**CONTEXT).new_page()


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


def _say_gender(page: Page, server: LiveServer, gender: str) -> None:
    """What the account's settings say: how French labels speak of its holder."""
    changed = page.request.patch(
        f"{server.url}/api/v1/me", data={"gender": gender}, headers=form_headers(page)
    )
    assert changed.status == 200, changed.text()


def test_the_counsellors_stops_become_data(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    # Both say, in their account, that French labels speak of them in the feminine.
    counsellor = _new_page(browser)
    _login(counsellor, live_server, live_server.counsellor_password, live_server.counsellor)
    _say_gender(counsellor, live_server, "feminine")
    researcher = _new_page(browser)
    _login(researcher, live_server)
    _say_gender(researcher, live_server, "feminine")
    code = _start(researcher, live_server)
    researcher.evaluate(f"{MEDIA}.muted = true")
    _join(counsellor, live_server, code)
    # Nothing played yet: the big button starts the playback.
    expect(researcher.locator("[data-live-stop]")).to_have_text("Lecture")
    expect(counsellor.locator("[data-live-stop]")).to_have_text("Lecture")
    expect(researcher.locator(".live-code")).to_contain_text("Code à donner à la conseillère :")

    # Roles: the counsellor's screen is calm (no code, no statuses, no comments to type).
    expect(counsellor.get_by_role("heading", name="Moments déjà discutés")).to_be_visible()
    expect(counsellor.get_by_role("heading", name="Vos moments préparés")).to_be_visible()
    for calm in ("[data-live-code]", "[data-agenda-status]", "[data-comment-form]"):
        expect(counsellor.locator(calm)).to_have_count(0)
    expect(researcher.get_by_role("heading", name="Moments préparés")).to_be_visible()
    # Who is connected, on both screens, each named as they said.
    presence = "Chercheuse démo (chercheuse) · Conseillère A8 (conseillère)"
    expect(researcher.locator("[data-live-presence]")).to_contain_text(presence)
    expect(counsellor.locator("[data-live-presence]")).to_contain_text(presence)

    # The researcher brings up the prepared moment at 0'34: both play from 0'29.
    moment = researcher.locator(".agenda-item", has_text="Elle reformule sans vérifier")
    moment.get_by_role("button", name="0’34").click()
    counsellor.wait_for_function(f"!{MEDIA}.paused && {MEDIA}.currentTime > 28.5", timeout=5000)
    expect(moment).to_have_attribute("data-status", "brought_up")
    counsellor.wait_for_timeout(1500)
    wait_for(lambda: abs(_time(researcher) - _time(counsellor)) < 0.5, 5, "playing together")
    expect(researcher.locator("[data-live-stop]")).to_have_text("Arrêter ici")

    # The counsellor presses "Arrêter ici": both pause on the same frame.
    counsellor.get_by_role("button", name="Arrêter ici").click()
    researcher.wait_for_function(f"{MEDIA}.paused", timeout=2000)
    wait_for(lambda: abs(_time(researcher) - _time(counsellor)) < 0.1, 5, "the same frame")
    stopped_at = _time(researcher)
    # The stop, with its author, on both screens; it answers the moment brought up.
    stop = researcher.locator(".stop").first
    expect(stop).to_contain_text("Arrêt de la conseillère")
    expect(stop).to_contain_text("Conseillère A8")
    expect(counsellor.locator(".stop").first).to_contain_text("Arrêt de la conseillère par vous")
    expect(moment).to_have_attribute("data-status", "discussed")
    expect(researcher.locator("[data-live-stop]")).to_have_text("Reprendre la lecture")
    expect(counsellor.locator("[data-live-stop]")).to_have_text("Reprendre la lecture")

    # The comment box has the focus; what the researcher types is her own note by default.
    box = stop.get_by_role("textbox")
    expect(box).to_be_focused()
    expect(stop.get_by_role("radio", name="Note de la chercheuse")).to_be_checked()
    expect(stop.get_by_role("radio", name="Propos de la conseillère")).not_to_be_checked()
    researcher.keyboard.type("Hésite avant de répondre.")
    researcher.keyboard.press("Enter")
    expect(stop.locator(".comment")).to_contain_text("Note de la chercheuse : Hésite")
    # She chooses the counsellor's words for what the counsellor says.
    stop.get_by_role("radio", name="Propos de la conseillère").check()
    box.fill("Là, j'entends le mot fatigué.")
    box.press("Enter")
    expect(stop.locator(".comment")).to_have_count(2)
    expect(stop.locator(".comment").last).to_contain_text(
        "Propos de la conseillère : Là, j'entends"
    )
    # The counsellor sees their own words; a researcher's note never reaches their screen.
    expect(counsellor.locator(".comment")).to_have_count(1)
    expect(counsellor.locator(".comment")).to_contain_text(
        "Propos de la conseillère : Là, j'entends le mot fatigué."
    )
    # The counsellor adds their own words, in their own box (no choice of speaker).
    theirs = counsellor.locator(".stop").first
    expect(theirs.get_by_role("radio")).to_have_count(0)
    theirs.get_by_role("textbox").fill("Je voulais qu'il le dise lui-même.")
    theirs.get_by_role("textbox").press("Enter")
    expect(stop.locator(".comment")).to_have_count(3)
    expect(stop.locator(".comment").last).to_contain_text(
        "Propos de la conseillère : Je voulais qu'il le dise lui-même."
    )
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
    # Two presses in a row, the second before the server has echoed the first: play, then stop.
    counsellor.locator("body").press("Space")
    counsellor.locator("body").press("Space")
    expect(researcher.locator(".stop")).to_have_count(3)
    researcher.wait_for_function(f"{MEDIA}.paused", timeout=5000)
    counsellor.wait_for_function(f"{MEDIA}.paused", timeout=5000)

    # The counsellor leaves: the researcher sees it.
    counsellor.context.close()
    expect(researcher.locator("[data-live-left]")).to_contain_text("Conseillère A8")

    # The session ends; the report lists the stop with its comment.
    researcher.once("dialog", lambda dialog: dialog.accept())
    researcher.get_by_role("button", name="Terminer la séance").click()
    expect(researcher).to_have_url(re.compile(r"/interviews/\d+/report$"))
    row = researcher.locator("tr", has_text="Là, j'entends le mot fatigué.")
    expect(row).to_contain_text("Arrêt de la conseillère (A8)")  # the code, not the name
    expect(row).to_contain_text("Conseillère : Là, j'entends le mot fatigué.")
    expect(row).to_contain_text("Chercheuse : Hésite avant de répondre.")
    researcher.screenshot(path=str(screenshots / "live-report.png"), full_page=True)
    researcher.context.close()


def test_both_screens_reconnect_after_a_server_restart(
    browser: Browser, tmp_path: Path, demo_folder: tuple[Path, dict[str, str]]
) -> None:
    lines = demo_folder[1]
    data = copy_of(demo_folder, tmp_path)  # a server of its own: this test stops it
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
            f"{live_server.url}/api/v1/consents/{beneficiary['id']}/withdraw",
            headers=form_headers(researcher),
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
            headers=form_headers(researcher),
        )
        assert given.status == 201, given.text()


def test_a_live_session_needs_the_recordings_counsellor(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    """A session recording in no interview and with no counsellor: the start says what is
    missing and where to set it, before any code; with its counsellor, the interview is made
    and the session starts."""
    researcher = _new_page(browser)
    _login(researcher, live_server)
    api = f"{live_server.url}/api/v1"
    study = live_server.study_id
    uploaded = researcher.request.post(
        f"{api}/studies/{study}/recordings",
        multipart={
            "code": "A8 - 9",
            "file": {"name": "a.mp4", "mimeType": "video/mp4", "buffer": DEMO_MEDIA.read_bytes()},
        },
        headers=form_headers(researcher),
    )
    assert uploaded.status == 201, uploaded.text()
    recording = uploaded.json()["id"]
    for party in ("counsellor", "beneficiary"):
        given = researcher.request.post(
            f"{api}/recordings/{recording}/consents",
            data={"party": party, "scopes": ["research"], "given_on": "2025-01-15"},
            headers=form_headers(researcher),
        )
        assert given.status == 201, given.text()
    wait_for(
        lambda: researcher.request.get(f"{api}/recordings/{recording}").json()["status"] == "ready",
        60,
        "the recording processed",
    )
    start = "Démarrer l'auto-confrontation en direct"
    researcher.goto(f"{live_server.url}/recordings/{recording}")
    researcher.get_by_role("button", name=start).click()
    expect(researcher.get_by_role("heading", level=1)).to_have_text(
        "La séance en direct ne peut pas commencer"
    )
    expect(researcher.get_by_role("alert")).to_contain_text("« A8 - 9 » n'a pas de conseiller")
    fix = researcher.get_by_role("link", name="Indiquer le conseiller de l'enregistrement")
    expect(fix).to_have_attribute("href", f"/recordings/{recording}#conseiller")
    expect(researcher.locator("[data-live-code]")).to_have_count(0)
    researcher.screenshot(path=str(screenshots / "live-missing-counsellor.png"), full_page=True)
    ongoing = researcher.request.get(f"{api}/studies/{study}/interviews").json()
    assert not [i for i in ongoing if recording in i["recording_ids"]]

    # The link leads to the recording's counsellor; chosen there, the interview is made at
    # the start.
    fix.click()
    expect(researcher.locator("[data-counsellor-form]")).to_be_visible()
    researcher.get_by_label("Conseiller de l'enregistrement").select_option(label="A8")
    researcher.locator("[data-counsellor-form]").get_by_role("button", name="Enregistrer").click()
    expect(researcher).to_have_url(re.compile(rf"/recordings/{recording}#conseiller$"))
    counsellors = researcher.request.get(f"{api}/studies/{study}/counsellors").json()
    a8 = next(c["id"] for c in counsellors if c["code"] == "A8")
    assert researcher.request.get(f"{api}/recordings/{recording}").json()["counsellor_id"] == a8
    researcher.get_by_role("button", name=start).click()
    expect(researcher.locator("[data-live-status]")).to_contain_text(SHARED)
    expect(researcher.locator("[data-live-code]")).to_have_text(re.compile(r"^[A-Z0-9]{6}$"))
    expect(researcher.get_by_role("heading", level=1)).to_contain_text("A8 - 9")
    made = researcher.request.get(f"{api}/studies/{study}/interviews").json()
    assert [i["code"] for i in made if i["recording_ids"] == [recording]] == ["A8 - 9"]
    researcher.once("dialog", lambda dialog: dialog.accept())
    researcher.get_by_role("button", name="Terminer la séance").click()
    expect(researcher).to_have_url(re.compile(r"/interviews/\d+/report$"))
    researcher.context.close()
