"""SRT files imported as a recording's transcript: their speakers kept (voices, or the labels
of a labelled file), old encodings read, unreadable lines refused with their number."""

import html
from pathlib import Path

from fastapi.testclient import TestClient

from tests import factories

SUBTITLES = Path(__file__).parents[1] / "data" / "subtitles"


def send(client: TestClient, recording_id: int, name: str, content: bytes | None = None) -> object:
    content = (SUBTITLES / name).read_bytes() if content is None else content
    return client.post(
        f"/api/v1/recordings/{recording_id}/transcript",
        files={"file": (name, content, "application/x-subrip")},
    )


def test_srt_speakers_come_back_as_webvtt_voices(rclient: TestClient, recording: dict) -> None:
    rid = recording["id"]
    factories.consent_all(rclient, rid)  # the transcript's export needs it
    imported = send(rclient, rid, "windows-1252.srt")
    assert imported.status_code == 200 and imported.json() == {"cues": 2}
    cues = rclient.get(factories.annotations_url(recording)).json()
    assert [(c["speaker"], c["note"]) for c in cues] == [
        ("Conseillère", "Vous êtes arrivé à l’heure, ça c’est bien."),
        ("Bénéficiaire", "Le cœur du problème : 1 500 € par mois, « à peu près »."),
    ]
    exported = rclient.get(f"/api/v1/recordings/{rid}/transcript.vtt").text
    assert "<v Conseillère>Vous êtes arrivé" in exported

    assert send(rclient, rid, "labels.srt").json() == {"cues": 7}
    speakers = [a["speaker"] for a in rclient.get(factories.annotations_url(recording)).json()]
    assert speakers == [
        "CONSEILLÈRE",
        "BÉNÉFICIAIRE",
        "CONSEILLÈRE",
        None,
        "BÉNÉFICIAIRE",
        None,
        None,
    ]


def test_an_unreadable_line_is_named_and_nothing_is_replaced(
    rclient: TestClient, recording: dict
) -> None:
    rid = recording["id"]
    factories.consent_all(rclient, rid)  # the transcript is listed with them
    assert send(rclient, rid, "voices.srt").status_code == 200
    refused = send(rclient, rid, "bad-timing.srt")
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("« bad-timing.srt », ligne 6 : ")
    notes = [a["note"] for a in rclient.get(factories.annotations_url(recording)).json()]
    assert notes[0] == "Bonjour, asseyez-vous."  # the previous transcript is still there
    # The page's form says it beside the form.
    form = rclient.post(
        f"/recordings/{rid}/transcript",
        files={"file": ("unreadable.srt", (SUBTITLES / "unreadable.srt").read_bytes())},
    )
    assert form.status_code == 422
    assert "« unreadable.srt », ligne 7 : des caractères illisibles" in html.unescape(form.text)
