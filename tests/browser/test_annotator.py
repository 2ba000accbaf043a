"""The annotator in Debian's Chromium, against the real server and the demo session: marks
made with the keyboard while playing, a segment coded with a scheme key, its edge dragged,
undo and redo, the transcript imported and clicked, and everything found again after a
reload; then changes made offline, replayed after a reload, and a conflict resolved."""

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from autoconf.demo import TRANSCRIPT
from tests.browser.conftest import LiveServer, form_headers
from tests.browser.test_pages import _login

DEMO_VTT = Path(__file__).parents[2] / "autoconf" / "demo" / TRANSCRIPT
APP = "document.querySelector('[data-annotator]').annotator"
MEDIA = "document.querySelector('[data-player-media]')"


def _open_recording(page: Page, server: LiveServer) -> int:
    _login(page, server)
    page.goto(f"{server.url}/studies/{server.study_id}")
    page.get_by_role("link", name="A8 - 1").first.click()
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    page.wait_for_function("document.querySelector('[data-player-media]').readyState >= 1")
    recording_id = int(page.url.rstrip("/").split("/")[-1].split("#")[0])
    return recording_id


def _stored(page: Page, server: LiveServer, recording_id: int) -> list[dict[str, Any]]:
    response = page.request.get(f"{server.url}/api/v1/recordings/{recording_id}/annotations")
    assert response.ok
    result: list[dict[str, Any]] = response.json()
    return result


def _saved(page: Page) -> None:
    page.wait_for_function(
        f"{APP}.panel.timers.size === 0 && {APP}.store.pendingCount() === 0"
        f" && {APP}.store.state === 'saved'"
    )


def _media_time(page: Page) -> float:
    return float(page.evaluate("document.querySelector('[data-player-media]').currentTime"))


