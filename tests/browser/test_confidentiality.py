"""The counsellor's pages in Chromium: their recording shows the stops, the transcript and
their own marks, never the researchers' coding; what a researcher shows them appears; the
study page names no uploaded file."""

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_annotator import APP, _saved
from tests.browser.test_live import _demo_recording, _new_page
from tests.browser.test_pages import _login

CODING = ("schemes", "consensus", "phases", "categories")


def _open(page: Page, server: LiveServer, recording_id: int) -> None:
    page.goto(f"{server.url}/recordings/{recording_id}")
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")


def _rows(page: Page) -> list[str]:
    """The timeline's rows, as the annotator draws them."""
    rows: list[str] = page.evaluate(f"{APP}.layers().map((row) => row.layer)")
    return rows


def test_the_counsellor_never_sees_the_coding(
    browser: Browser, live_server: LiveServer, screenshots: Path
) -> None:
    researcher = _new_page(browser)
    _login(researcher, live_server)
    recording_id = _demo_recording(researcher, live_server)
    _open(researcher, live_server, recording_id)
    expect(researcher.locator("li.layer-schemes").first).to_be_visible()
    assert set(CODING) <= set(_rows(researcher))

    counsellor = _new_page(browser)
    _login(counsellor, live_server, live_server.counsellor_password, live_server.counsellor)
    counsellor.goto(f"{live_server.url}/studies/{live_server.study_id}")
    expect(counsellor.get_by_role("link", name="A8 - 1").first).to_be_visible()
    expect(counsellor.locator("body")).not_to_contain_text("seance-demo.mp4")
    _open(counsellor, live_server, recording_id)
    expect(counsellor.locator("li.layer-stops").first).to_be_visible()
    for layer in CODING:
        expect(counsellor.locator(f"li.layer-{layer}")).to_have_count(0)
    assert set(_rows(counsellor)) == {"prepared", "stops", "transcript"}
    expect(counsellor.locator("[data-active-layer]")).to_be_hidden()
    # Their own mark, with M while it plays: stored, theirs.
    counsellor.evaluate("document.querySelector('[data-player-media]').muted = true")
    counsellor.locator("body").press("k")
    counsellor.wait_for_function("!document.querySelector('[data-player-media]').paused")
    counsellor.wait_for_timeout(500)
    counsellor.keyboard.press("m")
    _saved(counsellor)
    counsellor.screenshot(path=str(screenshots / "counsellor-recording.png"), full_page=True)
    mine = [
        a
        for a in counsellor.request.get(
            f"{live_server.url}/api/v1/recordings/{recording_id}/annotations"
        ).json()
        if a["layer"] == "prepared"
    ]
    assert len(mine) == 1 and mine[0]["shared"] is False

    # The researcher shows one of her prepared moments to the counsellor, from the panel.
    researcher.locator("li.layer-prepared").first.click()
    shown = researcher.get_by_label("Montrer au conseiller")
    expect(shown).to_be_visible()
    shown.check()
    _saved(researcher)
    note = researcher.locator("[data-panel-note]").input_value()
    counsellor.reload()
    counsellor.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    expect(counsellor.locator("li.layer-prepared")).to_have_count(2)
    if note:
        expect(counsellor.locator("li.layer-prepared", has_text=note)).to_have_count(1)
    for layer in CODING:
        expect(counsellor.locator(f"li.layer-{layer}")).to_have_count(0)

    researcher.context.close()
    counsellor.context.close()
