"""In Chromium: a researcher transcribes the demo interview's own recording from its page
with a real model (Whisper base, tests/whisper.py), follows the progress without reloading,
finds the draft waiting, validates it, and the transcript panel then holds its cues. Then
the draft corrected beside the player: typed text saved as one types, oTranscribe's keys,
a cue cut at the cursor and joined again, speakers swapped, a clash with another window,
and the validation of what was typed."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from autoconf.db import make_engine, session_scope
from autoconf.models import Recording
from autoconf.transcribe.drafts import replace_draft
from tests.api.test_transcription_drafts import TURNS
from tests.browser.conftest import LiveServer, copy_of, form_headers
from tests.browser.test_pages import _login
from tests.support import serve, settings_for
from tests.whisper import base_model


@pytest.fixture
def transcribing_server(
    tmp_path: Path, demo_folder: tuple[Path, dict[str, str]]
) -> Iterator[LiveServer]:
    """The demo on a server whose model is Whisper base."""
    lines = demo_folder[1]
    env = {"AUTOCONF_TRANSCRIBE_MODEL": str(base_model()), "AUTOCONF_TRANSCRIBE_THREADS": "2"}
    with serve(copy_of(demo_folder, tmp_path), env) as url:
        yield LiveServer(
            url, lines["Identifiant"], lines["Mot de passe"], int(lines["Étude"].rsplit("/")[-1])
        )


def test_a_recording_is_transcribed_then_the_draft_validated_from_its_page(
    page: Page, transcribing_server: LiveServer
) -> None:
    server = transcribing_server
    _login(page, server)
    listed = page.request.get(f"{server.url}/api/v1/studies/{server.study_id}/recordings").json()
    [interview] = [r for r in listed if r["category"] == "autoconfrontation"]
    page.goto(f"{server.url}/recordings/{interview['id']}#transcription")
    card = page.locator("#transcription-auto")
    expect(card.get_by_role("heading", name="Transcription automatique")).to_be_visible()
    card.get_by_role("button", name="Transcrire automatiquement").click()

    # The page follows the job by itself, then shows the draft once it is done.
    expect(card.locator("[data-progress-stage]")).to_be_visible(timeout=15_000)
    expect(card.get_by_text("répliques à corriger")).to_be_visible(timeout=180_000)
    summary = card.locator("[data-draft-summary]")
    expect(summary.locator(".chip.draft")).to_have_text("Brouillon")
    expect(summary).to_contain_text("Chercheur, Conseillère")

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Valider le brouillon").click()
    expect(page.locator("[data-draft-summary]")).to_have_count(0)
    page.get_by_role("tab", name="Transcription").click()
    cues = page.locator("[data-transcript] li[data-key]")
    expect(cues.first).to_be_visible()
    assert cues.count() >= 4
    state = page.request.get(f"{server.url}/api/v1/recordings/{interview['id']}/draft").json()
    assert state["cues"] == []


@pytest.fixture
def draft_server(
    tmp_path: Path, demo_folder: tuple[Path, dict[str, str]]
) -> Iterator[tuple[LiveServer, int]]:
    """The demo, its session's recording holding a draft as the job leaves one (no model
    needed); the server and that recording."""
    lines = demo_folder[1]
    data = copy_of(demo_folder, tmp_path)
    engine = make_engine(settings_for(data).effective_database_url)
    try:
        with session_scope(engine) as session:
            rid = session.exec(select(Recording.id).where(Recording.category == "session")).one()
            replace_draft(session, rid, TURNS)
    finally:
        engine.dispose()
    with serve(data) as url:
        server = LiveServer(
            url, lines["Identifiant"], lines["Mot de passe"], int(lines["Étude"].rsplit("/")[-1])
        )
        yield server, rid


def test_the_draft_is_corrected_beside_the_player_then_validated(
    page: Page, draft_server: tuple[LiveServer, int], screenshots: Path
) -> None:
    server, rid = draft_server
    api = f"{server.url}/api/v1/recordings/{rid}/draft"
    _login(page, server)
    page.goto(f"{server.url}/recordings/{rid}#transcription")
    editor = page.locator("[data-draft-editor]")
    cues = editor.locator("li[data-cue]")
    expect(cues).to_have_count(3)
    expect(page.locator("[data-draft-summary]")).to_contain_text("3 répliques à corriger")
    first = cues.nth(0).locator("textarea")
    expect(first).to_have_value("Bonjour monsieur. Qu'est-ce qui vous amène ?")
    expect(cues.nth(0).locator("input[data-speaker]")).to_have_value("Conseillère")
    page.screenshot(path=str(screenshots / "draft-editor-opened.png"))

    # Typed text is saved as one types.
    second = cues.nth(1).locator("textarea")
    second.fill("Je suis très fatigué.")
    expect(editor.locator("[data-draft-status]")).to_have_text("Enregistré.")
    stored = page.request.get(api).json()["cues"]
    assert stored[1]["text"] == "Je suis très fatigué."
    # An empty cue is refused under it, the stored text kept; typing again mends it.
    second.fill("   ")
    second.blur()
    expect(cues.nth(1).locator(".error")).to_contain_text("ne peut pas être vide")
    assert page.request.get(api).json()["cues"][1]["text"] == "Je suis très fatigué."
    second.fill("Je suis très fatigué.")
    second.blur()
    expect(cues.nth(1).locator(".error")).to_be_hidden()

    # oTranscribe's keys while typing: Escape plays and pauses, F3 goes back 2 s, F1 slows.
    media = page.locator("[data-player-media]")
    second.focus()
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('[data-player-media]').paused")
    expect(second).to_be_focused()
    page.keyboard.press("Escape")
    page.wait_for_function("document.querySelector('[data-player-media]').paused")
    media.evaluate("m => { m.currentTime = 10; }")
    page.keyboard.press("F3")
    position = media.evaluate("m => m.currentTime")
    assert 7.5 <= position <= 8.5, position
    page.keyboard.press("F1")
    assert media.evaluate("m => m.playbackRate") == 0.75
    page.keyboard.press("F2")
    assert media.evaluate("m => m.playbackRate") == 1

    # Ctrl+Enter cuts the first cue at the cursor; the second part starts at its first
    # word's time and gets the cursor.
    first.focus()
    first.evaluate("t => t.setSelectionRange(17, 17)")  # after "Bonjour monsieur."
    page.keyboard.press("Control+Enter")
    expect(cues).to_have_count(4)
    expect(cues.nth(0).locator("textarea")).to_have_value("Bonjour monsieur.")
    expect(cues.nth(1).locator("textarea")).to_have_value("Qu'est-ce qui vous amène ?")
    expect(cues.nth(1).locator("textarea")).to_be_focused()
    expect(cues.nth(1).locator("[data-seek]")).to_contain_text("0’02 – 0’04")
    expect(page.locator("[data-draft-count]")).to_have_text("4 répliques à corriger")

    # ... and the two parts are joined again.
    cues.nth(0).get_by_role("button", name="Joindre la suivante").click()
    expect(cues).to_have_count(3)
    expect(cues.nth(0).locator("textarea")).to_have_value(
        "Bonjour monsieur. Qu'est-ce qui vous amène ?"
    )

    # Speakers swapped in one action.
    editor.get_by_role("button", name="Permuter les deux").click()
    expect(cues.nth(0).locator("input[data-speaker]")).to_have_value("Bénéficiaire")
    expect(cues.nth(1).locator("input[data-speaker]")).to_have_value("Conseillère")
    editor.get_by_label("Nouveau nom pour Conseillère").fill("Mme Martin")
    editor.get_by_role("button", name="Renommer").click()
    expect(cues.nth(1).locator("input[data-speaker]")).to_have_value("Mme Martin")
    expect(cues.nth(2).locator("input[data-speaker]")).to_have_value("Mme Martin")
    # One cue's speaker, corrected alone.
    cues.nth(2).locator("input[data-speaker]").fill("M. Durand")
    cues.nth(2).locator("input[data-speaker]").press("Tab")
    expect(editor.locator("[data-draft-status]")).to_have_text("Enregistré.")
    assert [c["speaker"] for c in page.request.get(api).json()["cues"]] == [
        "Bénéficiaire",
        "Mme Martin",
        "M. Durand",
    ]
    expect(editor.get_by_label("Nouveau nom pour M. Durand")).to_be_visible()
    page.screenshot(path=str(screenshots / "draft-editor.png"))

    # Another window changed the third cue: what was typed here stays in view.
    third = page.request.get(api).json()["cues"][2]
    changed = page.request.patch(
        api,
        data={"cue_id": third["id"], "version": third["version"], "text": "Vraiment, oui."},
        headers=form_headers(page),
    )
    assert changed.ok, changed.text()
    cues.nth(2).locator("textarea").fill("Vraiment ? Depuis quand ?")
    cues.nth(2).locator("textarea").blur()
    clash = cues.nth(2).locator(".error")
    expect(clash).to_contain_text("modifiée entre-temps")
    expect(clash).to_contain_text("« Vraiment ? Depuis quand ? »")
    expect(cues.nth(2).locator("textarea")).to_have_value("Vraiment, oui.")

    # The text typed last is sent before the validation.
    cues.nth(0).locator("textarea").fill("Bonjour monsieur ! Qu'est-ce qui vous amène ?")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Valider le brouillon").click()
    expect(page.locator("[data-draft-editor]")).to_have_count(0)
    transcript = page.request.get(f"{server.url}/api/v1/recordings/{rid}/transcript.vtt").text()
    assert "<v Bénéficiaire>Bonjour monsieur ! Qu'est-ce qui vous amène ?" in transcript
    assert "<v Mme Martin>Je suis très fatigué." in transcript
    assert "<v M. Durand>Vraiment, oui." in transcript
    assert page.request.get(api).json()["cues"] == []