def test_mark_code_drag_undo_transcript_and_reload(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    recording_id = _open_recording(page, live_server)
    before = _stored(page, live_server, recording_id)
    page.evaluate("document.querySelector('[data-player-media]').muted = true")
    page.locator("body").click(position={"x": 5, "y": 5})

    # Play, and mark three moments with M while it plays.
    page.keyboard.press("k")
    page.wait_for_function("!document.querySelector('[data-player-media]').paused")
    marks_at = []
    for _ in range(3):
        page.wait_for_timeout(700)
        marks_at.append(_media_time(page))
        page.keyboard.press("m")
    _saved(page)
    stored = _stored(page, live_server, recording_id)
    new_marks = [
        a for a in stored if a["origin"] == "prepared" and a["id"] not in {b["id"] for b in before}
    ]
    assert len(new_marks) == 3
    starts = sorted(a["start_ms"] for a in new_marks)
    assert starts[0] < starts[1] < starts[2]
    for start, seen in zip(starts, marks_at, strict=True):
        assert abs(start / 1000 - seen) < 0.6
    assert all(a["layer"] == "prepared" and not a["shared"] for a in new_marks)
    assert page.locator("[data-list] li", has_text="Moments préparés").count() >= 3

    # Escape lets go of the moment just marked, and the video plays on; then a scheme key
    # (2: "Écouter / reformuler") starts a coded segment, and the same key ends it.
    page.keyboard.press("Escape")
    assert page.evaluate(f"{APP}.selected") is None
    assert not page.evaluate(f"{MEDIA}.paused")
    page.keyboard.press("Digit2")
    page.wait_for_timeout(1500)
    page.keyboard.press("Digit2")
    page.keyboard.press("k")  # pause
    _saved(page)
    segments = [
        a
        for a in _stored(page, live_server, recording_id)
        if a["end_ms"] is not None and a["id"] not in {b["id"] for b in before}
    ]
    assert len(segments) == 1
    segment = segments[0]
    assert 1000 <= segment["end_ms"] - segment["start_ms"] <= 2500
    books = page.request.get(f"{live_server.url}/api/v1/studies/{live_server.study_id}/codebooks")
    listen = next(
        c["id"] for b in books.json() for c in b["codes"] if c["label"] == "Écouter / reformuler"
    )
    assert segment["code_ids"] == [listen] and segment["layer"] == "schemes"
    expect(page.locator("[data-panel-title]")).to_contain_text("Segment")

    # Zoom in (Z) and drag the segment's end 80 px to the right.
    for _ in range(4):
        page.keyboard.press("z")
    page.evaluate(f"{APP}.timeline.reveal({segment['start_ms']})")
    page.wait_for_timeout(100)
    canvas = page.locator("[data-timeline-canvas]")
    box = canvas.bounding_box()
    assert box is not None
    x_end = page.evaluate(f"{APP}.timeline.toX({segment['end_ms']})")
    y_row = page.evaluate(
        f"{APP}.timeline.rowY('schemes', {APP}.store.get({APP}.store.byId.get({segment['id']})))"
    )
    page.mouse.move(box["x"] + x_end, box["y"] + y_row)
    page.mouse.down()
    page.mouse.move(box["x"] + x_end + 40, box["y"] + y_row, steps=4)
    page.mouse.move(box["x"] + x_end + 80, box["y"] + y_row, steps=4)
    expected_end = page.evaluate(f"Math.round({APP}.timeline.toMs({x_end + 80}))")
    page.mouse.up()
    _saved(page)
    dragged = page.request.get(f"{live_server.url}/api/v1/annotations/{segment['id']}").json()
    assert abs(dragged["end_ms"] - expected_end) <= 50
    assert dragged["end_ms"] > segment["end_ms"] + 500
    assert dragged["start_ms"] == segment["start_ms"]

    # Undo puts the end back, redo moves it again.
    page.keyboard.press("Control+z")
    _saved(page)
    undone = page.request.get(f"{live_server.url}/api/v1/annotations/{segment['id']}").json()
    assert undone["end_ms"] == segment["end_ms"]
    page.keyboard.press("Control+Shift+z")
    _saved(page)
    redone = page.request.get(f"{live_server.url}/api/v1/annotations/{segment['id']}").json()
    assert redone["end_ms"] == dragged["end_ms"]

    # A note typed in the panel is saved without a button.
    page.locator("[data-panel-note]").fill("il reformule sans vérifier")
    _saved(page)
    noted = page.request.get(f"{live_server.url}/api/v1/annotations/{segment['id']}").json()
    assert noted["note"] == "il reformule sans vérifier"
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=screenshots / "annotator-1366x768.png")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(200)
    page.screenshot(path=screenshots / "annotator-1920x1080.png")
    page.set_viewport_size({"width": 1366, "height": 768})

    # Import the transcript, then click a cue: the player goes there.
    page.get_by_role("tab", name="Transcription").click()
    page.locator("[data-transcript-import] input[type=file]").set_input_files(DEMO_VTT)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-transcript-import] button[type=submit]").click()
    page.wait_for_url("**#transcription")
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    cues = page.locator("[data-transcript] li")
    expect(cues).to_have_count(20)
    cue = cues.nth(5)
    cue_start = int(cue.get_attribute("data-start") or "0")
    cue.click()
    page.wait_for_function(f"Math.abs({MEDIA}.currentTime * 1000 - {cue_start}) < 300")
    expect(cue).to_have_class("current")

    # After the reload (the import's), everything is still there, as saved.
    stored = {a["id"]: a for a in _stored(page, live_server, recording_id)}
    for mark in new_marks:
        assert stored[mark["id"]]["start_ms"] == mark["start_ms"]
    assert stored[segment["id"]]["end_ms"] == dragged["end_ms"]
    page.get_by_role("tab", name="Annotations").click()
    expect(page.locator("[data-list] li", has_text="il reformule sans vérifier")).to_have_count(1)


def test_offline_changes_wait_in_the_browser_and_conflicts_ask(
    page: Page, live_server: LiveServer
) -> None:
    recording_id = _open_recording(page, live_server)
    context = page.context

    # Offline: a mark and its note stay in the browser, say so, and survive a new page.
    context.set_offline(True)
    page.evaluate("document.querySelector('[data-player-media]').currentTime = 100")
    page.locator("[data-timeline-canvas]").focus()
    page.keyboard.press("m")
    page.locator("[data-panel-note]").fill("noté hors ligne")
    page.locator("[data-panel-note]").blur()
    expect(page.locator("[data-save-state]")).to_contain_text("Hors ligne")
    pending = page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('autoconf.pending'))"
    )
    assert pending
    page.close()
    context.set_offline(False)
    again = context.new_page()
    again.goto(f"{live_server.url}/recordings/{recording_id}")
    again.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    _saved(again)
    stored = _stored(again, live_server, recording_id)
    offline = [a for a in stored if a["note"] == "noté hors ligne"]
    assert len(offline) == 1 and offline[0]["start_ms"] == 100_000

    # Someone else changes the note meanwhile: my edit is refused, I choose to keep mine.
    mark_id = offline[0]["id"]
    other = again.request.patch(
        f"{live_server.url}/api/v1/annotations/{mark_id}",
        data={"version": offline[0]["version"], "note": "changé ailleurs"},
        headers=form_headers(again),
    )
    assert other.ok
    row = again.locator("[data-list] li", has_text="noté hors ligne")
    row.click()
    again.locator("[data-panel-note]").fill("ma version")
    again.locator("[data-panel-note]").blur()
    dialog = again.locator("[data-conflict]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-conflict-theirs]")).to_contain_text("changé ailleurs")
    expect(dialog.locator("[data-conflict-mine]")).to_contain_text("ma version")
    dialog.get_by_role("button", name="Garder ma version").click()
    _saved(again)
    final = again.request.get(f"{live_server.url}/api/v1/annotations/{mark_id}").json()
    assert final["note"] == "ma version"


