"""The player's tracks in Chromium: the prepared moments as chapters under the player (a
click goes there; a moment marked in the annotator joins them once saved), and on the live
session's player the coding segment under the playhead."""

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, form_headers
from tests.browser.test_pages import _login

MEDIA = "document.querySelector('[data-player-media]')"
HOSTILE = "<b>gras</b> & --> fin"


def _demo_recording(page: Page, server: LiveServer) -> int:
    listed = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/recordings").json()
    return int(next(r["id"] for r in listed if r["code"] == "A8 - 1"))


def _at(page: Page, seconds: float) -> None:
    page.wait_for_function(f"Math.abs({MEDIA}.currentTime - {seconds}) < 0.01", timeout=10_000)


def test_chapters_are_listed_and_take_the_player_there(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    recording = _demo_recording(page, live_server)
    made = page.request.post(
        f"{live_server.url}/api/v1/recordings/{recording}/annotations",
        data={"start_ms": 50_000, "origin": "prepared", "note": HOSTILE},
        headers=form_headers(page),
    )
    assert made.status == 201, made.text()

    page.goto(f"{live_server.url}/recordings/{recording}")
    chapters = page.locator("[data-chapter-list] button")
    # The demo's four prepared moments and ours, in time order, read by the TextTrack API.
    expect(chapters).to_have_count(5)
    expect(page.locator("[data-chapter-list] .chapter-time")).to_have_text(
        ["0’34", "0’50", "1’00", "1’25", "1’56"]
    )
    expect(chapters.nth(1).locator(".chapter-title")).to_have_text(HOSTILE)  # as typed
    track = page.evaluate(
        f"""(() => {{
            const track = [...{MEDIA}.textTracks].find((t) => t.kind === "chapters");
            return {{ mode: track.mode, cues: track.cues.length, end: track.cues[0].endTime }};
        }})()"""
    )
    assert track == {"mode": "hidden", "cues": 5, "end": 50}
    # The annotator draws the coding on its timeline: no second, frozen copy of it here.
    expect(page.locator("[data-segment-line]")).to_have_count(0)

    chapters.nth(2).click()
    _at(page, 60)
    expect(chapters.nth(2)).to_have_attribute("aria-current", "true")
    expect(page.locator('[data-chapter-list] [aria-current="true"]')).to_have_count(1)
    page.screenshot(path=str(screenshots / "tracks-annotator.png"), full_page=True)

    # A moment marked here (M, at the playhead less the reaction offset) becomes a chapter
    # once it is saved (at 1'00 it would join that chapter: one per time).
    page.evaluate(f"{MEDIA}.currentTime = 70")
    _at(page, 70)
    page.keyboard.press("m")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-state", "saved")
    expect(chapters).to_have_count(6)


def test_the_live_player_says_which_segment_is_playing(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    _login(page, live_server)
    page.goto(f"{live_server.url}/recordings/{_demo_recording(page, live_server)}")
    page.get_by_role("button", name="Démarrer l'auto-confrontation en direct").click()
    expect(page.locator("[data-live-status]")).to_contain_text("Séance partagée")
    line = page.locator("[data-segment-line]")
    expect(line).to_be_visible()
    expect(line).to_have_text("Segment en cours : —")

    page.evaluate(f"{MEDIA}.currentTime = 20.5")  # the demo codes 0’19.592 – 0’24.204
    expect(line).to_have_text(
        "Segment en cours : Questionner / faire expliquer pour comprendre les besoins de la "
        "personne"
    )
    # The agenda beside the player lists the prepared moments: no chapters under it.
    expect(page.locator("[data-chapter-list]")).to_have_count(0)
    page.evaluate(f"{MEDIA}.currentTime = 85")
    _at(page, 85)
    expect(line).not_to_contain_text("Questionner")
    page.screenshot(path=str(screenshots / "tracks-live.png"), full_page=True)
