"""A live auto-confrontation in two Chromium contexts against the real server: the
researcher starts it and gives the code, the counsellor joins; play, seek and pause on one
screen are followed by the other, and a reloaded page catches up."""

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _login
from tests.support import wait_for

MEDIA = "document.querySelector('[data-player-media]')"


def _new_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR").new_page()


def _time(page: Page) -> float:
    return float(page.evaluate(f"{MEDIA}.currentTime"))


def test_two_screens_follow_one_playhead(browser: Browser, live_server: LiveServer) -> None:
    researcher = _new_page(browser)
    _login(researcher, live_server)
    # A recording (processed by the server) of a counsellor of the study.
    sid = live_server.study_id
    media = Path(__file__).parents[2] / "autoconf" / "demo" / "seance-demo.mp4"
    api = researcher.request
    created = api.post(
        f"{live_server.url}/api/v1/studies/{sid}/counsellors",
        data={"code": "C-LIVE"},
    )
    assert created.ok, created.text()
    recording = api.post(
        f"{live_server.url}/api/v1/studies/{sid}/recordings",
        multipart={
            "code": "C-LIVE - 1",
            "counsellor_id": str(created.json()["id"]),
            "file": {"name": "s.mp4", "mimeType": "video/mp4", "buffer": media.read_bytes()},
        },
    ).json()
    wait_for(
        lambda: (
            api.get(f"{live_server.url}/api/v1/recordings/{recording['id']}").json()["status"]
            == "ready"
        ),
        60,
        "the recording's processing",
    )

    # The researcher starts the session from the recording page and reads the code.
    researcher.goto(f"{live_server.url}/recordings/{recording['id']}")
    researcher.get_by_role("button", name="Démarrer l'auto-confrontation en direct").click()
    expect(researcher.locator("[data-live-status]")).to_contain_text("Séance partagée")
    code = researcher.locator("[data-live-code]").inner_text().strip()
    assert len(code) == 6

    # The second screen joins with the code.
    other = _new_page(browser)
    _login(other, live_server)
    other.goto(f"{live_server.url}/live")
    other.get_by_label("Code de la séance").fill(code.lower())
    other.get_by_role("button", name="Rejoindre").click()
    expect(other.locator("[data-live-status]")).to_contain_text("Séance partagée")
    for page in (researcher, other):
        page.evaluate(f"{MEDIA}.muted = true")

    # The researcher seeks to 0'40 and plays: the other screen follows within a moment.
    researcher.evaluate(f"{MEDIA}.currentTime = 40")
    other.wait_for_function(f"Math.abs({MEDIA}.currentTime - 40) < 1", timeout=5000)
    researcher.locator("[data-player-media]").evaluate("m => m.play()")
    other.wait_for_function(f"!{MEDIA}.paused", timeout=5000)
    other.wait_for_timeout(1000)
    wait_for(lambda: abs(_time(researcher) - _time(other)) < 0.5, 5, "the players to play together")

    # The other screen stops ("Arrêter ici"): both pause at the same place.
    other.get_by_role("button", name="Arrêter ici").click()
    researcher.wait_for_function(f"{MEDIA}.paused", timeout=5000)
    # The same frame on both screens.
    wait_for(lambda: abs(_time(researcher) - _time(other)) < 0.1, 5, "the same paused frame")

    # A reload catches up with the shared playhead.
    paused_at = _time(researcher)
    other.reload()
    expect(other.locator("[data-live-status]")).to_contain_text("Séance partagée")
    other.wait_for_function(f"Math.abs({MEDIA}.currentTime - {paused_at}) < 0.5", timeout=5000)
    assert other.evaluate(f"{MEDIA}.paused")
    researcher.context.close()
    other.context.close()