def test_transcript_selection_thumbnails_and_live_codebooks(
    page: Page, live_server: LiveServer
) -> None:
    recording_id = _open_recording(page, live_server)

    # Hovering the ruler shows the frame at that time, from the thumbnail sprites.
    page.wait_for_function(f"{APP}.timeline.thumbs && {APP}.timeline.thumbs.length > 0")
    box = page.locator("[data-timeline-canvas]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 8)
    tip = page.locator("[data-timeline-tip]")
    expect(tip).to_be_visible()
    expect(tip.locator("[data-tip-image]")).to_be_visible()
    assert "sprite-" in (tip.locator("[data-tip-image]").get_attribute("style") or "")

    # Text selected across two cues becomes a segment over their span, quoted as a verbatim.
    page.get_by_role("tab", name="Transcription").click()
    cues = page.locator("[data-transcript] li")
    expect(cues).to_have_count(20)
    first, second = cues.nth(2), cues.nth(3)
    page.evaluate(
        """([a, b]) => {
            const range = document.createRange();
            range.setStart(a.querySelector('.text').firstChild, 0);
            range.setEnd(b.querySelector('.text').firstChild, 12);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
        }""",
        [first.element_handle(), second.element_handle()],
    )
    button = page.locator("[data-selection-segment]")
    expect(button).to_be_visible()
    button.click()
    _saved(page)
    cue_a = page.evaluate(f"{APP}.store.get({first.get_attribute('data-key')!r})")
    cue_b = page.evaluate(f"{APP}.store.get({second.get_attribute('data-key')!r})")
    created = [
        a
        for a in _stored(page, live_server, recording_id)
        if a["verbatims"] and a["start_ms"] == cue_a["start_ms"]
    ]
    assert len(created) == 1
    assert created[0]["end_ms"] == cue_b["end_ms"]
    quote = created[0]["verbatims"][0]
    assert quote["text"].startswith(cue_a["note"][:20]) and quote["ms"] == cue_a["start_ms"]
    assert cue_a["speaker"] in quote["speaker"]

    # A code renamed and given a key in another tab shows here without a reload.
    books = page.request.get(f"{live_server.url}/api/v1/studies/{live_server.study_id}/codebooks")
    show = next(c for b in books.json() for c in b["codes"] if c["label"] == "Montrer / faire avec")
    other = page.context.new_page()
    other.goto(f"{live_server.url}/studies/{live_server.study_id}")
    changed = other.evaluate(
        """async ([id, study]) => {
            const response = await fetch(`/api/v1/codes/${id}`, {
                method: 'PATCH', credentials: 'same-origin',
                headers: {
                    'Content-Type': 'application/json',
                    'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content,
                },
                body: JSON.stringify({label: 'Montrer / faire faire', hotkey: 'q'}),
            });
            new BroadcastChannel('autoconf.codebooks').postMessage({study_id: study});
            return response.status;
        }""",
        [show["id"], live_server.study_id],
    )
    assert changed == 200
    page.bring_to_front()
    page.get_by_role("tab", name="Annotations").click()
    row = page.locator("[data-list] li", has_text="Écouter / reformuler").first
    row.click()
    expect(page.locator("[data-panel-codes]")).to_contain_text("Montrer / faire faire")
    page.locator("[data-timeline-canvas]").focus()
    page.keyboard.press("q")  # paused: the selected segment takes the code
    _saved(page)
    expect(row).to_contain_text("Montrer / faire faire")
    other.close()


def test_lost_answers_refusals_and_stale_replays(page: Page, live_server: LiveServer) -> None:
    recording_id = _open_recording(page, live_server)
    canvas = page.locator("[data-timeline-canvas]")

    # The server stores a mark but its answer is lost: the retry does not make a second one.
    lost = {"count": 0}

    def drop_first_answer(route: Any) -> None:
        if route.request.method == "POST" and lost["count"] == 0:
            lost["count"] += 1
            route.fetch()  # reaches the server, which stores it
            route.abort()
        else:
            route.continue_()

    page.route(f"**/api/v1/recordings/{recording_id}/annotations", drop_first_answer)
    page.evaluate(f"{MEDIA}.currentTime = 70")
    page.get_by_label("Partager ce moment avec l'équipe").focus()  # a checkbox, not a text field
    page.keyboard.press("m")
    _saved(page)
    page.unroute(f"**/api/v1/recordings/{recording_id}/annotations")
    at_70 = [a for a in _stored(page, live_server, recording_id) if a["start_ms"] == 70_000]
    assert lost["count"] == 1 and len(at_70) == 1

    # A change the server refuses is said, and the screen goes back to what is stored.
    page.locator('[data-time-input="start_ms"]').fill("9:00")
    page.locator('[data-time-input="start_ms"]').press("Tab")
    state = page.locator("[data-save-state]")
    expect(state).to_contain_text("Modification refusée")
    expect(state).to_contain_text("durée")
    expect(page.locator('[data-time-input="start_ms"]')).to_have_value("1’10")
    page.wait_for_timeout(1200)
    expect(state).to_contain_text("Modification refusée")  # not "saved" a moment later

    # Offline, I change the note; a colleague changes it too; back online, my change is not
    # written over theirs: the conflict is asked.
    context = page.context
    context.set_offline(True)
    canvas.focus()
    page.locator("[data-panel-note]").fill("ma note hors ligne")
    page.locator("[data-panel-note]").blur()
    expect(state).to_contain_text("Hors ligne")
    page.close()
    context.set_offline(False)
    colleague = context.request.patch(
        f"{live_server.url}/api/v1/annotations/{at_70[0]['id']}",
        data={"version": at_70[0]["version"], "note": "la note d'un collègue"},
        headers=form_headers(context),
    )
    assert colleague.ok
    again = context.new_page()
    again.goto(f"{live_server.url}/recordings/{recording_id}")
    dialog = again.locator("[data-conflict]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-conflict-theirs]")).to_contain_text("la note d'un collègue")
    stored = again.request.get(f"{live_server.url}/api/v1/annotations/{at_70[0]['id']}").json()
    assert stored["note"] == "la note d'un collègue"
    count = len(_stored(again, live_server, recording_id))
    again.keyboard.press("m")  # the dialog has the keyboard: no mark behind it
    dialog.get_by_role("button", name="Prendre l'autre version").focus()
    again.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    _saved(again)
    after = _stored(again, live_server, recording_id)
    assert len([a for a in after if a["note"] == "la note d'un collègue"]) == 1
    assert len(after) == count
    assert not again.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('autoconf.pending'))"
    )


