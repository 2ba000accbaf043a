"""The proxies play in Debian's Chromium: a video (the demo session) and a sound-only
recording, each seeked to the middle and playing on from there."""

import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, form_headers
from tests.browser.test_pages import _login

AUDIO = Path(__file__).parents[1] / "data" / "variants" / "audio.m4a"

PLAYS_FROM_THE_MIDDLE = """async (element) => {
    if (element.readyState < 1) {
        await new Promise((ok) => element.addEventListener("loadedmetadata", ok, {once: true}));
    }
    element.muted = true;  // headless autoplay rules: a muted element may play without a click
    const middle = element.duration / 2;
    element.currentTime = middle;
    await new Promise((ok) => element.addEventListener("seeked", ok, {once: true}));
    await element.play();
    return middle;
}"""


def plays_after_seek(page: Page, selector: str) -> None:
    element = page.locator(selector)
    expect(element).to_be_visible()
    middle = element.evaluate(PLAYS_FROM_THE_MIDDLE)
    assert middle > 1
    page.wait_for_function(
        "([el, from]) => el.currentTime > from + 0.5 && !el.paused && !el.error",
        arg=[element.element_handle(), middle],
        timeout=15_000,
    )
    assert element.evaluate("el => el.error") is None


def test_video_proxy_plays_and_seeks(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    page.get_by_role("link", name="A8 - 1").first.click()
    plays_after_seek(page, "video[data-player-media]")
    video = page.locator("video[data-player-media]")
    assert (
        video.evaluate("el => el.videoWidth") == 1280 or video.evaluate("el => el.videoWidth") > 0
    )
    page.screenshot(path=screenshots / "player-video.png")


def test_audio_proxy_plays_and_seeks(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    created = page.request.post(
        f"{live_server.url}/api/v1/studies/{live_server.study_id}/recordings",
        multipart={
            "code": "AC-audio",
            "file": {"name": AUDIO.name, "mimeType": "audio/mp4", "buffer": AUDIO.read_bytes()},
        },
        headers=form_headers(page),
    )
    assert created.status == 201, created.text()
    api = f"{live_server.url}/api/v1/recordings/{created.json()['id']}"
    for party in ("counsellor", "beneficiary"):  # the demo study requires both consents
        given = page.request.post(
            f"{api}/consents",
            data={"party": party, "scopes": ["research"], "given_on": "2025-01-15"},
            headers=form_headers(page),
        )
        assert given.status == 201, given.text()
    deadline = time.monotonic() + 60
    while page.request.get(api).json()["status"] != "ready":
        assert time.monotonic() < deadline, page.request.get(api).json()
        time.sleep(0.2)
    page.goto(f"{live_server.url}/recordings/{created.json()['id']}")
    plays_after_seek(page, "audio[data-player-media]")
    page.screenshot(path=screenshots / "player-audio.png")


def test_keyboard_shortcuts(page: Page, live_server: LiveServer, screenshots: Path) -> None:
    _login(page, live_server)
    page.goto(f"{live_server.url}/studies/{live_server.study_id}")
    page.get_by_role("link", name="A8 - 1").first.click()
    video = page.locator("video[data-player-media]")
    video.evaluate(
        """async (el) => {
            if (el.readyState < 1) await new Promise((ok) => el.addEventListener(
                "loadedmetadata", ok, {once: true}));
            el.muted = true;
        }"""
    )
    page.locator("h1").click()  # the keyboard belongs to the page, not to a control
    page.keyboard.press("k")
    page.wait_for_function("el => !el.paused", arg=video.element_handle())
    page.keyboard.press("k")
    page.wait_for_function("el => el.paused", arg=video.element_handle())

    def at(seconds: float) -> float:
        return float(
            video.evaluate(f"el => {{ el.currentTime = {seconds}; return el.currentTime; }}")
        )

    at(50)
    page.keyboard.press("ArrowRight")
    assert video.evaluate("el => el.currentTime") == 52
    page.keyboard.press("l")
    assert video.evaluate("el => el.currentTime") == 62
    page.keyboard.press("j")
    page.keyboard.press("ArrowLeft")
    assert video.evaluate("el => el.currentTime") == 50
    page.keyboard.press(">")
    assert video.evaluate("el => el.playbackRate") == 1.25
    page.keyboard.press("<")
    page.keyboard.press("<")
    assert video.evaluate("el => el.playbackRate") == 0.75
    expect(page.locator("[data-rate='0.75']")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("?")
    help = page.get_by_role("dialog", name="Raccourcis clavier")
    expect(help).to_be_visible()
    # What a code key does depends on the playback: the help says both.
    expect(help).to_contain_text("Pendant la lecture : commence un segment codé")
    expect(help).to_contain_text("En pause : ajoute ou retire le code de l'annotation sélectionnée")
    expect(help).to_contain_text("Juste après M : code le moment marqué")
    expect(help).to_contain_text("la lecture continue")
    page.screenshot(path=screenshots / "shortcuts.png")
    page.keyboard.press("Escape")  # closes the help, does not start the video
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert video.evaluate("el => el.paused")
    # Escape never pauses: playing, with nothing open, it leaves the video playing; in a
    # text field, it leaves the field (so that the keys act again), the video still playing.
    page.keyboard.press("k")
    page.wait_for_function("el => !el.paused", arg=video.element_handle())
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    assert not video.evaluate("el => el.paused")
    search = page.locator("[data-filter='text']")
    search.click()
    page.keyboard.type("reformule")
    page.keyboard.press("Escape")
    expect(search).not_to_be_focused()
    assert not video.evaluate("el => el.paused")
    page.keyboard.press("k")
    page.wait_for_function("el => el.paused", arg=video.element_handle())
