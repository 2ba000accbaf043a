"""Double coding in Debian's Chromium, as a pair of researchers runs it: a blind round
started from the study page, each coder blind to the other until both are done, the
disagreements stepped through with the keyboard (each one played), settled into a
consensus, and the synthesis table computed from that consensus."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CONTEXT, LiveServer, copy_of, form_headers
from tests.browser.test_pages import _login
from tests.support import cli, serve

INES_PASSWORD = "ines-mot-de-passe-2026"


@pytest.fixture(scope="module")
def team_server(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: tuple[Path, dict[str, str]]
) -> Iterator[LiveServer]:
    """The demo, with a second researcher (Inès) who has an account but no study yet."""
    lines = demo_folder[1]
    data = copy_of(demo_folder, tmp_path_factory.mktemp("double"))
    cli(data, "user", "add", "ines", "--role", "researcher", stdin=f"{INES_PASSWORD}\n")
    with serve(data) as url:
        yield LiveServer(
            url, lines["Identifiant"], lines["Mot de passe"], int(lines["Étude"].rsplit("/", 1)[1])
        )


def _api(page: Page, method: str, url: str, body: Any = None) -> Any:
    answer = page.request.fetch(
        url, method=method, data=body, headers={**form_headers(page), "Accept": "application/json"}
    )
    assert answer.ok, f"{method} {url}: {answer.status} {answer.text()}"
    return answer.json() if answer.text() else None


def test_a_blind_round_then_the_disagreements_settled_into_the_consensus_synthesis(
    browser: Browser, page: Page, team_server: LiveServer, screenshots: Path
) -> None:
    server = team_server
    base = f"{server.url}/api/v1"
    _login(page, server)
    _api(
        page,
        "POST",
        f"{base}/studies/{server.study_id}/members",
        {"username": "ines", "role": "researcher"},
    )
    [recording] = [
        r
        for r in _api(page, "GET", f"{base}/studies/{server.study_id}/recordings")
        if r["status"] == "ready"
    ][:1]
    rid = recording["id"]
    me = _api(page, "GET", f"{base}/me")["id"]

    # The round, started from the study page: blind, the two of them, this recording.
    page.goto(f"{server.url}/studies/{server.study_id}#tours")
    form = page.locator("details.round-form")
    if not form.evaluate("e => e.open"):
        form.locator("summary").click()
    form.get_by_label("Nom du tour").fill("Double codage A8")
    form.get_by_label("ines").check()
    form.get_by_label(recording["code"]).check()
    form.get_by_role("button", name="Commencer le tour").click()
    expect(page.locator("#tours")).to_contain_text("Double codage A8")
    round_id = _api(page, "GET", f"{base}/studies/{server.study_id}/rounds")[0]["id"]

    # Inès codes in her own browser: she sees none of the demo coder's scheme segments.
    ines_context = browser.new_context(**CONTEXT)
    ines = ines_context.new_page()
    _login(ines, server, password=INES_PASSWORD, username="ines")
    seen = _api(ines, "GET", f"{base}/recordings/{rid}/annotations")
    assert not [a for a in seen if a["layer"] == "schemes"]
    mine = [
        a
        for a in _api(page, "GET", f"{base}/recordings/{rid}/annotations")
        if a["layer"] == "schemes" and a["author_id"] == me and a["end_ms"] is not None
    ]
    assert len(mine) >= 4, "the demo codes the session's schemes"
    schemes = [
        c
        for book in _api(page, "GET", f"{base}/studies/{server.study_id}/codebooks")
        if book["kind"] == "schemes"
        for c in book["codes"]
        if not c["archived"]
    ]
    parents = {c["parent_id"] for c in schemes}
    labels = {c["id"]: c["label"] for c in schemes if c["id"] not in parents}  # the leaves
    # She agrees on the first two segments, reads the third as a scheme the demo coder
    # never used here, skips the rest.
    used = {c for a in mine for c in a["code_ids"]}
    other = next(i for i in labels if i not in used)
    for a in mine[:2]:
        body = {"start_ms": a["start_ms"], "end_ms": a["end_ms"], "code_ids": a["code_ids"]}
    _api(ines, "POST", f"{base}/recordings/{rid}/annotations", body)
    third = {"start_ms": mine[2]["start_ms"], "end_ms": mine[2]["end_ms"], "code_ids": [other]}
    third_id = _api(ines, "POST", f"{base}/recordings/{rid}/annotations", third)["id"]

    # Blind: the comparison waits for both.
    page.goto(f"{server.url}/recordings/{rid}/compare")
    expect(page.locator(".warning")).to_contain_text("pas terminé")
    expect(page.locator("[data-compare-body]")).to_have_count(0)  # no empty comparison
    # The demo coder marks hers done from the banner; Inès from the API.
    page.goto(f"{server.url}/recordings/{rid}")
    page.locator("#tour").get_by_role("button", name="J'ai terminé mon codage").click()
    expect(page.locator("#tour")).to_contain_text("terminé")
    _api(ines, "POST", f"{base}/rounds/{round_id}/done", {})
    ines_context.close()

    # The recording page leads to the two codings side by side.
    page.goto(f"{server.url}/recordings/{rid}")
    page.locator("[data-compare-link]").click()
    expect(page.locator(".row-b .track-name")).to_contain_text("ines")
    items = page.locator("[data-disagreements] > li")
    total = items.count()
    assert total >= 2, "the third segment and everything Inès skipped disagree"
    video = page.locator("[data-player-media]")
    page.wait_for_function(
        "document.querySelector('[data-player-media]').readyState >= 1", timeout=20_000
    )

    # N steps to the first disagreement and plays it; N again to the next one.
    page.keyboard.press("n")
    expect(items.nth(0)).to_have_class("current")
    start = int(items.nth(0).get_attribute("data-start-ms") or 0)
    page.wait_for_function(
        f"(() => {{ const m = document.querySelector('[data-player-media]'); "
        f"return !m.paused && m.currentTime * 1000 >= {start} - 1500; }})()",
        timeout=20_000,
    )
    page.keyboard.press("n")
    expect(items.nth(1)).to_have_class("current")
    second = int(items.nth(1).get_attribute("data-start-ms") or 0)
    page.wait_for_function(
        f"document.querySelector('[data-player-media]').currentTime * 1000 >= {second} - 1500",
        timeout=20_000,
    )
    assert video.evaluate("m => m.currentTime") * 1000 < second + 20_000
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)

    # "Autre…" opens under the row, across it: coder B's column stays in view; its times
    # written as the page writes them.
    first = items.nth(0)
    first.get_by_role("button", name="Autre…").click()
    new_segment = first.locator("[data-new-segment]")
    expect(new_segment).to_be_visible()
    side_b, box = first.locator(".side").nth(1).bounding_box(), new_segment.bounding_box()
    assert side_b and box and box["y"] >= side_b["y"] + side_b["height"] - 1
    assert "’" in new_segment.locator("[data-new-start]").input_value()
    first.get_by_role("button", name="Autre…").click()
    expect(new_segment).to_be_hidden()

    # The agreements adopted at once (confirmed), then each disagreement settled:
    # Inès's reading of the third segment kept, elsewhere the demo coder's.
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("[data-adopt]").click()
    expect(page.locator("[data-adopt]")).to_have_count(0)
    third_item = page.locator(f"[data-disagreements] > li[data-segments-b='{third_id}']")
    third_item.get_by_role("button", name="Garder B").click()
    expect(third_item).to_have_class("settled")
    open_items = page.locator("[data-disagreements] > li:not(.settled)")
    while open_items.count():
        before = open_items.count()
        open_items.first.get_by_role("button", name="Garder A").click()
        expect(open_items).to_have_count(before - 1)
    expect(page.locator("[data-open-count]")).to_contain_text(
        f"0 désaccords à trancher sur {total}"
    )
    page.screenshot(path=str(screenshots / "compare-settled.png"), full_page=True)

    # The synthesis from the consensus marks the scheme Inès saw there, which the demo
    # coder's own synthesis does not.
    def marked(coder: str) -> set[str]:
        page.goto(f"{server.url}/studies/{server.study_id}/synthesis?coder={coder}")
        rows = page.locator(".synthesis-table tbody tr")
        expect(rows.first).to_be_visible()
        return {
            row.locator("th").inner_text().strip()
            for row in rows.all()
            if "X" in row.locator("td").all_inner_texts()
        }

    from_consensus, from_demo = marked("consensus"), marked(str(me))
    assert labels[other] in from_consensus and labels[other] not in from_demo
    assert from_consensus, "the consensus codes the session"
