"""Uploading a recording from the study page: a real progress bar, a dropped connection
survived, and a page reload resumed where the upload stopped (tus)."""

import base64
import hashlib
from pathlib import Path

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _login
from tests.factories import DEMO_MEDIA

CHUNK = 256 * 1024


def open_upload_form(page: Page, server: LiveServer, code: str) -> None:
    page.goto(f"{server.url}/studies/{server.study_id}")
    page.get_by_text("Déposer un enregistrement").click()
    form = page.locator("form[data-tus-endpoint]")
    form.evaluate(f"form => form.dataset.chunkSize = '{CHUNK}'")  # many pieces, for the test
    form.get_by_label("Code de la situation").fill(code)
    form.locator("input[type=file]").set_input_files(DEMO_MEDIA)


def test_upload_survives_a_cut_and_resumes_after_a_reload(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    size = DEMO_MEDIA.stat().st_size
    sent: list[int] = []
    blocked = {"on": False}
    cut = {"done": False}

    announced: list[str] = []

    def network(route: Route) -> None:
        request = route.request
        if request.method == "POST":
            announced.append(request.headers.get("upload-metadata", ""))
        if request.method != "PATCH":
            route.continue_()
            return
        if blocked["on"]:  # the network is down
            route.abort("internetdisconnected")
            return
        if len(sent) == 1 and not cut["done"]:  # the connection drops once, mid-upload
            cut["done"] = True
            route.abort("connectionreset")
            return
        sent.append(len(request.post_data_buffer or b""))
        if sum(sent) >= 3 * CHUNK:
            blocked["on"] = True  # then the network goes down for good
        route.continue_()

    _login(page, live_server)
    page.route("**/api/v1/uploads/**", network)
    open_upload_form(page, live_server, "A8 - 2")
    page.get_by_role("button", name="Déposer").click()
    panel = page.locator("[data-upload-panel]")
    expect(panel).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-upload-bar]').value >= 40")
    page.screenshot(path=screenshots / "upload-stalled.png")
    before_reload = sum(sent)
    assert cut["done"] and before_reload >= 3 * CHUNK
    # The page computed the file's SHA-256 and announced it: the server checks the bytes.
    fields = dict(item.strip().split(" ") for item in announced[0].split(","))
    sha256 = hashlib.sha256(DEMO_MEDIA.read_bytes()).hexdigest()
    assert base64.b64decode(fields["sha256"]).decode() == sha256

    page.reload()  # while the network is still down: no retry slips through meanwhile
    page.unroute("**/api/v1/uploads/**")
    after: list[int] = []

    def count(route: Route) -> None:
        if route.request.method == "PATCH":
            after.append(len(route.request.post_data_buffer or b""))
        route.continue_()

    page.route("**/api/v1/uploads/**", count)
    open_upload_form(page, live_server, "A8 - 2")
    page.get_by_role("button", name="Déposer").click()
    expect(page.locator("[data-upload-message]")).to_contain_text("Reprise du dépôt interrompu")
    page.wait_for_url(f"{live_server.url}/recordings/*", timeout=30_000)
    assert sum(after) == size - before_reload  # only what was missing was sent again

    api = page.url.replace("/recordings/", "/api/v1/recordings/")
    recording = page.request.get(api).json()
    assert recording["code"] == "A8 - 2"
    assert recording["original_sha256"] == sha256
    # Processing, or done: without its consents yet, the notice stands where the player goes.
    shown = "[data-media-progress], video[data-player-media], [data-consent-missing]"
    expect(page.locator(shown).first).to_be_visible()
    page.screenshot(path=screenshots / "upload-done.png")
