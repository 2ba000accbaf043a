"""In Chromium: a researcher transcribes the demo interview's own recording from its page
with a real model (Whisper base, tests/whisper.py), follows the progress without reloading,
finds the draft waiting, validates it, and the transcript panel then holds its cues."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, copy_of
from tests.browser.test_pages import _login
from tests.support import serve
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