def test_two_tabs_keep_their_own_waiting_changes(page: Page, live_server: LiveServer) -> None:
    recording_id = _open_recording(page, live_server)
    page.route("**/api/v1/annotations/**", lambda route: route.abort())
    page.route(f"**/api/v1/recordings/{recording_id}/annotations", lambda route: route.abort())
    page.evaluate(f"{MEDIA}.currentTime = 80")
    page.locator("[data-timeline-canvas]").focus()
    page.keyboard.press("m")
    expect(page.locator("[data-save-state]")).to_contain_text("Hors ligne")
    other = page.context.new_page()
    other.goto(f"{live_server.url}/recordings/{recording_id}")
    other.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    other.evaluate(f"{MEDIA}.currentTime = 90")
    other.locator("[data-timeline-canvas]").focus()
    other.keyboard.press("m")
    _saved(other)
    # The other tab saved and emptied its own queue, not this one's.
    assert page.evaluate(f"localStorage.getItem({APP}.store.tabKey)")
    page.unroute("**/api/v1/annotations/**")
    page.unroute(f"**/api/v1/recordings/{recording_id}/annotations")
    page.evaluate(f"{APP}.store._kick(true)")
    _saved(page)
    # (the demo's stops layer has a stop at 1'20 of its own)
    starts = [
        a["start_ms"] for a in _stored(page, live_server, recording_id) if a["layer"] != "stops"
    ]
    assert starts.count(80_000) == 1 and starts.count(90_000) == 1


def test_what_is_typed_or_undone_while_a_lost_create_retries(
    page: Page, live_server: LiveServer
) -> None:
    recording_id = _open_recording(page, live_server)
    url = f"**/api/v1/recordings/{recording_id}/annotations"
    lost = {"count": 0}

    def lose_answers(route: Any) -> None:
        if route.request.method == "POST" and lost["count"] < 2:
            lost["count"] += 1
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route(url, lose_answers)
    canvas = page.locator("[data-timeline-canvas]")

    # A note typed while the mark's creation waits for its retry reaches the server.
    page.evaluate(f"{MEDIA}.currentTime = 101")
    canvas.focus()
    page.keyboard.press("m")
    page.locator("[data-panel-note]").fill("tapé pendant la reprise")
    page.locator("[data-panel-note]").blur()

    # A mark undone while its creation waits is deleted on the server too.
    page.evaluate(f"{MEDIA}.currentTime = 111")
    canvas.focus()
    page.keyboard.press("m")
    page.wait_for_function(f"{APP}.store.all().some((a) => a.start_ms === 111000)")
    page.keyboard.press("Control+z")
    _saved(page)
    page.unroute(url)
    assert lost["count"] == 2
    stored = _stored(page, live_server, recording_id)
    at_101 = [a for a in stored if a["start_ms"] == 101_000]
    assert len(at_101) == 1 and at_101[0]["note"] == "tapé pendant la reprise"
    assert not [a for a in stored if a["start_ms"] == 111_000]
    # After a reload, one of each, as stored.
    page.reload()
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    listed = page.evaluate(f"{APP}.store.all().filter((a) => a.start_ms === 101000).length")
    assert listed == 1


def test_escape_never_pauses_and_a_code_key_after_m_codes_the_moment(
    page: Page, live_server: LiveServer, screenshots: Path
) -> None:
    recording_id = _open_recording(page, live_server)
    books = page.request.get(f"{live_server.url}/api/v1/studies/{live_server.study_id}/codebooks")
    present = next(
        c["id"] for b in books.json() for c in b["codes"] if c["label"] == "Se présenter"
    )
    page.evaluate(f"{MEDIA}.muted = true; {MEDIA}.currentTime = 20")
    canvas = page.locator("[data-timeline-canvas]")
    canvas.focus()
    page.keyboard.press("k")
    page.wait_for_function(f"!{MEDIA}.paused")

    # While playing, M then a scheme key (1: "Se présenter"): the moment just marked takes
    # the code; no segment starts.
    page.keyboard.press("m")
    mark_key = page.evaluate(f"{APP}.selected")
    page.keyboard.press("Digit1")
    assert page.evaluate(f"{APP}.open") is None
    assert page.evaluate(f"{APP}.store.get({mark_key!r}).code_ids") == [present]

    # Escape leaves the note being typed, then lets go of the moment; I starts a segment and
    # Escape abandons it. The video plays on all along.
    note = page.locator("[data-panel-note]")
    note.click()
    page.keyboard.type("se présente")
    page.keyboard.press("Escape")
    expect(note).not_to_be_focused()
    assert page.evaluate(f"{APP}.selected") == mark_key
    page.keyboard.press("Escape")
    assert page.evaluate(f"{APP}.selected") is None
    page.keyboard.press("i")
    assert page.evaluate(f"{APP}.open") is not None
    page.keyboard.press("Escape")
    assert page.evaluate(f"{APP}.open") is None
    expect(page.locator("[data-toast]")).to_contain_text("Segment abandonné")
    assert not page.evaluate(f"{MEDIA}.paused")
    page.keyboard.press("k")
    _saved(page)
    marked = [a for a in _stored(page, live_server, recording_id) if a["note"] == "se présente"]
    assert len(marked) == 1
    assert marked[0]["end_ms"] is None and marked[0]["code_ids"] == [present]

    # A label too long for its segment is written beside it, whole on hover.
    page.evaluate(f"{APP}.timeline.fit()")
    short = page.evaluate(
        f"""(() => {{
            const t = {APP}.timeline;
            t.ctx.font = "12px system-ui, sans-serif";
            const room = (a) => t.toX(a.end_ms) - t.toX(a.start_ms) - 8;
            const item = {APP}.store.all().find((a) => a.layer === "schemes" && a.end_ms != null
                && t.ctx.measureText({APP}.labelOf(a)).width > room(a));
            return item && {{key: item.key, label: {APP}.labelOf(item),
                x: (t.toX(item.start_ms) + t.toX(item.end_ms)) / 2, y: t.rowY("schemes", item)}};
        }})()"""
    )
    assert short is not None
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + short["x"], box["y"] + short["y"])
    tip = page.locator("[data-timeline-item-tip]")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(short["label"])
    page.screenshot(path=screenshots / "annotator-label-tip.png")
    page.mouse.move(box["x"] + 5, box["y"] - 30)
    expect(tip).to_be_hidden()


def _interview_of(page: Page, server: LiveServer) -> int:
    interviews = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/interviews")
    return int(interviews.json()[0]["id"])


def _report_rows(page: Page, server: LiveServer) -> list[dict[str, Any]]:
    interview = _interview_of(page, server)
    report = page.request.get(f"{server.url}/api/v1/interviews/{interview}/report")
    assert report.ok, report.text()
    rows: list[dict[str, Any]] = report.json()["rows"]
    return rows


def test_undoing_a_delete_gives_the_annotation_back_with_its_links(
    page: Page, live_server: LiveServer
) -> None:
    recording_id = _open_recording(page, live_server)
    canvas = page.locator("[data-timeline-canvas]")
    answered = {row["position_ms"]: row["prepared"] for row in _report_rows(page, live_server)}
    assert (answered[41_000] or "").startswith("0’34 — Elle reformule")

    # The prepared moment a stop answered: deleted, the stop answers nothing; undone, the
    # moment is back as it was (note, code, private) and the stop answers it again.
    before = next(a for a in _stored(page, live_server, recording_id) if a["start_ms"] == 34_000)
    page.locator("[data-list] li.layer-prepared", has_text="Elle reformule sans vérifier").click()
    canvas.focus()
    page.keyboard.press("Delete")
    _saved(page)
    rows = {row["position_ms"]: row["prepared"] for row in _report_rows(page, live_server)}
    assert rows[41_000] is None
    page.keyboard.press("Control+z")
    _saved(page)
    rows = {row["position_ms"]: row["prepared"] for row in _report_rows(page, live_server)}
    assert rows[41_000] == answered[41_000]
    back = next(
        a
        for a in _stored(page, live_server, recording_id)
        if a["start_ms"] == 34_000 and a["layer"] == "prepared"
    )
    for name in ("note", "code_ids", "shared", "shown_to_counsellor", "author_id"):
        assert back[name] == before[name], name

    # A stop of a live session (without comments: one with comments is not deleted here),
    # deleted and undone: a stop of that session again, as it was, answering its moment.
    api = live_server.url + "/api/v1"
    live = page.request.post(f"{api}/recordings/{recording_id}/live", headers=form_headers(page))
    assert live.ok, live.text()
    live_id = live.json()["id"]
    made = page.request.post(
        f"{api}/live/{live_id}/stops", data={"position_ms": 114_000}, headers=form_headers(page)
    )
    assert made.ok, made.text()
    assert page.request.post(f"{api}/live/{live_id}/end", headers=form_headers(page)).ok
    stop = made.json()
    assert stop["prepared_id"] is not None and stop["role"] == "researcher"
    page.reload()
    page.wait_for_function("document.documentElement.dataset.annotatorReady === '1'")
    page.evaluate(f"{APP}.select({APP}.store.byId.get({stop['id']}))")
    canvas.focus()
    page.keyboard.press("Delete")
    _saved(page)
    assert page.request.get(f"{api}/live/{live_id}/log").json()["stops"] == []
    page.keyboard.press("Control+z")
    _saved(page)
    [again] = page.request.get(f"{api}/live/{live_id}/log").json()["stops"]
    assert again["id"] != stop["id"]
    for name in ("position_ms", "role", "author_id", "stopped_at", "prepared_id"):
        assert again[name] == stop[name], name
    page.goto(f"{live_server.url}/interviews/{_interview_of(page, live_server)}/report")
    expect(page.get_by_text("Répond au moment préparé 0’34")).to_be_visible()
